"""The admission check: ValidatingAdmissionPolicies and their bindings evaluated against the manifests.

Policies, bindings and param objects come from the scanned tree and from policy directories
(``--policy``, ``checks.admission.paths``, or ``policy/``/``policies/`` beside the root). Every
manifest is judged as the API server would judge its CREATE: each binding whose policy matches
it runs (see ``evaluate``), and what the binding's actions say becomes a finding at the object's
line, or at the field the failed expression reads when it reads one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatekeeper import cel
from gatekeeper.catalogue import REPOSITORY_PATH
from gatekeeper.cel.views import Trie, merge_paths, trie
from gatekeeper.checks.admission import policies
from gatekeeper.checks.admission.evaluate import Shared, evaluate
from gatekeeper.checks.admission.matching import (
    MatchError,
    Scope,
    Target,
    by_namespace,
    object_matches,
    rules_match,
    selective,
)
from gatekeeper.checks.admission.seen import Seen
from gatekeeper.checks.base import Check, CheckLoadError, Context
from gatekeeper.checks.policy.redact import for_run
from gatekeeper.model import Finding, Resource, Rule, Severity

_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO
DEFAULT_DIRS = ("policy", "policies")
_KINDS = frozenset((policies.POLICY_KIND, policies.BINDING_KIND))

_POLICY = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: replica-limit
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: [apps]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [deployments]
  validations:
    - expression: object.spec.replicas <= 5
      message: at most 5 replicas
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: replica-limit
spec:
  policyName: replica-limit
  validationActions: [Deny]
---
"""
_DEPLOYMENT = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {n}\n"
               "  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n"
               "    spec:\n      containers: [{{name: web, image: web:1}}]\n")

RULES = {
    r.id: r
    for r in (
        Rule("admission-denied", "admission", _E,
             "A ValidatingAdmissionPolicy's validation fails for the object.",
             "The API server evaluates every ValidatingAdmissionPolicy bound to a request: with the Deny "
             "action the object is rejected at apply time, Warn returns a warning, Audit records it. The "
             "severity follows the binding's validationActions (Deny error, Warn warning, Audit info).",
             "Change the object so the policy's expression holds (the message says what it requires).",
             bad_example=_POLICY + _DEPLOYMENT.format(n=8), good_example=_POLICY + _DEPLOYMENT.format(n=3)),
        Rule("admission-error", "admission", _E,
             "A ValidatingAdmissionPolicy expression cannot be evaluated for the object.",
             "With failurePolicy Fail the API server rejects (or warns, or audits, per the binding's actions) "
             "when an expression errors or exceeds its cost budget; with Ignore it lets the request through "
             "(reported as info).",
             "Fix the expression (guard optional fields with has() or ?.) or the object it reads."),
        Rule("admission-params", "admission", _E,
             "A binding's param object is missing.",
             "A policy with paramKind reads its parameters from the object the binding's paramRef names; "
             "when none is found and parameterNotFoundAction is Deny, every matching request is rejected.",
             "Add the param object to the repository, fix paramRef, or set parameterNotFoundAction: Allow."),
        Rule("admission-unsupported", "admission", _I,
             "A ValidatingAdmissionPolicy expression that cannot be evaluated offline.",
             "Expressions that read the authorizer need what only a live API server has; the gate says so "
             "rather than guess.",
             "Nothing to fix in the object; the policy is evaluated by the API server at apply time."),
        Rule("admission-limit", "admission", _E,
             "A ValidatingAdmissionPolicy expression over the CEL engine's limits.",
             "An expression nested deeper than the engine allows cannot be evaluated, and one whose cost for an "
             "object could pass the per-evaluation budget (1,000,000, charged by string and list sizes and "
             "comprehension steps, as the API server charges it) is stopped before it runs: the API server "
             "would stop it too, so the policy never decides for that object.",
             "Simplify the expression (split it into variables; avoid building strings or lists in loops)."),
        Rule("admission-unbound", "admission", _W,
             "A ValidatingAdmissionPolicyBinding names a policy that is not in the repository.",
             "A binding without its policy does nothing: the check it was meant to enable never runs.",
             "Add the ValidatingAdmissionPolicy, or fix spec.policyName."),
    )
}

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "enabled": {"type": "boolean", "description": "Run this check (default true)."},
        "paths": {"type": "array", "items": {"type": "string"}, REPOSITORY_PATH: True,
                  "description": "Directories with ValidatingAdmissionPolicies, bindings and param objects "
                                 "outside the scanned tree (default: --policy, or policy/ or policies/)."},
    },
}


@dataclass(slots=True)
class _Pair:
    policy: policies.Policy
    binding: policies.Binding
    selective: bool  # matching depends on the object (names, selectors), not only its kind
    by_namespace: bool  # ... only through its namespace (but for Namespace objects): found once per namespace
    paths: tuple[tuple[str, ...], ...] | None  # what the policy reads below ``object``
    matched: dict[tuple[str, str, str | None], bool] = field(default_factory=dict)  # (apiVersion, kind, namespace)


@dataclass(slots=True)
class _Candidates:
    """The bindings whose rules match a kind, and the union of what their policies read."""

    pairs: list[_Pair]
    paths: Trie | None
    reads: frozenset[str]


class AdmissionCheck(Check):
    """Evaluate ValidatingAdmissionPolicies (+ bindings) against the manifests they match."""

    name = "admission"
    summary = "ValidatingAdmissionPolicy and binding evaluation (CEL), as the API server admits a create."
    config_schema = CONFIG_SCHEMA

    def __init__(self) -> None:
        self.pairs: list[_Pair] = []
        self._by_kind: dict[tuple[str, str], _Candidates] = {}
        self.unbound: list[policies.Binding] = []
        self.policies: list[policies.Policy] = []
        self.scope = Scope({}, set(), {})
        self.params: dict[tuple[str, str], list[Resource]] = {}
        self.outside: list[Resource] = []  # policy-directory objects
        self._seen: Seen | None = None  # what policies see of an object (detected secret values redacted)
        self._measured: dict[int, tuple[Resource, tuple[int, bool]]] = {}  # param objects (cel.measure)

    def rules(self) -> Sequence[Rule]:
        return list(RULES.values())

    def _dirs(self, ctx: Context) -> list[Path]:
        section = ctx.check_config(self.name)
        base = ctx.config.base_dir if ctx.config is not None and ctx.config.base_dir else ctx.root
        configured = [Path(p) for p in ctx.options.get("policy", [])] or \
            [Path(p) if Path(p).is_absolute() else base / p for p in section.get("paths", [])]
        for d in configured:
            if not d.exists():
                raise CheckLoadError(f"admission policy directory {d} does not exist")
        if configured:
            return configured
        return [base / d for d in DEFAULT_DIRS if (base / d).is_dir()][:1]

    def _outside(self, ctx: Context) -> list[Resource]:
        from gatekeeper.checks.policy.files import FIXTURE_DIRS, YAML_SUFFIXES, display, walk
        from gatekeeper.sources.files import SourceFile
        from gatekeeper.sources.resources import extract
        from gatekeeper.sources.yamlload import parse

        inside: set[tuple[str, int]] | None = None  # found when a policy directory has a file
        out: list[Resource] = []
        for root in self._dirs(ctx):
            for path in walk(root):
                if path.suffix not in YAML_SUFFIXES or FIXTURE_DIRS & set(path.relative_to(root).parts[:-1]):
                    continue
                try:
                    rel = path.resolve().relative_to(ctx.root.resolve()).as_posix()
                except ValueError:
                    rel = display(path)
                parsed = parse(SourceFile(rel, path.read_bytes()))
                if parsed.findings:
                    raise CheckLoadError(f"{rel}: {parsed.findings[0].message}")
                if inside is None:
                    inside = {(r.path, r.document.index) for r in ctx.resources}
                for doc in parsed.documents:
                    extract(doc)
                    out.extend(r for r in doc.resources if (r.path, r.document.index) not in inside)
        return out

    def prepare(self, ctx: Context) -> None:
        self.outside = self._outside(ctx)
        everything = [*ctx.whole, *self.outside]
        named = [r for r in everything if r.kind in _KINDS]
        found_policies = [r for r in named if policies.is_policy(r)]
        found_bindings = [r for r in named if policies.is_binding(r)]
        if not found_policies and not found_bindings:
            return
        if not cel.available():
            raise CheckLoadError("ValidatingAdmissionPolicies need the cel-expr-python package (Python 3.11 or "
                                 "later)")
        by_name: dict[str, policies.Policy] = {}
        for resource in found_policies:
            policy = policies.read_policy(resource)
            self.policies.append(policy)
            by_name.setdefault(policy.name, policy)
        for resource in found_bindings:
            binding = policies.read_binding(resource)
            bound = by_name.get(binding.policy_name)
            if bound is None:
                self.unbound.append(binding)
            else:
                self.pairs.append(_Pair(bound, binding, selective(bound.match) or selective(binding.match),
                                        by_namespace(bound.match) and by_namespace(binding.match),
                                        bound.object_paths))
        self.scope = Scope.of(everything)
        kinds = {p.param_kind for p in self.policies if p.param_kind is not None}
        param_kinds = {kind for _api_version, kind in kinds}
        for r in everything:
            if r.kind in param_kinds and (r.api_version, r.kind) in kinds:
                self.params.setdefault((r.api_version, r.kind), []).append(r)

    def active(self, ctx: Context) -> str | None:
        if not self.pairs and not self.policies and not self.unbound:
            return "no ValidatingAdmissionPolicy or binding in the tree or a policy directory"
        return None

    def _candidates(self, resource: Resource) -> _Candidates:
        """The bindings whose rules match the resource's kind (all of which follow from its apiVersion
        and kind), found once per kind."""
        key = (resource.api_version, resource.kind)
        found = self._by_kind.get(key)
        if found is None:
            target = Target.of(resource, self.scope)
            pairs = [p for p in self.pairs if rules_match(p.policy.match, target, need_rules=True)
                     and rules_match(p.binding.match, target, need_rules=False)]
            reads = frozenset(v for p in pairs for v in p.policy.reads)
            found = self._by_kind[key] = _Candidates(pairs, trie(merge_paths(p.paths for p in pairs)), reads)
        return found

    def check_resource(self, resource: Resource, ctx: Context) -> Iterable[Finding]:
        if not self.pairs:
            return []
        candidates = self._candidates(resource)
        if not candidates.pairs:
            return []
        target = Target.of(resource, self.scope)
        findings: list[Finding] = []
        shared: Shared | None = None
        for pair in candidates.pairs:
            if pair.selective and not self._matches(pair, target):
                continue
            if shared is None:  # policies see detected secret values redacted, as Rego policies do
                if self._seen is None:
                    self._seen = Seen(for_run(ctx))
                obj, measured = self._seen(resource.obj, candidates.paths)
                shared = Shared.of(target, self.scope, candidates.paths, candidates.reads, obj, measured)
            outcomes = evaluate(pair.policy, pair.binding, target, shared, self.params, self._measured)
            if outcomes:
                findings.extend(self.finding(RULES[o.rule], resource, o.message, o.path, severity=o.severity,
                                             evidence=o.evidence) for o in outcomes)
        return findings

    def _matches(self, pair: _Pair, target: Target) -> bool:
        """The object-dependent part of matching (names, selectors), once per namespace where only the
        namespace counts."""
        key = None
        if pair.by_namespace and not (target.kind == "Namespace" and target.group == ""):
            key = (target.resource.api_version, target.kind, target.namespace)
            found = pair.matched.get(key)
            if found is not None:
                return found
        try:
            found = object_matches(pair.policy.match, target, self.scope) and \
                object_matches(pair.binding.match, target, self.scope)
        except MatchError as exc:
            raise CheckLoadError(f"{pair.binding.resource.path}: {exc}") from None
        if key is not None:
            pair.matched[key] = found
        return found

    def check_all(self, ctx: Context) -> Iterable[Finding]:
        out: list[Finding] = []
        for policy in self.policies:
            for expr in policy.expressions():
                if expr.limit:
                    out.append(self.finding(RULES["admission-limit"], policy.resource,
                                            f"{policies.POLICY_KIND} {policy.name}: {expr.limit}", expr.path,
                                            evidence=expr.source))
        for binding in self.unbound:
            out.append(self.finding(RULES["admission-unbound"], binding.resource,
                                    f"{policies.BINDING_KIND} {binding.name} names policy "
                                    f"{binding.policy_name or '(none)'}, which is not in the repository",
                                    ("spec", "policyName")))
        return out
