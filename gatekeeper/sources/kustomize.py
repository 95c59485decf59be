"""Recognise kustomize patch files, which are partial objects, not manifests to validate.

A file named by a kustomization's ``patches``, ``patchesStrategicMerge`` or
``patchesJson6902`` (or a document carrying a ``$patch`` directive) describes a change to
another object; checking it as a full object would report every field it leaves out.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any

from gatekeeper.model import Document

KUSTOMIZATION_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})


def _is_kustomization(doc: Document) -> bool:
    name = doc.path.rpartition("/")[2]
    obj = doc.obj
    if not isinstance(obj, dict):
        return False
    return name in KUSTOMIZATION_NAMES or (obj.get("kind") in ("Kustomization", "Component") and str(
        obj.get("apiVersion", "")).startswith("kustomize.config.k8s.io/"))


def _patch_refs(obj: dict[str, Any]) -> Iterable[str]:
    for key in ("patches", "patchesJson6902"):
        for entry in obj.get(key) or []:
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                yield entry["path"]
    for entry in obj.get("patchesStrategicMerge") or []:
        if isinstance(entry, str) and "\n" not in entry:
            yield entry


def patch_paths(documents: Iterable[Document]) -> set[str]:
    """Root-relative paths of every file some kustomization uses as a patch."""
    found: set[str] = set()
    for doc in documents:
        if not _is_kustomization(doc):
            continue
        base = posixpath.dirname(doc.path)
        for ref in _patch_refs(doc.obj):
            found.add(posixpath.normpath(posixpath.join(base, ref)))
    return found


def is_patch_document(doc: Document) -> bool:
    """True for a document that carries a strategic-merge ``$patch`` directive at its top level."""
    return isinstance(doc.obj, dict) and "$patch" in doc.obj
