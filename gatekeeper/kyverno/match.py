"""Kyverno ``match`` / ``exclude``: ``any``/``all`` of resource filters (kinds in every spelling,
names, namespaces, annotations, selector, namespaceSelector, operations) and user filters
(subjects, roles, clusterRoles), which offline hold only for the user a values file describes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.kyverno import wildcard

USER_KEYS = ("subjects", "roles", "clusterRoles")


@dataclass(slots=True)
class Request:
    """What match/exclude look at besides the object: operation, user and namespace labels."""

    operation: str = "CREATE"
    username: str = ""
    groups: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    cluster_roles: list[str] = field(default_factory=list)
    namespace_labels: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Target:
    """The object under review, as match reads it."""

    obj: Mapping[str, Any]
    group: str
    version: str
    kind: str
    namespace: str
    name: str
    subresource: str = ""

    @property
    def labels(self) -> Mapping[str, Any]:
        return _meta(self.obj, "labels")

    @property
    def annotations(self) -> Mapping[str, Any]:
        return _meta(self.obj, "annotations")


def _meta(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    value = meta.get(key) if isinstance(meta, dict) else None
    return value if isinstance(value, dict) else {}


def parse_kind(entry: str) -> tuple[str, str, str, str]:
    """(group, version, kind, subresource) of a kinds entry: ``Pod``, ``v1/Pod``, ``apps/v1/Deployment``,
    ``*/Pod``, ``Pod/status``, ``apps/*/Deployment``; ``*`` where the entry says nothing."""
    parts = entry.split("/")
    if len(parts) == 1:
        return "*", "*", parts[0], ""
    if len(parts) == 2:
        if parts[1][:1].isupper() or parts[1] == "*":
            return "*", parts[0], parts[1], ""
        return "*", "*", parts[0], parts[1]
    if len(parts) == 3:
        if parts[1][:1].isupper():
            return "*", parts[0], parts[1], parts[2]
        return parts[0], parts[1], parts[2], ""
    return parts[0], parts[1], parts[2], "/".join(parts[3:])


def kind_matches(entry: str, target: Target) -> bool:
    group, version, kind, sub = parse_kind(entry)
    if sub != target.subresource and not (sub == "*" and target.subresource):
        return False
    if group != "*" and not wildcard.match(group, target.group):
        return False
    if version != "*" and not wildcard.match(version, target.version):
        return False
    return wildcard.match(kind, target.kind)


def selector_matches(selector: Any, labels: Mapping[str, Any]) -> bool:
    """A label selector; matchLabels values may hold wildcards (Kyverno's extension)."""
    if not isinstance(selector, dict):
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if wildcard.has_wildcard(str(key)):
            if not any(wildcard.match(str(key), k) and wildcard.match(str(value), str(v)) for k, v in labels.items()):
                return False
        elif key not in labels or not wildcard.match(str(value), str(labels[key])):
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in expr.get("values") or []]
        present = key in labels
        if op == "In" and not (present and str(labels[key]) in values):
            return False
        if op == "NotIn" and present and str(labels[key]) in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _resources_match(spec: Mapping[str, Any], target: Target, request: Request) -> bool:
    kinds = spec.get("kinds") or []
    if kinds and not any(kind_matches(str(k), target) for k in kinds):
        return False
    names = list(spec.get("names") or [])
    if spec.get("name"):
        names.append(spec["name"])
    if names and not any(wildcard.match(str(n), target.name) for n in names):
        return False
    namespaces = spec.get("namespaces") or []
    if namespaces:
        ns = target.name if target.kind == "Namespace" and not target.group else target.namespace
        if not any(wildcard.match(str(n), ns) for n in namespaces):
            return False
    annotations = spec.get("annotations") or {}
    for key, value in annotations.items():
        if not any(wildcard.match(str(key), k) and wildcard.match(str(value), str(v))
                   for k, v in target.annotations.items()):
            return False
    if spec.get("selector") is not None and not selector_matches(spec["selector"], target.labels):
        return False
    if spec.get("namespaceSelector") is not None:
        if target.kind == "Namespace" and not target.group:
            labels = target.labels
        elif not target.namespace:
            return False
        else:
            labels = request.namespace_labels.get(target.namespace, {})
        if not selector_matches(spec["namespaceSelector"], labels):
            return False
    operations = spec.get("operations") or []
    return not operations or request.operation in operations


def _user_match(flt: Mapping[str, Any], request: Request) -> bool:
    roles = flt.get("roles") or []
    if roles and not set(roles) & set(request.roles):
        return False
    cluster_roles = flt.get("clusterRoles") or []
    if cluster_roles and not any(wildcard.match(str(r), c) for r in cluster_roles for c in request.cluster_roles):
        return False
    subjects = flt.get("subjects") or []
    return not subjects or any(_subject(s, request) for s in subjects)


def _subject(subject: Mapping[str, Any], request: Request) -> bool:
    kind, name = subject.get("kind"), str(subject.get("name") or "")
    if kind == "ServiceAccount":
        return request.username == f"system:serviceaccount:{subject.get('namespace') or ''}:{name}"
    if kind == "Group":
        return any(wildcard.match(name, g) for g in request.groups)
    return wildcard.match(name, request.username)


def filter_matches(flt: Mapping[str, Any], target: Target, request: Request) -> bool:
    """One resource filter (``resources`` plus user filters): every criterion it states must hold."""
    resources = flt.get("resources")
    if isinstance(resources, dict) and resources and not _resources_match(resources, target, request):
        return False
    return _user_match(flt, request)


def block_matches(block: Any, target: Target, request: Request) -> bool:
    """A match block: ``any`` (one filter), ``all`` (every filter) or the legacy single filter."""
    if not isinstance(block, dict) or not block:
        return False
    if block.get("any"):
        return any(filter_matches(f, target, request) for f in block["any"])
    if block.get("all"):
        return all(filter_matches(f, target, request) for f in block["all"])
    legacy = {k: block[k] for k in ("resources", *USER_KEYS) if block.get(k)}
    return bool(legacy) and filter_matches(legacy, target, request)


def rule_applies(match: Any, exclude: Any, target: Target, request: Request) -> bool:
    """Matched and not excluded."""
    if not block_matches(match, target, request):
        return False
    return not (isinstance(exclude, dict) and exclude and block_matches(exclude, target, request))


def uses_user_filters(block: Any) -> bool:
    """True when a match/exclude block names subjects, roles or clusterRoles."""
    if not isinstance(block, dict):
        return False
    filters = [*(block.get("any") or []), *(block.get("all") or []), block]
    return any(isinstance(f, dict) and any(f.get(k) for k in USER_KEYS) for f in filters)


def static_block(block: Any) -> bool:
    """True when ``block_matches(block, target, request)`` reads nothing of the target but its
    group, version, kind and subresource (kinds and operations only, user filters read the
    request): its outcome can then be decided once per kind."""
    if not isinstance(block, dict) or not block:
        return True
    if block.get("any"):
        filters = block["any"]
    elif block.get("all"):
        filters = block["all"]
    else:
        filters = [{k: block[k] for k in ("resources", *USER_KEYS) if block.get(k)}]
    return all(isinstance(f, dict) and _static_filter(f) for f in filters)


def _static_filter(flt: dict[str, Any]) -> bool:
    resources = flt.get("resources")
    if not isinstance(resources, dict) or not resources:
        return True
    if any(resources.get(key) for key in ("names", "name", "namespaces", "annotations")):
        return False
    return resources.get("selector") is None and resources.get("namespaceSelector") is None
