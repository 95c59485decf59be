"""The Gatekeeper dialect: templates compiled once, constraints matched and evaluated per object.

``input.review`` is what the admission webhook would send for a CREATE; ``input.parameters``
are the constraint's (validated) parameters; ``data.inventory`` holds the whole scanned tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.checks.base import CheckLoadError
from gatekeeper.checks.policy.inventory import prune, referenced_kinds
from gatekeeper.checks.policy.match import MatchError, matches
from gatekeeper.checks.policy.templates import (
    REVIEW_ROOT,
    Constraint,
    Template,
    is_constraint,
    is_template,
    load_constraint,
    load_template,
)
from gatekeeper.model import Document
from gatekeeper.rego.engine import RUN_ROOT, PolicyEvalError, Query, RegoEngine, RegoProgram, prepare_input
from gatekeeper.rego.modules import PolicyLoadError

PARAMS_ROOT = "gatekeeper_params"
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
    """Templates, their compiled programs and the constraints of their kinds.

    Each template is compiled once with every constraint of its kind as a guarded query
    (parameters in data); a resource's input is converted once and shared by all templates.
    """

    templates: dict[str, Template] = field(default_factory=dict)  # by constraint kind
    constraints: list[Constraint] = field(default_factory=list)
    programs: dict[str, RegoProgram] = field(default_factory=dict)

    @property
    def rule_count(self) -> int:
        return len(self.templates)

    def unsupported(self) -> list[Template]:
        return [t for t in self.templates.values() if t.cel_only]

    def key(self, constraint: Constraint) -> str:
        return f"c{self.constraints.index(constraint)}"

    def evaluate(self, s: Subject, namespaces: Mapping[str, Mapping[str, Any]],
                 only: Sequence[Constraint] | None = None) -> list[tuple[Constraint, list[dict[str, Any]]]]:
        """(constraint, violations) for every enforced constraint whose match selects the subject."""
        chosen = [c for c in (only if only is not None else self.constraints)
                  if c.severity is not None and c.kind in self.programs and self._matches(c, s, namespaces)]
        if not chosen:
            return []
        keys = {id(c): f"c{i}" for i, c in enumerate(self.constraints)}
        prepared = prepare_input({REVIEW_ROOT: {"review": review(s)},
                                  RUN_ROOT: {keys[id(c)]: True for c in chosen}})
        out = []
        for kind in dict.fromkeys(c.kind for c in chosen):
            values = self.programs[kind].evaluate_prepared(prepared)
            for constraint in (c for c in chosen if c.kind == kind):
                out.append((constraint, _violations(constraint, values.get(keys[id(constraint)]))))
        return out

    @staticmethod
    def _matches(constraint: Constraint, s: Subject, namespaces: Mapping[str, Mapping[str, Any]]) -> bool:
        try:
            return matches(constraint.match, s.obj, s.group, s.kind, s.namespace, s.cluster_scoped, namespaces)
        except MatchError as exc:
            raise CheckLoadError(f"{constraint.doc.path}: constraint {constraint.kind}/{constraint.name}: "
                                 f"{exc}") from None


def _violations(constraint: Constraint, value: Any) -> list[dict[str, Any]]:
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


def load(documents: Iterable[Document], rego_version: str, engine: RegoEngine,
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


def compile_templates(policies: GatekeeperPolicies, engine: RegoEngine, inventory: Mapping[str, Any] | None) -> None:
    """Compile every template with Rego once, with its constraints as guarded queries (the
    inventory is loaded only for templates that read it, pruned to the kinds they name)."""
    for kind, template in policies.templates.items():
        if template.cel_only:
            continue
        data: dict[str, Any] = {}
        if inventory is not None and template.uses_inventory:
            kinds = referenced_kinds(m.source for m in template.modules)
            data["inventory"] = inventory if kinds is None else prune(dict(inventory), kinds)
        queries: dict[str, Query] = {}
        params: dict[str, Any] = {}
        for i, constraint in enumerate(policies.constraints):
            if constraint.kind != kind:
                continue
            key = f"c{i}"
            params[key] = constraint.parameters
            queries[key] = Query((*template.package, "violation"),
                                 (f"{REVIEW_ROOT}.parameters", f"{PARAMS_ROOT}.{key}"), key)
        if not queries:  # no constraint uses it, but broken Rego must still fail the run
            try:
                engine.compile(template.modules, data, {"check": Query((*template.package, "violation"))})
            except PolicyLoadError as exc:
                raise CheckLoadError(f"template {template.name}: {exc}") from None
            continue
        data[PARAMS_ROOT] = params
        try:
            policies.programs[kind] = engine.compile(template.modules, data, queries)
        except PolicyLoadError as exc:
            raise CheckLoadError(f"template {template.name}: {exc}") from None
