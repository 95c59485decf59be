"""Which objects a policy and its binding apply to: ``matchConstraints`` and ``matchResources``.

Resource rules name API resources (``deployments``), not kinds: a kind maps to its resource by
the CRDs in the tree (``spec.names.plural``) or by the API server's rule for built-in kinds
(lower case, plural), with the few irregular names listed. The manifest is judged as a CREATE:
rules whose operations leave CREATE out do not apply. With ``matchPolicy: Equivalent`` (the
default) a rule matches every version of its group and resource. ``namespaceSelector`` reads the
labels of the Namespace object in the tree (every namespace also carries
``kubernetes.io/metadata.name``); a namespaced object without a namespace is matched only by a
selector that matches everything. ``objectSelector`` reads the object's labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.checks.policy.match import CLUSTER_SCOPED, MatchError, selector_matches
from gatekeeper.model import Resource

NAME_LABEL = "kubernetes.io/metadata.name"
_IRREGULAR = {"Endpoints": "endpoints", "PodMetrics": "pods", "NodeMetrics": "nodes"}

__all__ = ["MatchError", "Scope", "Target", "by_namespace", "matches", "namespace_labels", "object_matches",
           "rules_match", "selective"]


def guess_resource(kind: str) -> str:
    """The API server's resource name for a built-in kind (its own guessing rule)."""
    if kind in _IRREGULAR:
        return _IRREGULAR[kind]
    lower = kind.lower()
    if lower.endswith("s"):
        return lower + "es"
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    return lower + "s"


@dataclass(slots=True)
class Scope:
    """What the tree says about kinds: CRD plurals and scopes, and the Namespace objects."""

    plurals: dict[tuple[str, str], str]  # (group, kind) -> resource
    cluster_kinds: set[tuple[str, str]]  # (group, kind) of cluster-scoped kinds from CRDs
    namespaces: dict[str, dict[str, Any]]  # name -> Namespace object
    kinds: dict[tuple[str, str], tuple[str, str, str, bool]] = field(default_factory=dict)

    def kind_info(self, api_version: str, kind: str) -> tuple[str, str, str, bool]:
        """(group, version, resource, cluster-scoped) of an apiVersion and kind, memoised."""
        key = (api_version, kind)
        found = self.kinds.get(key)
        if found is None:
            group, _, version = api_version.rpartition("/")
            found = self.kinds[key] = (group, version, self.resource_name(group, kind),
                                       self.cluster_scoped(group, kind))
        return found

    @classmethod
    def of(cls, resources: list[Resource]) -> Scope:
        plurals: dict[tuple[str, str], str] = {}
        cluster: set[tuple[str, str]] = set()
        namespaces: dict[str, dict[str, Any]] = {}
        for r in resources:
            if r.kind == "Namespace" and r.group == "" and r.name:
                namespaces[r.name] = r.obj
            elif r.kind == "CustomResourceDefinition" and r.group == "apiextensions.k8s.io":
                spec = _mapping(r.obj.get("spec"))
                names = _mapping(spec.get("names"))
                group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
                if isinstance(group, str) and isinstance(kind, str):
                    if isinstance(plural, str):
                        plurals[(group, kind)] = plural
                    if spec.get("scope") == "Cluster":
                        cluster.add((group, kind))
        return cls(plurals, cluster, namespaces)

    def resource_name(self, group: str, kind: str) -> str:
        return self.plurals.get((group, kind)) or guess_resource(kind)

    def cluster_scoped(self, group: str, kind: str) -> bool:
        return (group, kind) in self.cluster_kinds or ((group, kind) not in self.plurals and kind in CLUSTER_SCOPED)


@dataclass(slots=True)
class Target:
    """The object under review as matching sees it."""

    resource: Resource
    group: str
    version: str
    kind: str
    plural: str
    cluster_scoped: bool
    namespace: str | None

    @classmethod
    def of(cls, resource: Resource, scope: Scope) -> Target:
        group, version, plural, cluster = scope.kind_info(resource.api_version, resource.kind)
        return cls(resource, group, version, resource.kind, plural, cluster, None if cluster else resource.namespace)


def namespace_labels(name: str, scope: Scope) -> dict[str, Any]:
    """The labels of a namespace: its object's in the tree, plus the name label the API server sets."""
    meta = _mapping(scope.namespaces.get(name, {}).get("metadata"))
    return {**_mapping(meta.get("labels")), NAME_LABEL: name}


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _in(values: Any, value: str) -> bool:
    return isinstance(values, list) and ("*" in values or value in values)


def _kind_matches(rule: Mapping[str, Any], target: Target, equivalent: bool) -> bool:
    """One ``NamedRuleWithOperations`` against the object's kind (as a CREATE of the main resource)."""
    if not _in(rule.get("operations"), "CREATE"):
        return False
    if not _in(rule.get("apiGroups"), target.group):
        return False
    if not equivalent and not _in(rule.get("apiVersions"), target.version):
        return False
    resources = rule.get("resources")
    if not isinstance(resources, list) or not any(r in ("*", "*/*", target.plural) for r in resources):
        return False
    scope = rule.get("scope", "*")
    return not ((scope == "Cluster" and not target.cluster_scoped) or (scope == "Namespaced" and target.cluster_scoped))


def _names_match(rule: Mapping[str, Any], target: Target) -> bool:
    names = rule.get("resourceNames")
    return not names or target.resource.name in names


def _labels(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return labels if isinstance(labels, dict) else {}


def rules_match(match: Mapping[str, Any] | None, target: Target, *, need_rules: bool) -> bool:
    """The resource rules of a ``MatchResources`` (not resourceNames or selectors) against the object's
    kind. ``need_rules``: no resourceRules matches nothing (a policy's matchConstraints); otherwise
    it adds no restriction (a binding's matchResources)."""
    match = match or {}
    equivalent = match.get("matchPolicy", "Equivalent") != "Exact"
    rules = match.get("resourceRules")
    if isinstance(rules, list) and rules:
        if not any(isinstance(r, dict) and _kind_matches(r, target, equivalent) for r in rules):
            return False
    elif need_rules:
        return False
    excluded = [r for r in match.get("excludeResourceRules") or [] if isinstance(r, dict)]
    return not any(not r.get("resourceNames") and _kind_matches(r, target, equivalent) for r in excluded)


def selective(match: Mapping[str, Any] | None) -> bool:
    """True when matching depends on the object, not just its kind (names, selectors)."""
    match = match or {}
    rules = [r for key in ("resourceRules", "excludeResourceRules") for r in match.get(key) or []
             if isinstance(r, dict)]
    return any(r.get("resourceNames") for r in rules) or bool(match.get("namespaceSelector")) or \
        bool(match.get("objectSelector"))


def by_namespace(match: Mapping[str, Any] | None) -> bool:
    """True when ``object_matches`` depends on the object only through its kind and namespace (a
    namespaceSelector, no resourceNames or objectSelector), except for Namespace objects themselves."""
    match = match or {}
    rules = [r for key in ("resourceRules", "excludeResourceRules") for r in match.get(key) or []
             if isinstance(r, dict)]
    return not any(r.get("resourceNames") for r in rules) and not match.get("objectSelector")


def object_matches(match: Mapping[str, Any] | None, target: Target, scope: Scope) -> bool:
    """The object-dependent part of a ``MatchResources``: resourceNames, namespace and object selectors."""
    match = match or {}
    equivalent = match.get("matchPolicy", "Equivalent") != "Exact"
    rules = [r for r in match.get("resourceRules") or [] if isinstance(r, dict)]
    if rules and not any(_kind_matches(r, target, equivalent) and _names_match(r, target) for r in rules):
        return False
    excluded = [r for r in match.get("excludeResourceRules") or [] if isinstance(r, dict) and r.get("resourceNames")]
    if any(_kind_matches(r, target, equivalent) and _names_match(r, target) for r in excluded):
        return False
    selector = match.get("namespaceSelector")
    if isinstance(selector, dict) and selector:
        if target.kind == "Namespace" and target.group == "":
            labels = {**_labels(target.resource.obj), NAME_LABEL: target.resource.name or ""}
            if not selector_matches(selector, labels):
                return False
        elif not target.cluster_scoped and (target.namespace is None or not selector_matches(
                selector, namespace_labels(target.namespace, scope))):
            return False
    objects = match.get("objectSelector")
    return not (isinstance(objects, dict) and objects and not selector_matches(objects, _labels(target.resource.obj)))


def matches(match: Mapping[str, Any] | None, target: Target, scope: Scope, *, need_rules: bool) -> bool:
    """A whole ``MatchResources`` against the object."""
    return rules_match(match, target, need_rules=need_rules) and object_matches(match, target, scope)
