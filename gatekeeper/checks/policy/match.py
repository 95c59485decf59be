"""Gatekeeper ``spec.match`` semantics: kinds, scope, namespaces, selectors and name.

Follows Gatekeeper's matcher: namespace criteria never exclude cluster-scoped objects (a
Namespace is matched by its own name and labels), globs are a ``*`` prefix or suffix, and
an empty ``kinds``/``apiGroups`` list matches everything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "StorageClass",
    "CustomResourceDefinition", "PriorityClass", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    "APIService", "IngressClass", "RuntimeClass", "CSIDriver", "CSINode", "VolumeAttachment",
    "CertificateSigningRequest", "PodSecurityPolicy", "ComponentStatus", "FlowSchema",
    "PriorityLevelConfiguration", "ConstraintTemplate", "ClusterIssuer", "ClusterSecretStore",
    "ClusterPolicy", "ClusterRoleTemplate", "GatewayClass",
})


class MatchError(ValueError):
    """A malformed match block (an unknown selector operator)."""


def glob_match(pattern: str, value: str) -> bool:
    """Gatekeeper's namespace/name glob: exact, ``prefix*`` or ``*suffix``."""
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return pattern == value


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, Any]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) against labels."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key"), expr.get("operator")
        values = expr.get("values") or []
        if op == "In":
            ok = key in labels and labels[key] in values
        elif op == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif op == "Exists":
            ok = key in labels
        elif op == "DoesNotExist":
            ok = key not in labels
        else:
            raise MatchError(f"unknown label selector operator {op!r}")
        if not ok:
            return False
    return True


def _labels(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return labels if isinstance(labels, dict) else {}


def kinds_match(kinds: Sequence[Mapping[str, Any]] | None, group: str, kind: str) -> bool:
    if not kinds:
        return True
    for entry in kinds:
        groups = entry.get("apiGroups") or []
        names = entry.get("kinds") or []
        if (not groups or "*" in groups or group in groups) and (not names or "*" in names or kind in names):
            return True
    return False


def matches(match: Mapping[str, Any] | None, obj: Mapping[str, Any], group: str, kind: str,
            namespace: str | None, cluster_scoped: bool,
            namespaces: Mapping[str, Mapping[str, Any]]) -> bool:
    """True when the object falls under a constraint's ``spec.match``.

    ``namespaces`` maps namespace names to their Namespace objects from the scanned tree; a
    namespace that is not there has no labels.
    """
    match = match or {}
    if not kinds_match(match.get("kinds"), group, kind):
        return False
    scope = match.get("scope", "*")
    if (scope == "Cluster" and not cluster_scoped) or (scope == "Namespaced" and cluster_scoped):
        return False
    meta = obj.get("metadata")
    name = (meta.get("name") if isinstance(meta, dict) else None) or ""
    if match.get("name") and not glob_match(str(match["name"]), str(name)):
        return False
    is_ns = kind == "Namespace" and group == ""
    ns_name = str(name) if is_ns else (namespace if not cluster_scoped else None)
    if ns_name is not None:
        if match.get("namespaces") and not any(glob_match(p, ns_name) for p in match["namespaces"]):
            return False
        if any(glob_match(p, ns_name) for p in match.get("excludedNamespaces") or []):
            return False
        if match.get("namespaceSelector") is not None:
            ns_obj = obj if is_ns else namespaces.get(ns_name, {})
            if not selector_matches(match["namespaceSelector"], _labels(ns_obj)):
                return False
    selector = match.get("labelSelector")
    return selector is None or selector_matches(selector, _labels(obj))
