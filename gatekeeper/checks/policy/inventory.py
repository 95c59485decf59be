"""``data.inventory`` as Gatekeeper's sync builds it, from every resource in the scanned tree.

Referential policies (unique Ingress hosts, unique Service selectors) compare an object
with the rest of the desired state, so the inventory always holds the whole tree even when
only changed files are reported. A rendered object is compared with what its own deployment
unit applies (:func:`by_unit`): overlays for different clusters are separate applies.
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
            spec = obj.get("spec")
            if isinstance(spec, dict) and spec.get("scope") == "Cluster" and isinstance(spec.get("names"), dict):
                kind = spec["names"].get("kind")
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


def by_unit(objects: Iterable[tuple[str | None, dict[str, Any]]], cluster_kinds: set[str]) -> dict[str, dict[str, Any]]:
    """One inventory per deployment unit, of the objects that unit applies: a unit is one apply to
    its destination, so two overlays for two clusters that both define an Ingress host do not see
    each other (objects checked as files, in no unit, keep the whole tree's inventory)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for unit, obj in objects:
        if unit is not None:
            grouped.setdefault(unit, []).append(obj)
    return {unit: build(objs, cluster_kinds) for unit, objs in grouped.items()}


def referenced_kinds(sources: Iterable[str]) -> set[str] | None:
    """The kinds a template's Rego reads from ``data.inventory``, when every reference names its
    kind with a string literal (``data.inventory.namespace[ns][gv]["Ingress"]``); None when any
    reference leaves the kind open, so the whole inventory is needed.

    A template gets only the kinds it names, so loading its data costs what it reads.
    """
    from gatekeeper.rego.tokens import tokenize

    kinds: set[str] = set()
    for source in sources:
        sig = [t for t in tokenize(source) if t.significant and t.kind != "nl"]
        for k, tok in enumerate(sig):
            if not (tok.kind == "ident" and tok.text == "inventory" and k >= 2 and sig[k - 1].is_punct(".")
                    and sig[k - 2].kind == "ident" and sig[k - 2].text == "data"):
                continue
            segments = _segments(sig, k + 1)
            if not segments or segments[0] not in ('"namespace"', '"cluster"'):
                return None
            position = 3 if segments[0] == '"namespace"' else 2
            if len(segments) <= position or not segments[position].startswith('"'):
                return None
            kinds.add(segments[position][1:-1])
    return kinds


def _segments(sig: list[Any], k: int) -> list[str]:
    """Path segments after ``data.inventory``: ``.name`` as ``"name"``, ``["x"]`` as ``"x"``,
    anything else (a variable, an expression) as ``?``."""
    out: list[str] = []
    while k < len(sig):
        if sig[k].is_punct(".") and k + 1 < len(sig) and sig[k + 1].kind == "ident":
            out.append(f'"{sig[k + 1].text}"')
            k += 2
        elif sig[k].is_punct("["):
            if k + 2 < len(sig) and sig[k + 1].kind == "string" and sig[k + 2].is_punct("]"):
                out.append('"' + sig[k + 1].text.strip('"`') + '"')
                k += 3
            else:
                depth = 0
                while k < len(sig):
                    depth += 1 if sig[k].is_punct("[") else -1 if sig[k].is_punct("]") else 0
                    k += 1
                    if depth == 0:
                        break
                out.append("?")
        else:
            break
    return out


def prune(inventory: dict[str, Any], kinds: set[str]) -> dict[str, Any]:
    """The inventory restricted to the given kinds (same shape)."""
    cluster = {gv: {k: v for k, v in by_kind.items() if k in kinds} for gv, by_kind in inventory["cluster"].items()}
    namespaced = {ns: {gv: {k: v for k, v in by_kind.items() if k in kinds} for gv, by_kind in gvs.items()}
                  for ns, gvs in inventory["namespace"].items()}
    return {"cluster": {gv: d for gv, d in cluster.items() if d},
            "namespace": {ns: {gv: d for gv, d in gvs.items() if d} for ns, gvs in namespaced.items()
                          if any(gvs.values())}}
