"""The Gatekeeper dialect: templates compiled once, constraints matched and evaluated per object.

``input.review`` is what the admission webhook would send for a CREATE; ``input.parameters``
are the constraint's (validated) parameters; ``data.inventory`` holds the whole scanned tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.checks.base import CheckLoadError
from gatekeeper.checks.policy.match import MatchError, matches
from gatekeeper.checks.policy.templates import (
    Constraint,
    Template,
    is_constraint,
    is_template,
    load_constraint,
    load_template,
)
from gatekeeper.model import Document
from gatekeeper.rego.engine import Engine, PolicyEvalError, Program
from gatekeeper.rego.modules import PolicyLoadError

USER_INFO = {"username": "gatekeeper-ci", "groups": ["system:authenticated"]}


@dataclass(frozen=True, slots=True)
class Subject:
    """What a constraint is evaluated against: an object and where it lives."""

    obj: dict[str, Any]
    group: str
    version: str
    kind: str
    namespace: str | None
    cluster_scoped: bool

    @property
    def name(self) -> str:
        meta = self.obj.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        return name if isinstance(name, str) else ""


def subject(obj: dict[str, Any], cluster_kinds: set[str]) -> Subject:
    api_version = str(obj.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    kind = str(obj.get("kind", ""))
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    ns = meta.get("namespace") if meta else None
    scoped = kind in cluster_kinds
    return Subject(obj, group, version, kind, ns if isinstance(ns, str) and not scoped else None, scoped)


def review(s: Subject) -> dict[str, Any]:
    """The AdmissionReview request a policy sees as ``input.review``."""
    return {
        "kind": {"group": s.group, "version": s.version, "kind": s.kind},
        "name": s.name,
        "namespace": s.namespace or "",
        "object": s.obj,
        "operation": "CREATE",
        "userInfo": USER_INFO,
    }


@dataclass(slots=True)
class GatekeeperPolicies:
    """Templates, their compiled programs and the constraints of their kinds."""

    templates: dict[str, Template] = field(default_factory=dict)  # by constraint kind
    constraints: list[Constraint] = field(default_factory=list)
    programs: dict[str, Program] = field(default_factory=dict)

    @property
    def rule_count(self) -> int:
        return len(self.templates)

    def unsupported(self) -> list[Template]:
        return [t for t in self.templates.values() if t.cel_only]

    def violations(self, constraint: Constraint, s: Subject,
                   namespaces: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The violation objects a constraint yields for a subject (empty when it does not match)."""
        program = self.programs.get(constraint.kind)
        if program is None:
            return []
        try:
            if not matches(constraint.match, s.obj, s.group, s.kind, s.namespace, s.cluster_scoped, namespaces):
                return []
        except MatchError as exc:
            raise CheckLoadError(f"{constraint.doc.path}: constraint {constraint.kind}/{constraint.name}: "
                                 f"{exc}") from None
        value = program.evaluate({"review": review(s), "parameters": constraint.parameters}).get("violation")
        if value is None:
            return []
        if not isinstance(value, list):
            raise PolicyEvalError(f"template {constraint.template.name}: violation is not a set")
        out = []
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("msg"), str):
                raise PolicyEvalError(f"template {constraint.template.name}: a violation must be an object "
                                      "with a string 'msg'")
            out.append(item)
        return out


def load(documents: Iterable[Document], rego_version: str, engine: Engine,
         inventory: Mapping[str, Any] | None) -> GatekeeperPolicies:
    """Load templates and constraints from policy documents and compile each template once."""
    docs = [d for d in documents if isinstance(d.obj, dict)]
    policies = GatekeeperPolicies()
    for doc in docs:
        if is_template(doc.obj):
            template = load_template(doc, rego_version)
            if template.kind in policies.templates:
                raise CheckLoadError(f"{doc.path}: a second ConstraintTemplate for kind {template.kind}")
            policies.templates[template.kind] = template
    kinds = set(policies.templates)
    for doc in docs:
        obj = doc.obj
        if is_constraint(obj, kinds):
            policies.constraints.append(load_constraint(doc, policies.templates[obj["kind"]]))
        elif str(obj.get("apiVersion", "")).startswith("constraints.gatekeeper.sh/"):
            raise CheckLoadError(f"{doc.path}:{doc.line}: no ConstraintTemplate declares kind {obj.get('kind')!r}")
    compile_templates(policies, engine, inventory)
    return policies


def compile_templates(policies: GatekeeperPolicies, engine: Engine, inventory: Mapping[str, Any] | None,
                      only: Sequence[str] | None = None) -> None:
    """Compile every template with Rego (the inventory is loaded only for templates that read it)."""
    for kind, template in policies.templates.items():
        if template.cel_only or (only is not None and kind not in only):
            continue
        data = {"inventory": inventory} if inventory is not None and template.uses_inventory else {}
        try:
            policies.programs[kind] = engine.compile(template.modules, data,
                                                     {"violation": [*template.package, "violation"]})
        except PolicyLoadError as exc:
            raise CheckLoadError(f"template {template.name}: {exc}") from None
