"""PolicyException: which policy rules it exempts, for which resources.

Two kinds share the name. ``kyverno.io`` (v2, v2beta1, v2alpha1) exceptions name ClusterPolicy and
Policy rules and select resources with a match block, optional conditions and podSecurity controls.
``policies.kyverno.io`` (v1alpha1, v1beta1, v1) exceptions name ValidatingPolicies by ``policyRefs``
(name and kind, matched exactly) and select resources with CEL ``matchConditions``, all of which
must hold."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.kyverno import wildcard
from gatekeeper.kyverno.errors import KyvernoLoadError
from gatekeeper.kyverno.shape import mapping
from gatekeeper.model import Document

API_VERSIONS = ("kyverno.io/v2", "kyverno.io/v2beta1", "kyverno.io/v2alpha1")
CEL_API_VERSIONS = ("policies.kyverno.io/v1alpha1", "policies.kyverno.io/v1beta1", "policies.kyverno.io/v1")


def is_exception(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") == "PolicyException" and (
        obj.get("apiVersion") in API_VERSIONS or obj.get("apiVersion") in CEL_API_VERSIONS)


@dataclass(slots=True)
class PolicyException:
    name: str
    namespace: str
    doc: Document
    entries: list[tuple[str, list[str]]]  # (policyName, ruleNames)
    match: dict[str, Any]
    conditions: Any = None
    pod_security: list[dict[str, Any]] = field(default_factory=list)
    spec: dict[str, Any] = field(default_factory=dict)  # as written (what a change to it is judged by)
    # policies.kyverno.io exceptions: the (kind, name) pairs of policyRefs and the CEL matchConditions
    policy_refs: list[tuple[str, str]] = field(default_factory=list)
    match_conditions: list[dict[str, Any]] = field(default_factory=list)
    unsupported: str = ""  # why a CEL exception cannot be honoured offline ("" when it can)

    @property
    def cel(self) -> bool:
        return bool(self.policy_refs)

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def covers(self, policy_keys: tuple[str, ...], rule: str, source_rule: str) -> bool:
        """True when it names this policy and rule (auto-generated rules by either name); a
        ``policies.kyverno.io`` exception names no ClusterPolicy or Policy rule."""
        for policy_name, rule_names in self.entries:
            if not any(wildcard.match(policy_name, k) for k in policy_keys):
                continue
            if any(wildcard.match(r, rule) or wildcard.match(r, source_rule) for r in rule_names):
                return True
        return False


    def names(self, kind: str, name: str) -> bool:
        """A ``policies.kyverno.io`` exception's policyRefs name this policy (name and kind exactly)."""
        return (kind, name) in self.policy_refs


Fail = Callable[[tuple[str | int, ...], str], KyvernoLoadError]


def _header(doc: Document) -> tuple[dict[str, Any], str, dict[str, Any], Fail]:
    """What both kinds of exception need first: metadata, a name, a spec mapping, and the error
    maker naming the file, the line and the exception (KyvernoLoadError when name or spec is amiss)."""
    meta = mapping(doc.obj.get("metadata"))
    name = str(meta.get("name") or "")

    def fail(where: tuple[str | int, ...], message: str) -> KyvernoLoadError:
        return KyvernoLoadError(doc.path, doc.locate(where)[0], f"PolicyException {name or '<unnamed>'}: {message}")

    if not name:
        raise fail(("metadata",), "metadata.name is required")
    spec = doc.obj.get("spec")
    if not isinstance(spec, dict):
        raise fail(("spec",), "spec must be a mapping")
    return meta, name, spec, fail


def load(doc: Document) -> PolicyException:
    if doc.obj.get("apiVersion") in CEL_API_VERSIONS:
        return _load_cel(doc)
    meta, name, spec, fail = _header(doc)
    raw = spec.get("exceptions")
    if not isinstance(raw, list) or not raw:
        raise fail(("spec", "exceptions"), "spec.exceptions must list the policies and rules it exempts")
    entries: list[tuple[str, list[str]]] = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or not isinstance(entry.get("policyName"), str) \
                or not isinstance(entry.get("ruleNames"), list) or not entry["ruleNames"]:
            raise fail(("spec", "exceptions", i), "each exception needs a policyName and a list of ruleNames")
        entries.append((entry["policyName"], [str(r) for r in entry["ruleNames"]]))
    match = spec.get("match")
    if not isinstance(match, dict) or not (match.get("any") or match.get("all")):
        raise fail(("spec", "match"), "spec.match needs an any or all block")
    pod_security = spec.get("podSecurity") or []
    if not isinstance(pod_security, list):
        raise fail(("spec", "podSecurity"), "spec.podSecurity must be a list of controls")
    return PolicyException(name, str(meta.get("namespace") or ""), doc, entries, match, spec.get("conditions"),
                           [p for p in pod_security if isinstance(p, dict)], spec)


def _load_cel(doc: Document) -> PolicyException:
    """A ``policies.kyverno.io`` exception; KyvernoLoadError naming file and line where Kyverno
    would reject it (no policyRefs, a ref without name or kind, a matchCondition that does not
    compile)."""
    from gatekeeper.kyverno import celeval

    meta, name, spec, fail = _header(doc)
    raw = spec.get("policyRefs")
    if not isinstance(raw, list) or not raw:
        raise fail(("spec", "policyRefs"), "spec.policyRefs must name at least one policy")
    refs: list[tuple[str, str]] = []
    for i, ref in enumerate(raw):
        if not isinstance(ref, dict) or not isinstance(ref.get("name"), str) or not ref["name"] \
                or not isinstance(ref.get("kind"), str) or not ref["kind"]:
            raise fail(("spec", "policyRefs", i), "each policyRef needs a name and a kind")
        refs.append((ref["kind"], ref["name"]))
    conditions = spec.get("matchConditions") or []
    if not isinstance(conditions, list):
        raise fail(("spec", "matchConditions"), "spec.matchConditions must be a list")
    sources: list[tuple[tuple[str | int, ...], str]] = []
    for i, cond in enumerate(conditions):
        if not isinstance(cond, dict) or not isinstance(cond.get("expression"), str):
            raise fail(("spec", "matchConditions", i), "each matchCondition needs an expression")
        sources.append((("spec", "matchConditions", i, "expression"), cond["expression"]))
    if celeval.available():
        bad = celeval.check_compiles(sources)
        if bad is not None:
            raise fail(bad[0], f"CEL expression does not compile: {bad[1]}")
    # images / allowedValues do not exempt: they feed the policy's own expressions
    # (exceptions.allowedImages / exceptions.allowedValues), which are not bound offline
    unsupported = ", ".join(k for k in ("images", "allowedValues") if spec.get(k))
    return PolicyException(name, str(meta.get("namespace") or ""), doc,
                           [(f"{kind} {ref}", []) for kind, ref in refs], {}, None, [], spec,
                           policy_refs=refs, match_conditions=[dict(c) for c in conditions],
                           unsupported=unsupported)
