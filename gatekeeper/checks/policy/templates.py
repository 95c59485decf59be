"""Gatekeeper ConstraintTemplates and Constraints read from policy directories.

A template gives a constraint kind, a parameters schema and Rego (``spec.targets[0].rego``
+ ``libs``, or ``code[]`` with engine Rego, whose ``source.version: v1`` is honoured).
Templates with only CEL code are kept as unsupported so the run can say so. A constraint's
parameters are validated against its template's schema, and its enforcement action is read
for the CI enforcement point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jsonschema

from gatekeeper.checks.base import CheckLoadError
from gatekeeper.checks.policy.settings import ENFORCEMENT_POINTS
from gatekeeper.model import Document, Severity, format_field
from gatekeeper.rego.modules import Module, PolicyLoadError, load_module

TEMPLATE_API = ("templates.gatekeeper.sh/v1", "templates.gatekeeper.sh/v1beta1", "templates.gatekeeper.sh/v1alpha1")
CONSTRAINT_GROUP = "constraints.gatekeeper.sh"
REVIEW_ROOT = "gatekeeper_review"  # where a template's ``input`` lives in the shared input document
ACTIONS = {"deny": Severity.ERROR, "warn": Severity.WARNING, "dryrun": Severity.INFO}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_SELECTOR = {"type": "object", "properties": {
    "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
    "matchExpressions": {"type": "array", "items": {"type": "object", "required": ["key", "operator"],
                                                    "properties": {"key": {"type": "string"},
                                                                   "operator": {"type": "string"},
                                                                   "values": _STRINGS}}}}}
# The shapes the Constraint CRD admits for spec (the API server rejects anything else)
_SPEC_SCHEMA = {"type": "object", "properties": {
    "match": {"type": "object", "properties": {
        "kinds": {"type": "array", "items": {"type": "object", "properties": {"apiGroups": _STRINGS,
                                                                              "kinds": _STRINGS}}},
        "scope": {"type": "string"}, "namespaces": _STRINGS, "excludedNamespaces": _STRINGS,
        "labelSelector": _SELECTOR, "namespaceSelector": _SELECTOR, "name": {"type": "string"},
        "source": {"type": "string"}}},
    "enforcementAction": {"type": "string"},
    "scopedEnforcementActions": {"type": "array", "items": {"type": "object", "properties": {
        "action": {"type": "string"},
        "enforcementPoints": {"type": "array", "items": {"type": "object"}}}}}}}


@dataclass(slots=True)
class Template:
    """A loaded ConstraintTemplate."""

    name: str
    kind: str
    doc: Document
    modules: list[Module] = field(default_factory=list)
    package: tuple[str, ...] = ()
    schema: dict[str, Any] | None = None
    cel_only: bool = False

    @property
    def uses_inventory(self) -> bool:
        return any("inventory" in m.source for m in self.modules)


@dataclass(slots=True)
class Constraint:
    """A constraint of a loaded template's kind."""

    kind: str
    name: str
    doc: Document
    template: Template
    match: dict[str, Any]
    parameters: dict[str, Any]
    severity: Severity | None  # None: not enforced at the CI enforcement point

    @property
    def rule_id(self) -> str:
        return f"policy/{self.kind}/{self.name}"


def _at(doc: Document, path: tuple[str | int, ...]) -> str:
    return f"{doc.path}:{doc.locate(path)[0]}"


def is_template(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") == "ConstraintTemplate" and obj.get("apiVersion") in TEMPLATE_API


def load_template(doc: Document, rego_version: str) -> Template:
    """Read one ConstraintTemplate document; CheckLoadError names the file and line."""
    obj = doc.obj
    name = (obj.get("metadata") or {}).get("name")
    kind = (((obj.get("spec") or {}).get("crd") or {}).get("spec") or {}).get("names", {}).get("kind")
    if not isinstance(kind, str) or not kind:
        raise CheckLoadError(f"{_at(doc, ('spec', 'crd'))}: ConstraintTemplate has no spec.crd.spec.names.kind")
    if name != kind.lower():
        raise CheckLoadError(f"{_at(doc, ('metadata', 'name'))}: ConstraintTemplate name {name!r} must be the "
                             f"lower-case kind {kind.lower()!r}")
    template = Template(name, kind, doc)
    validation = obj["spec"]["crd"]["spec"].get("validation") or {}
    schema = validation.get("openAPIV3Schema")
    template.schema = schema if isinstance(schema, dict) else None
    targets = obj["spec"].get("targets") or []
    if not targets or not isinstance(targets[0], dict):
        raise CheckLoadError(f"{_at(doc, ('spec',))}: ConstraintTemplate {name} has no spec.targets")
    target = targets[0]
    sources = _rego_sources(doc, target, rego_version)
    if sources is None:
        template.cel_only = True
        return template
    for label, text, version in sources:
        try:
            template.modules.append(load_module(f"{doc.path}:{label}", text, version, REVIEW_ROOT))
        except PolicyLoadError as exc:
            raise CheckLoadError(str(exc)) from None
    template.package = template.modules[0].package
    if "violation" not in template.modules[0].rules:
        raise CheckLoadError(f"{doc.path}: template {name}'s Rego defines no 'violation' rule")
    return template


def _rego_sources(doc: Document, target: dict[str, Any], rego_version: str
                  ) -> list[tuple[str, str, str]] | None:
    """(label, text, version) of the template's Rego module and libs; None when it has only CEL."""
    for i, code in enumerate(target.get("code") or []):
        if isinstance(code, dict) and code.get("engine") == "Rego":
            source = code.get("source") or {}
            version = "v1" if source.get("version") == "v1" else rego_version
            base = f"spec.targets[0].code[{i}].source"
            out = [(f"{base}.rego", str(source.get("rego", "")), version)]
            out.extend((f"{base}.libs[{j}]", str(lib), version) for j, lib in enumerate(source.get("libs") or []))
            return out
    if isinstance(target.get("rego"), str) and target["rego"].strip():
        out = [("spec.targets[0].rego", target["rego"], rego_version)]
        out.extend((f"spec.targets[0].libs[{j}]", str(lib), rego_version)
                   for j, lib in enumerate(target.get("libs") or []))
        return out
    if target.get("code"):
        return None
    raise CheckLoadError(f"{doc.path}: ConstraintTemplate has neither spec.targets[0].rego nor code[]")


def is_constraint(obj: Any, kinds: set[str]) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("apiVersion"), str) \
        and obj["apiVersion"].startswith(CONSTRAINT_GROUP + "/") and obj.get("kind") in kinds


def load_constraint(doc: Document, template: Template) -> Constraint:
    """Read a constraint and validate its parameters against the template schema."""
    obj = doc.obj
    name = (obj.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        raise CheckLoadError(f"{_at(doc, ('metadata',))}: constraint has no metadata.name")
    spec = obj.get("spec") or {}
    shape = next(iter(sorted(jsonschema.Draft7Validator(_SPEC_SCHEMA).iter_errors(_no_nulls(spec)),
                             key=lambda e: list(map(str, e.absolute_path)))), None)
    if shape is not None:
        path = ("spec", *shape.absolute_path)
        raise CheckLoadError(f"{_at(doc, path)}: constraint {obj['kind']}/{name}: {format_field(path)}: "
                             f"{shape.message[:200]}")
    params: Any = spec.get("parameters") if spec.get("parameters") is not None else {}
    if template.schema is not None:
        _validate_parameters(doc, params, template.schema, f"{obj['kind']}/{name}")
    if not isinstance(params, dict):
        raise CheckLoadError(f"{_at(doc, ('spec', 'parameters'))}: constraint parameters must be a mapping")
    return Constraint(obj["kind"], name, doc, template, spec.get("match") or {}, params,
                      _severity(doc, spec))


def _no_nulls(value: Any) -> Any:
    """The API server drops null fields of a CRD object; so does the shape check."""
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    return [_no_nulls(v) for v in value] if isinstance(value, list) else value


def _validate_parameters(doc: Document, params: Any, schema: dict[str, Any], label: str) -> None:
    validator = jsonschema.Draft7Validator(_strip_extensions(schema))
    errors = sorted(validator.iter_errors(params), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        err = errors[0]
        path = ("spec", "parameters", *err.absolute_path)
        where = format_field(tuple(err.absolute_path)) or "(parameters)"
        raise CheckLoadError(f"{_at(doc, path)}: constraint {label}: parameters {where}: {err.message[:200]}")


def _strip_extensions(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_extensions(v) for k, v in schema.items() if not str(k).startswith("x-kubernetes")}
    if isinstance(schema, list):
        return [_strip_extensions(v) for v in schema]
    return schema


def _severity(doc: Document, spec: dict[str, Any]) -> Severity | None:
    action = str(spec.get("enforcementAction") or "deny").lower()
    if action in ACTIONS:
        return ACTIONS[action]
    if action != "scoped":
        raise CheckLoadError(f"{_at(doc, ('spec', 'enforcementAction'))}: unknown enforcementAction {action!r}")
    chosen: Severity | None = None
    for entry in spec.get("scopedEnforcementActions") or []:
        points = {str(p.get("name")) for p in entry.get("enforcementPoints") or [] if isinstance(p, dict)}
        if not points & set(ENFORCEMENT_POINTS):
            continue
        act = str(entry.get("action", "")).lower()
        if act not in ACTIONS:
            raise CheckLoadError(f"{_at(doc, ('spec', 'scopedEnforcementActions'))}: unknown action {act!r}")
        chosen = ACTIONS[act] if chosen is None else max(chosen, ACTIONS[act])
    return chosen
