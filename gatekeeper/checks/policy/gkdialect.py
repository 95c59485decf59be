"""The Gatekeeper dialect: templates compiled once, constraints matched and evaluated per object.

``input.review`` is what the admission webhook would send for a CREATE; ``input.parameters``
are the constraint's (validated) parameters; ``data.inventory`` holds the whole scanned tree,
built once per run and loaded into the engine once (templates that read it share it). A
template's CEL code (``K8sNativeValidation``) runs instead of its Rego where Gatekeeper would run
it (``celcode.runs_cel``: CEL-only templates, ``generateVAP``, the ``vap.k8s.io`` enforcement
point); its failed validations are violations like Rego's, with the field the expression reads.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gatekeeper.checks.base import CheckLoadError
from gatekeeper.checks.policy.inventory import prune, referenced_kinds
from gatekeeper.checks.policy.match import MatchError, kinds_match, matches
from gatekeeper.checks.policy.redact import MARKER
from gatekeeper.checks.policy.templates import (
    Constraint,
    Template,
    check_constraint_api,
    is_constraint,
    is_template,
    load_constraint,
    load_templates,
)
from gatekeeper.model import Document, FieldPath, Resource
from gatekeeper.rego.boundary import Limits
from gatekeeper.rego.engine import PolicyEvalError, RegorusEngine, RegorusProgram
from gatekeeper.rego.guards import InputGuard, holds, input_guards
from gatekeeper.rego.modules import PolicyLoadError
from gatekeeper.sources.resources import extract

if TYPE_CHECKING:  # celcode runs on the admission check, which imports this package: imported on use
    from gatekeeper.checks.policy.celcode import CelTemplate

_UNSHARED = itertools.count()
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
    api_version = obj.get("apiVersion")
    group, _, version = api_version.rpartition("/") if isinstance(api_version, str) else ("", "", "")
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) else ""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    ns = meta.get("namespace") if meta else None
    scoped = kind in cluster_kinds
    return Subject(obj, group, version, str(kind), ns if isinstance(ns, str) and not scoped else None, scoped)


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


Violations = list[tuple[int, list[dict[str, Any]]]]  # (constraint index, its violations)


@dataclass(slots=True)
class GatekeeperPolicies:
    """Templates, their compiled programs and the constraints of their kinds."""

    templates: dict[str, Template] = field(default_factory=dict)  # by constraint kind
    constraints: list[Constraint] = field(default_factory=list)
    programs: dict[str, RegorusProgram] = field(default_factory=dict)
    cel: dict[str, CelTemplate] = field(default_factory=dict)  # by constraint kind: CEL code that runs
    # constraint kind -> the tests one of which must hold on the input for the template's Rego to
    # report anything (``guards.input_guards``); None: every input is evaluated
    guards: dict[str, tuple[InputGuard, ...] | None] = field(default_factory=dict)
    # unit -> constraint kind -> the program of an inventory-reading template, with that unit's inventory
    scoped: dict[str, dict[str, RegorusProgram]] = field(default_factory=dict)
    # (group, kind) -> the enforced constraints whose ``match.kinds`` admit it (filled as kinds are met)
    _by_kind: dict[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)
    # constraint (by identity) -> whether its template's CEL code runs for it (``uses_cel``)
    _cel_runs: dict[int, tuple[Constraint, bool]] = field(default_factory=dict)
    # deployment units whose programs evaluated since the last ``take_prints`` (only those can have printed)
    _units_used: dict[str, None] = field(default_factory=dict)

    @property
    def rule_count(self) -> int:
        return len(self.templates)

    def unsupported(self) -> list[Template]:
        """Templates with no code the gate runs (neither Rego nor CEL)."""
        return [t for t in self.templates.values() if t.cel_only and t.kind not in self.cel]

    def uses_cel(self, constraint: Constraint) -> bool:
        """Whether the constraint's template runs its CEL code (else its Rego) for this constraint
        (decided once per constraint, after loading: it is asked for every evaluation)."""
        known = self._cel_runs.get(id(constraint))
        if known is None or known[0] is not constraint:
            from gatekeeper.checks.policy.celcode import runs_cel

            runs = constraint.kind in self.cel and (constraint.template.cel_only or
                                                    runs_cel(constraint.template.doc.obj, constraint.doc.obj))
            known = self._cel_runs[id(constraint)] = (constraint, runs)
        return known[1]

    def chosen(self, s: Subject, namespaces: Mapping[str, Mapping[str, Any]],
               only: Sequence[int] | None = None) -> list[int]:
        """Indexes of the enforced constraints whose match selects the subject (those whose kinds
        cannot select it are skipped through an index by group and kind)."""
        key = (s.group, s.kind)
        candidates = self._by_kind.get(key)
        if candidates is None:
            candidates = self._by_kind[key] = tuple(
                i for i, c in enumerate(self.constraints)
                if c.severity is not None and (c.kind in self.programs or c.kind in self.cel)
                and kinds_match(c.match.get("kinds"), *key))
        if only is not None:
            wanted = set(only)
            candidates = tuple(i for i in candidates if i in wanted)
        return [i for i in candidates if self._matches(self.constraints[i], s, namespaces)]

    def reaching(self, chosen: Sequence[int], s: Subject) -> list[int]:
        """The chosen constraints whose code can report on the subject: all but those of Rego
        templates with input guards (``guards.input_guards``) none of which holds on the review.
        ``s`` may hold values the redactor replaces before evaluation (``redact.Redactor``): a
        string guard that fails on it fails on the replaced value too, since a replacement
        always holds a marker; a guard that compares with marker text itself is not used here."""
        out = []
        request: dict[str, Any] | None = None
        for i in chosen:
            constraint = self.constraints[i]
            guards = self.guards.get(constraint.kind)
            if guards is None or self.uses_cel(constraint) or \
                    any(isinstance(v, str) and MARKER in v for _, v in guards):
                out.append(i)
                continue
            if request is None:
                request = review(s)
            if holds(guards, {"review": request, "parameters": constraint.parameters}):
                out.append(i)
        return out

    def evaluate(self, s: Subject, chosen: Sequence[int], mark: Callable[[int], None] | None = None,
                 namespaces: Mapping[str, Mapping[str, Any]] | None = None, scope: str | None = None) -> Violations:
        """(constraint index, violations) for each chosen constraint; ``mark(i)`` before each.
        ``namespaces``: Namespace objects by name (CEL code's ``namespaceObject``); ``scope``: the
        deployment unit of the subject (its inventory is that unit's, see ``scope_inventory``)."""
        if not chosen:
            return []
        request = review(s)
        out: Violations = []
        for i in chosen:
            if mark is not None:
                mark(i)
            constraint = self.constraints[i]
            if self.uses_cel(constraint):
                out.append((i, self._cel_violations(constraint, s, namespaces or {})))
                continue
            program = self.scoped.get(scope or "", {}).get(constraint.kind)
            if program is None:
                program = self.programs[constraint.kind]
            elif scope is not None:
                self._units_used[scope] = None
            input_value = {"review": request, "parameters": constraint.parameters}
            guards = self.guards.get(constraint.kind)
            if guards is not None and not holds(guards, input_value):
                out.append((i, []))  # every body of ``violation`` fails at its first statement
                continue
            values = program.evaluate(input_value)
            out.append((i, _violations(constraint, values.get("violation"))))
        return out

    def _cel_violations(self, constraint: Constraint, s: Subject,
                        namespaces: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
        from gatekeeper.checks.admission.matching import guess_resource

        found = namespaces.get(s.namespace) if s.namespace else None
        results = self.cel[constraint.kind].violations(
            s.obj, constraint.doc.obj, group=s.group, version=s.version, resource_name=guess_resource(s.kind),
            namespace_object=dict(found) if found is not None else None)
        return [{"msg": v.message, "field": _dotted(v.path)} if v.path else {"msg": v.message} for v in results]

    def take_prints(self) -> list[str]:
        """``print()`` output of every program since the last call, in the programs' order (the
        templates', then each deployment unit's copies; only units that evaluated are visited)."""
        units = [u for u in self.scoped if u in self._units_used] if len(self._units_used) > 1 else \
            [u for u in self._units_used if u in self.scoped]
        self._units_used.clear()
        scoped = [p for unit in units for p in self.scoped[unit].values()]
        return [line for p in [*self.programs.values(), *scoped] if p.may_print for line in p.take_prints()]

    @staticmethod
    def _matches(constraint: Constraint, s: Subject, namespaces: Mapping[str, Mapping[str, Any]]) -> bool:
        try:
            return matches(constraint.match, s.obj, s.group, s.kind, s.namespace, s.cluster_scoped, namespaces)
        except MatchError as exc:
            raise CheckLoadError(f"{constraint.doc.path}: constraint {constraint.kind}/{constraint.name}: "
                                 f"{exc}") from None


def _dotted(path: FieldPath) -> str:
    """A field path as ``locate.parse_path`` reads it (``spec.containers[0].image``)."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _violations(constraint: Constraint, value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    name = constraint.template.name
    if not isinstance(value, list):
        raise PolicyEvalError(f"template {name}: violation is not a set")
    out = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("msg"), str):
            got = "null" if item is None else type(item).__name__ if not isinstance(item, dict) else \
                "an object without a string 'msg'"
            raise PolicyEvalError(f"template {name}: rule violation produced {got}; a violation must be an object "
                                  "with a string 'msg'")
        out.append(item)
    return out


Inventory = Mapping[str, Any] | Callable[[frozenset[str] | None], Mapping[str, Any]] | None


def load(documents: Iterable[Document], rego_version: str, engine: RegorusEngine, inventory: Inventory,
         limits: Limits | None = None) -> GatekeeperPolicies:
    """Load templates and constraints from policy documents and compile each template once (their
    Rego is read behind the evaluation boundary, with ``limits``)."""
    docs = [d for d in documents if isinstance(d.obj, dict)]
    policies = GatekeeperPolicies()
    for template in load_templates([d for d in docs if is_template(d.obj)], rego_version, limits):
        doc = template.doc
        if template.kind in policies.templates:
            raise CheckLoadError(f"{doc.path}:{doc.line}: a second ConstraintTemplate for kind {template.kind}")
        policies.templates[template.kind] = template
    kinds = set(policies.templates)
    for doc in docs:
        check_constraint_api(doc, kinds)
        if is_constraint(doc.obj, kinds):
            policies.constraints.append(load_constraint(doc, policies.templates[doc.obj["kind"]]))
    compile_templates(policies, engine, inventory)
    return policies


def compile_templates(policies: GatekeeperPolicies, engine: RegorusEngine, inventory: Inventory) -> None:
    """Compile every template with Rego once, and the CEL code of templates some constraint runs it
    for. Templates that read ``data.inventory`` get it (only the kinds they name, when every
    reference names its kind); the inventory is built only when a template reads it (``inventory``
    may be a function that builds it, given the kinds those templates read, None for all), and the
    same value is loaded into the engine once and shared. CEL code that does not compile is a
    ``CheckLoadError`` naming file and line."""
    from gatekeeper import cel
    from gatekeeper.checks.policy.celcode import CelTemplate, cel_source, runs_cel

    for kind, template in policies.templates.items():
        if not cel.available():  # no CEL engine (Python 3.10): CEL-only templates are reported unsupported
            break
        if cel_source(template.doc.obj) is not None and (template.cel_only or any(
                c.kind == kind and runs_cel(template.doc.obj, c.doc.obj) for c in policies.constraints)):
            policies.cel[kind] = CelTemplate(_resource(template.doc))
    shared: dict[frozenset[str] | None, Mapping[str, Any]] = {}
    if callable(inventory) and any(t.uses_inventory for t in policies.templates.values() if not t.cel_only):
        inventory = inventory(inventory_kinds(policies))
    for kind, template in policies.templates.items():
        if template.cel_only:
            continue
        data: Mapping[str, Any] = {}
        if inventory is not None and not callable(inventory) and template.uses_inventory:
            kinds = referenced_kinds(m.source for m in template.modules)
            key = None if kinds is None else frozenset(kinds)
            if key not in shared:
                shared[key] = {"inventory": inventory if kinds is None else prune(dict(inventory), kinds)}
            data = shared[key]
        try:
            policies.programs[kind] = engine.compile(template.modules, data,
                                                     {"violation": [*template.package, "violation"]})
        except PolicyLoadError as exc:
            raise CheckLoadError(f"template {template.name}: {exc}") from None
        policies.guards[kind] = input_guards(template.modules, template.package, "violation")


def inventory_kinds(policies: GatekeeperPolicies) -> frozenset[str] | None:
    """The kinds the inventory-reading Rego templates read (``referenced_kinds``), or None when
    some template may read any kind: an inventory of only these kinds gives them what a whole one
    does (each template gets its own kinds of it)."""
    kinds: set[str] = set()
    for template in policies.templates.values():
        if template.uses_inventory and not template.cel_only:
            found = referenced_kinds(m.source for m in template.modules)
            if found is None:
                return None
            kinds.update(found)
    return frozenset(kinds)


def scope_inventory(policies: GatekeeperPolicies, engine: RegorusEngine,
                    inventories: Callable[[frozenset[str] | None], Mapping[str, Mapping[str, Any]]]) -> None:
    """Compile each inventory-reading template once more per deployment unit, with the inventory of
    what that unit applies (``inventories(kinds)`` is only called when such a template exists, with
    the kinds those templates read, None for all). Units
    whose inventory, restricted to the kinds the template reads, is the same (often: none of those
    kinds) share one compiled program: the same modules over the same data are the same program."""
    referential = {kind: t for kind, t in policies.templates.items() if t.uses_inventory and not t.cel_only}
    if not referential:
        return
    kinds = {kind: referenced_kinds(m.source for m in t.modules) for kind, t in referential.items()}
    compiled: dict[tuple[str, str], RegorusProgram] = {}
    for unit, inventory in inventories(inventory_kinds(policies)).items():
        for kind, template in referential.items():
            wanted = kinds[kind]
            data = {"inventory": inventory if wanted is None else prune(dict(inventory), wanted)}
            key = (kind, _canonical(data))
            program = compiled.get(key)
            if program is None:
                try:
                    program = compiled[key] = engine.compile(
                        template.modules, data, {"violation": [*template.package, "violation"]})
                except PolicyLoadError as exc:
                    raise CheckLoadError(f"template {template.name}: {exc}") from None
            policies.scoped.setdefault(unit, {})[kind] = program


def _canonical(data: Mapping[str, Any]) -> str:
    """A text equal only for equal data (keys sorted); data that is not plain JSON gets a text of
    its own (no sharing), and loading it fails as it would have."""
    try:
        return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return f"<unshared {next(_UNSHARED)}>"


def _resource(doc: Document) -> Resource:
    """The template's resource (its document's first), for locating its CEL code."""
    if not doc.resources:
        extract(doc)
    return doc.resources[0]
