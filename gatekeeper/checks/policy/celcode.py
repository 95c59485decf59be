"""CEL code in Gatekeeper ConstraintTemplates (``code[].engine: K8sNativeValidation``).

The source block has the shape of a ValidatingAdmissionPolicy's (``matchConditions``,
``variables``, ``validations`` with ``message``/``messageExpression``), so it is compiled and run
by the admission check's machinery. Bindings are Gatekeeper's: ``object`` (the reviewed object),
``oldObject`` (null: the manifest is created), ``params`` (the constraint), ``request``,
``namespaceObject``, and the variables Gatekeeper defines before the template's own:
``variables.params`` (the constraint's ``spec.parameters``) and ``variables.anyObject``.

Which engine runs: a template with CEL code only runs CEL; one with Rego too runs Rego (the
engine every Gatekeeper version evaluates), unless its CEL source sets ``generateVAP: true`` or
the constraint's scoped enforcement actions name the ``vap.k8s.io`` enforcement point: then the
API server enforces the CEL (Gatekeeper generates a ValidatingAdmissionPolicy from it), so the
gate evaluates what the cluster will.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gatekeeper.checks.admission.evaluate import run
from gatekeeper.checks.admission.policies import Policy, read_spec
from gatekeeper.model import FieldPath, Resource

ENGINE = "K8sNativeValidation"
VAP_POINT = "vap.k8s.io"
PRESET = (
    ("params", "!has(params.spec) ? null : !has(params.spec.parameters) ? null : params.spec.parameters"),
    ("anyObject", "has(request.operation) && request.operation == 'DELETE' && object == null ? oldObject : object"),
)


def _first_target(template: dict[str, Any]) -> tuple[dict[str, Any], int] | None:
    spec = template.get("spec")
    targets = spec.get("targets") if isinstance(spec, dict) else None
    if isinstance(targets, list) and targets and isinstance(targets[0], dict):
        return targets[0], 0
    return None


def cel_source(template: dict[str, Any]) -> tuple[dict[str, Any], FieldPath] | None:
    """The K8sNativeValidation source block and its path in the template, if the template has one."""
    found = _first_target(template)
    if found is None:
        return None
    target, index = found
    for i, entry in enumerate(target.get("code") or []):
        if isinstance(entry, dict) and entry.get("engine") == ENGINE and isinstance(entry.get("source"), dict):
            return entry["source"], ("spec", "targets", index, "code", i, "source")
    return None


def has_rego(template: dict[str, Any]) -> bool:
    """True when the template carries Rego (``rego`` or a ``code`` entry with engine Rego)."""
    found = _first_target(template)
    if found is None:
        return False
    target = found[0]
    if isinstance(target.get("rego"), str) and target["rego"].strip():
        return True
    return any(isinstance(e, dict) and e.get("engine") == "Rego" for e in target.get("code") or [])


def _vap_enforced(constraint: dict[str, Any] | None) -> bool:
    spec = constraint.get("spec") if isinstance(constraint, dict) else None
    if not isinstance(spec, dict) or spec.get("enforcementAction") != "scoped":
        return False
    for action in spec.get("scopedEnforcementActions") or []:
        points = action.get("enforcementPoints") if isinstance(action, dict) else None
        if any(isinstance(p, dict) and p.get("name") in (VAP_POINT, "*") for p in points or []):
            return True
    return False


def runs_cel(template: dict[str, Any], constraint: dict[str, Any] | None = None) -> bool:
    """Whether the gate evaluates the template's CEL code (else its Rego) for this constraint."""
    found = cel_source(template)
    if found is None:
        return False
    if not has_rego(template):
        return True
    return found[0].get("generateVAP") is True or _vap_enforced(constraint)


@dataclass(frozen=True, slots=True)
class Violation:
    """One CEL result: a failed validation's message, or an expression that could not be evaluated."""

    message: str
    error: bool
    path: FieldPath  # the object field the expression reads, when it reads one


class CelTemplate:
    """A template's CEL code, compiled once (``CheckLoadError`` naming file and line if it does not)."""

    def __init__(self, resource: Resource) -> None:
        found = cel_source(resource.obj)
        if found is None:
            raise ValueError("the template has no K8sNativeValidation code")
        source, path = found
        self.policy: Policy = read_spec(resource, source, path, PRESET)

    def over_limit(self) -> list[tuple[FieldPath, str]]:
        """(path in the template, why) of expressions over the engine's limits."""
        return [(e.path, e.limit) for e in self.policy.expressions() if e.limit]

    def violations(self, obj: dict[str, Any], constraint: dict[str, Any], *, group: str, version: str,
                   resource_name: str, namespace_object: dict[str, Any] | None = None) -> list[Violation]:
        """The template's CEL results for one object under one constraint."""
        found = obj.get("metadata")
        meta: dict[str, Any] = found if isinstance(found, dict) else {}
        kind = {"group": group, "version": version, "kind": str(obj.get("kind", ""))}
        res = {"group": group, "version": version, "resource": resource_name}
        request = {"kind": kind, "resource": res, "requestKind": kind, "requestResource": res, "subResource": "",
                   "name": str(meta.get("name") or ""), "namespace": str(meta.get("namespace") or ""),
                   "operation": "CREATE", "userInfo": {"username": "", "groups": []}, "dryRun": False}
        base = {"object": obj, "oldObject": None, "params": constraint, "request": request,
                "namespaceObject": namespace_object}
        return [Violation(o.message, o.rule != "admission-denied", o.path) for o in run(self.policy, base)]
