"""ValidatingPolicy (policies.kyverno.io): CEL validations with matchConstraints, matchConditions,
variables and validationActions, loaded into the same Policy/Rule model as ClusterPolicies (one rule,
``validations``) so findings, verify and the notes treat both alike."""

from __future__ import annotations

from typing import Any

from gatekeeper.kyverno import celeval
from gatekeeper.kyverno.policy import Policy, Rule, open_document
from gatekeeper.kyverno.shape import mapping
from gatekeeper.model import Document, FieldPath

API_VERSIONS = ("policies.kyverno.io/v1alpha1", "policies.kyverno.io/v1beta1", "policies.kyverno.io/v1")
KIND = "ValidatingPolicy"
RULE = "validations"
ACTIONS = ("Deny", "Audit", "Warn")


def is_validating_policy(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") == KIND and obj.get("apiVersion") in API_VERSIONS


def load(doc: Document, base: FieldPath = ()) -> Policy:
    """Read and check a ValidatingPolicy; KyvernoLoadError naming file and line when Kyverno would
    reject it (no validations, no matchConstraints, an expression that does not compile)."""
    _obj, meta, name, spec, fail = open_document(doc, base)
    constraints = spec.get("matchConstraints")
    if not isinstance(constraints, dict) or not isinstance(constraints.get("resourceRules"), list) \
            or not constraints["resourceRules"]:
        raise fail(("spec", "matchConstraints"), "matchConstraints.resourceRules must list the resources it applies to")
    validations = spec.get("validations")
    if not isinstance(validations, list) or not validations:
        raise fail(("spec", "validations"), "validations must be a non-empty list")
    actions = spec.get("validationActions") or ["Deny"]
    if not isinstance(actions, list) or any(a not in ACTIONS for a in actions):
        raise fail(("spec", "validationActions"), f"validationActions are {', '.join(ACTIONS)}")
    sources: list[tuple[FieldPath, str]] = []
    for key in ("matchConditions", "variables", "validations"):
        entries = spec.get(key) or []
        if not isinstance(entries, list):
            raise fail(("spec", key), f"{key} must be a list")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("expression"), str):
                raise fail(("spec", key, i), f"each {key} entry needs an expression")
            sources.append((("spec", key, i, "expression"), entry["expression"]))
            if isinstance(entry.get("messageExpression"), str):
                sources.append((("spec", key, i, "messageExpression"), entry["messageExpression"]))
    if celeval.available():
        bad = celeval.check_compiles(sources)
        if bad is not None:
            raise fail(bad[0], f"CEL expression does not compile: {bad[1]}")
    policy = Policy(name, None, KIND, doc, base, spec, mapping(meta.get("annotations")))
    policy.rules.append(Rule(RULE, {"name": RULE}, "validate", "vpol", ("spec", "validations")))
    return policy


def action(spec: dict[str, Any]) -> str:
    """Deny is enforced; Audit and Warn report."""
    return "Enforce" if "Deny" in (spec.get("validationActions") or ["Deny"]) else "Audit"


def matches(spec: dict[str, Any], group: str, version: str, kind: str, operation: str, is_excluded: bool = False
            ) -> bool:
    """A resource rule list (``resourceRules`` or ``excludeResourceRules``) against the request."""
    key = "excludeResourceRules" if is_excluded else "resourceRules"
    rules = mapping(spec.get("matchConstraints")).get(key) or []
    resource = celeval.plural(kind)
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        groups = rule.get("apiGroups") or [""]
        versions = rule.get("apiVersions") or ["*"]
        resources = rule.get("resources") or []
        operations = rule.get("operations") or ["*"]
        if ("*" in groups or group in groups) and ("*" in versions or version in versions) \
                and ("*" in resources or resource in resources) and ("*" in operations or operation in operations):
            return True
    return False
