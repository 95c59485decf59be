"""PolicyException (kyverno.io v2, v2beta1, v2alpha1): which policy rules it exempts, for which
resources (a match block and optional conditions), and which podSecurity controls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gatekeeper.kyverno import wildcard
from gatekeeper.kyverno.errors import KyvernoLoadError
from gatekeeper.kyverno.shape import mapping
from gatekeeper.model import Document

API_VERSIONS = ("kyverno.io/v2", "kyverno.io/v2beta1", "kyverno.io/v2alpha1")


def is_exception(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") == "PolicyException" and obj.get("apiVersion") in API_VERSIONS


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

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def covers(self, policy_keys: tuple[str, ...], rule: str, source_rule: str) -> bool:
        """True when it names this policy and rule (auto-generated rules by either name)."""
        for policy_name, rule_names in self.entries:
            if not any(wildcard.match(policy_name, k) for k in policy_keys):
                continue
            if any(wildcard.match(r, rule) or wildcard.match(r, source_rule) for r in rule_names):
                return True
        return False


def load(doc: Document) -> PolicyException:
    obj = doc.obj
    meta = mapping(obj.get("metadata"))
    name = str(meta.get("name") or "")

    def fail(where: tuple[str | int, ...], message: str) -> KyvernoLoadError:
        return KyvernoLoadError(doc.path, doc.locate(where)[0], f"PolicyException {name or '<unnamed>'}: {message}")

    if not name:
        raise fail(("metadata",), "metadata.name is required")
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise fail(("spec",), "spec must be a mapping")
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
