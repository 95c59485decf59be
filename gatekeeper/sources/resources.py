"""Turn parsed documents into Kubernetes resources.

A document with ``apiVersion`` and ``kind`` is a resource; ``kind: List`` and typed lists
(``RoleList``, ``ConfigMapList``: any ``*List`` with ``items``) expand into their items, which keep
their own lines; local tool configuration (kustomization files, kubeconfigs) stays a plain
document: the secrets check still reads it, schema, lint and policy do not.
"""

from __future__ import annotations

from typing import Any

from gatekeeper.model import Document, Finding, Resource, Severity, fingerprint, valid_type

# Files that carry apiVersion/kind but are read by a tool, never applied to a cluster.
LOCAL_CONFIG_GROUPS = frozenset({"kustomize.config.k8s.io", "config.kubernetes.io", "kpt.dev",
                                 "skaffold", "test.gatekeeper.sh"})
LOCAL_CONFIG_KINDS = frozenset({("v1", "Config")})  # kubeconfig
LIST_KINDS = frozenset({"List"})
_MANIFEST_HINT_KEYS = ("spec", "data", "stringData", "rules", "subjects", "roleRef", "webhooks")


def is_list_kind(kind: str) -> bool:
    """``List`` and every typed list (``RoleList``, ``ConfigMapList``...): kubectl applies each item."""
    return kind in LIST_KINDS or (kind.endswith("List") and len(kind) > 4)


def typed_item(lst: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """An item of a typed list as kubectl reads it: the API server leaves apiVersion and kind out of
    the items of a ``RoleList``, and the client takes them from the list (``Role`` in the list's
    apiVersion) when both are missing. Items of ``kind: List`` must name their own type."""
    kind = lst["kind"]
    if kind in LIST_KINDS or "apiVersion" in item or "kind" in item:
        return item
    return {"apiVersion": lst["apiVersion"], "kind": kind[: -len("List")], **item}


def is_local_config(api_version: str, kind: str) -> bool:
    """True for objects that configure a local tool rather than a cluster."""
    return api_version.rpartition("/")[0] in LOCAL_CONFIG_GROUPS or (api_version, kind) in LOCAL_CONFIG_KINDS


def _identity(obj: dict[str, Any]) -> tuple[str | None, str | None]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return None, None
    ns, name = meta.get("namespace"), meta.get("name")
    return (ns if isinstance(ns, str) else None, name if isinstance(name, str) else None)


def _resource(doc: Document, obj: dict[str, Any], base: tuple[str | int, ...]) -> Resource:
    namespace, name = _identity(obj)
    return Resource(doc, obj, obj["apiVersion"], obj["kind"], namespace, name, base)


def _looks_typed(obj: dict[str, Any]) -> bool:
    return isinstance(obj.get("apiVersion"), str) and isinstance(obj.get("kind"), str) \
        and bool(obj["apiVersion"]) and bool(obj["kind"])


def _missing_identity(doc: Document, obj: dict[str, Any], base: tuple[str | int, ...]) -> Finding | None:
    """A finding when an object looks like a manifest but lacks apiVersion or kind."""
    has_kind, has_api = "kind" in obj, "apiVersion" in obj
    meta = obj.get("metadata")
    manifest_like = (has_kind != has_api and (has_kind or isinstance(meta, dict))) or (
        isinstance(meta, dict) and "name" in meta and any(k in obj for k in _MANIFEST_HINT_KEYS))
    if not manifest_like and not (has_kind and has_api):
        return None
    missing = [k for k in ("apiVersion", "kind") if not (isinstance(obj.get(k), str) and obj.get(k))]
    if not missing:
        return None
    line, column = doc.positions.lookup(base)
    what = " and ".join(missing)
    return Finding(
        check="parse", rule="missing-kind", severity=Severity.ERROR,
        message=f"object looks like a Kubernetes manifest but has no valid {what}",
        path=doc.path, line=line, column=column, field="",
        hint="add apiVersion and kind (for example apiVersion: apps/v1, kind: Deployment)",
        fingerprint=fingerprint("missing-kind", None, doc.path, str(doc.index), str(base)),
    )


def _kind_ok(kind: str) -> bool:
    return valid_type("v1", kind)


def _bad_type(doc: Document, base: tuple[str | int, ...]) -> Finding:
    """A finding for an apiVersion or kind outside the Kubernetes name grammar (never quoted: it
    can be anything); the object is not a resource, so no check looks anything up by that type."""
    obj = doc.obj
    for part in base:
        obj = obj[part]
    field = "apiVersion" if _kind_ok(obj["kind"]) else "kind"
    line, column = doc.positions.lookup((*base, field))
    return Finding(
        check="parse", rule="missing-kind", severity=Severity.ERROR,
        message="apiVersion or kind is not a valid Kubernetes name (letters, digits and '-'; a group of "
                "DNS labels before '/'); the object was not checked",
        path=doc.path, line=line, column=column, field=field,
        hint="fix the apiVersion and kind (for example apiVersion: apps/v1, kind: Deployment)",
        fingerprint=fingerprint("missing-kind", None, doc.path, str(doc.index), f"{base}type"),
    )


def _not_object(doc: Document, base: tuple[str | int, ...]) -> Finding:
    """A finding for a List item that is not an object (a scalar, a list or null)."""
    line, column = doc.positions.lookup(base)
    return Finding(
        check="parse", rule="missing-kind", severity=Severity.ERROR,
        message="List item is not an object with apiVersion and kind",
        path=doc.path, line=line, column=column, field="",
        hint="make each item a Kubernetes object or remove it",
        fingerprint=fingerprint("missing-kind", None, doc.path, str(doc.index), str(base)),
    )


def _listed(doc: Document, index: int) -> Finding:
    """A finding for Kubernetes objects written as a top-level list: kubectl, kustomize, Argo CD and
    Flux refuse such a document, and no object of it is checked, so it must not pass silently."""
    line, column = doc.positions.lookup((index,))
    return Finding(
        check="parse", rule="missing-kind", severity=Severity.ERROR,
        message="the document is a list of Kubernetes objects, not one object: no tool applies it, and its "
                "objects were not checked",
        path=doc.path, line=line, column=column, field=f"[{index}]",
        hint="write one object per document (YAML '---'), or a 'kind: List' with apiVersion v1 and the objects "
             "under items",
        fingerprint=fingerprint("missing-kind", None, doc.path, str(doc.index), "top-level list"),
    )


def extract(doc: Document) -> list[Finding]:
    """Fill ``doc.resources`` from its object; return findings for malformed manifests."""
    obj = doc.obj
    findings: list[Finding] = []
    if isinstance(obj, list):
        at = next((i for i, item in enumerate(obj) if isinstance(item, dict) and _looks_typed(item)), None)
        if at is not None:
            findings.append(_listed(doc, at))
        return findings
    if not isinstance(obj, dict):
        return findings
    if _looks_typed(obj):
        if not valid_type(obj["apiVersion"], obj["kind"]):
            findings.append(_bad_type(doc, ()))
        elif is_list_kind(obj["kind"]) and isinstance(obj.get("items"), list):
            for i, item in enumerate(obj["items"]):
                if isinstance(item, dict):
                    item = typed_item(obj, item)
                if isinstance(item, dict) and _looks_typed(item):
                    if not valid_type(item["apiVersion"], item["kind"]):
                        findings.append(_bad_type(doc, ("items", i)))
                    elif not is_local_config(item["apiVersion"], item["kind"]):
                        doc.resources.append(_resource(doc, item, ("items", i)))
                elif isinstance(item, dict):
                    problem = _missing_identity(doc, item, ("items", i))
                    if problem is not None:
                        findings.append(problem)
                else:  # kubectl rejects the whole List; it must not pass unseen
                    findings.append(_not_object(doc, ("items", i)))
        elif not is_local_config(obj["apiVersion"], obj["kind"]):
            doc.resources.append(_resource(doc, obj, ()))
        return findings
    problem = _missing_identity(doc, obj, ())
    if problem is not None:
        findings.append(problem)
    return findings
