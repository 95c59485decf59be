"""``data.inventory`` as Gatekeeper's sync builds it, from every resource in the scanned tree.

Referential policies (unique Ingress hosts, unique Service selectors) compare an object
with the rest of the desired state, so the inventory always holds the whole tree even when
only changed files are reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gatekeeper.checks.policy.match import CLUSTER_SCOPED


def cluster_scoped_kinds(objects: Iterable[dict[str, Any]]) -> set[str]:
    """Built-in cluster-scoped kinds plus CRD kinds declared ``scope: Cluster`` in the tree."""
    kinds = set(CLUSTER_SCOPED)
    for obj in objects:
        if obj.get("kind") == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            if spec.get("scope") == "Cluster":
                kind = (spec.get("names") or {}).get("kind")
                if isinstance(kind, str):
                    kinds.add(kind)
    return kinds


def build(objects: Iterable[dict[str, Any]], cluster_kinds: set[str]) -> dict[str, Any]:
    """``{"cluster": {gv: {kind: {name: obj}}}, "namespace": {ns: {gv: {kind: {name: obj}}}}}``."""
    cluster: dict[str, Any] = {}
    namespaced: dict[str, Any] = {}
    for obj in objects:
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        meta: dict[str, Any] = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
        name = meta.get("name")
        if not isinstance(api_version, str) or not isinstance(kind, str) or not isinstance(name, str):
            continue
        if kind in cluster_kinds:
            cluster.setdefault(api_version, {}).setdefault(kind, {})[name] = obj
        else:
            ns = str(meta["namespace"]) if isinstance(meta.get("namespace"), str) else ""
            namespaced.setdefault(ns, {}).setdefault(api_version, {}).setdefault(kind, {})[name] = obj
    return {"cluster": cluster, "namespace": namespaced}
