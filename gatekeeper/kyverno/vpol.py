"""ValidatingPolicy (policies.kyverno.io): CEL validations with matchConstraints, matchConditions,
variables and validationActions, loaded into the same Policy/Rule model as ClusterPolicies (one rule,
``validations``) so findings, verify and the notes treat both alike.

Auto-generation, as Kyverno does it for a ValidatingPolicy: a policy matching exactly Pods (one
resource rule: group "", version v1, resource pods, no resource names, no exclude rules, no
namespace or object selector with content) also applies to the Pod controllers of
``spec.autogen.podControllers.controllers`` (plural resource names; all of daemonsets,
deployments, replicasets, statefulsets, jobs and cronjobs when unset, none when an empty list).
Two rules are derived: ``autogen-validations`` for the controllers with a pod template at
``spec.template`` and ``autogen-cronjobs-validations`` for CronJobs
(``spec.jobTemplate.spec.template``); in every expression ``object.spec`` / ``object.metadata``
(and ``oldObject.``) become the template's, except ``.name`` and ``.namespace`` right after them,
which stay the controller's own."""

from __future__ import annotations

import copy
import json
import re
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
    autogen = spec.get("autogen")
    if autogen is not None and not isinstance(autogen, dict):
        raise fail(("spec", "autogen"), "autogen must be a mapping")
    controllers = mapping(mapping(autogen).get("podControllers")).get("controllers")
    if controllers is not None and (not isinstance(controllers, list)
                                    or not all(isinstance(c, str) for c in controllers)):
        raise fail(("spec", "autogen", "podControllers", "controllers"), "controllers must be a list of resource names")
    policy.rules.extend(autogen_rules(spec))
    return policy


# resource -> (group, version, kind, where the pod template is)
CONTROLLERS: dict[str, tuple[str, str, str, str]] = {
    "daemonsets": ("apps", "v1", "DaemonSet", "spec.template"),
    "deployments": ("apps", "v1", "Deployment", "spec.template"),
    "replicasets": ("apps", "v1", "ReplicaSet", "spec.template"),
    "statefulsets": ("apps", "v1", "StatefulSet", "spec.template"),
    "jobs": ("batch", "v1", "Job", "spec.template"),
    "cronjobs": ("batch", "v1", "CronJob", "spec.jobTemplate.spec.template"),
}
_PROTECTED = re.compile(r"\.(name|namespace)(?![A-Za-z0-9_])")


def can_autogen(spec: dict[str, Any]) -> bool:
    """The policy matches Pods and nothing else, with nothing a controller could not carry."""
    constraints = mapping(spec.get("matchConstraints"))
    for key in ("namespaceSelector", "objectSelector"):
        selector = mapping(constraints.get(key))
        if selector.get("matchLabels") or selector.get("matchExpressions"):
            return False
    if constraints.get("excludeResourceRules"):
        return False
    rules = constraints.get("resourceRules") or []
    if len(rules) != 1 or not isinstance(rules[0], dict):
        return False
    rule = rules[0]
    return (not rule.get("resourceNames") and rule.get("apiGroups") == [""] and rule.get("apiVersions") == ["v1"]
            and rule.get("resources") == ["pods"])


def _rewrite(text: str, template: str) -> str:
    """object.spec / object.metadata (and oldObject.) -> the pod template's, outside .name/.namespace."""
    for part in ("spec", "metadata"):
        for root in ("object", "oldObject"):
            source = f"{root}.{part}"
            out: list[str] = []
            rest = text
            while True:
                at = rest.find(source)
                if at < 0:
                    out.append(rest)
                    break
                out.append(rest[:at])
                rest = rest[at + len(source):]
                out.append(source if _PROTECTED.match(rest) else f"{root}.{template}.{part}")
            text = "".join(out)
    return text


def autogen_rules(spec: dict[str, Any]) -> list[Rule]:
    """The rules derived for Pod controllers (none when the policy cannot be auto-generated)."""
    if not can_autogen(spec):
        return []
    wanted = mapping(mapping(spec.get("autogen")).get("podControllers")).get("controllers")
    names = list(CONTROLLERS) if wanted is None else [c for c in wanted if c in CONTROLLERS]
    operations = mapping(spec["matchConstraints"]["resourceRules"][0]).get("operations")
    out: list[Rule] = []
    for label, template, mode in (("autogen", "spec.template", "controllers"),
                                  ("autogen-cronjobs", "spec.jobTemplate.spec.template", "cronjob")):
        targets = [n for n in names if CONTROLLERS[n][3] == template]
        if not targets:
            continue
        derived = copy.deepcopy(spec)
        derived.pop("matchConstraints", None)
        derived = json.loads(_rewrite(json.dumps(derived), template))
        groups: dict[tuple[str, str], list[str]] = {}
        for n in targets:
            group, version, _, _ = CONTROLLERS[n]
            groups.setdefault((group, version), []).append(n)
        derived["matchConstraints"] = {"resourceRules": [
            {"apiGroups": [g], "apiVersions": [v], "resources": sorted(rs),
             **({"operations": list(operations)} if operations is not None else {})}
            for (g, v), rs in sorted(groups.items())]}
        name = f"{label}-{RULE}"
        out.append(Rule(name, {"name": name, "spec": derived}, "validate", "vpol", ("spec", "validations"), RULE,
                        mode))
    return out


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
