"""Routes to the cluster: whether a file kustomize reads as a patch still reaches the cluster as a
plain manifest, and which directories GitOps tools apply file by file.

A file named by a kustomization's ``patches`` is a partial object that kustomize merges into
another, so it is not checked as an object of its own. That is only safe when every route to the
cluster consumes it as a patch. Three routes do not:

* a Flux ``Kustomization`` or an Argo CD ``Application`` whose path is a directory without a
  kustomization applies every file there as it is (Flux generates a kustomization of every file,
  also in subdirectories without one of their own; Argo CD reads the directory, its subdirectories
  with ``directory.recurse``);
* a patch whose every ``target`` selects no object merges into nothing: kustomize neither applies
  it nor fails, so the file's only effect is whatever else applies it;
* a patch outside its kustomization's directory is refused by kustomize's load restrictor.

Such files keep their objects, and the classifier says why.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gatekeeper.model import Document, Resource
from gatekeeper.sources import kustomize

FLUX_GROUP, ARGO_GROUP = "kustomize.toolkit.fluxcd.io", "argoproj.io"


@dataclass(frozen=True, slots=True)
class DirectSource:
    """A directory a GitOps tool applies file by file (no kustomization, no chart there)."""

    path: str  # root-relative directory ('' for the root)
    recursive: bool
    how: str  # who applies it, for explanations

    def covers(self, path: str, kustomized: set[str]) -> bool:
        """Whether the tool applies the file ``path`` as written (Flux stops at subdirectories that
        hold a kustomization: it applies those through kustomize)."""
        directory = posixpath.dirname(path)
        if directory == self.path:
            return True
        if not self.recursive or not (self.path == "" or directory.startswith(self.path + "/")):
            return False
        while directory != self.path:
            if directory in kustomized:
                return False
            directory = posixpath.dirname(directory)
        return True


def direct_sources(documents: Iterable[Document], kustomized: set[str], charts: set[str]) -> list[DirectSource]:
    """Directories that Flux Kustomizations and Argo CD Applications (and ApplicationSet templates)
    in the tree apply as plain manifests."""
    out: list[DirectSource] = []
    for doc in documents:
        for res in [*doc.resources, *doc.held]:
            spec = res.obj.get("spec")
            if not isinstance(spec, dict):
                continue
            how = f"{res.kind} {res.name or '?'} ({doc.path})"
            if res.kind == "Kustomization" and res.group == FLUX_GROUP:
                out.extend(_direct(spec.get("path"), True, how, kustomized, charts))
            elif res.kind in ("Application", "ApplicationSet") and res.group == ARGO_GROUP:
                if res.kind == "ApplicationSet":
                    template = spec.get("template")
                    spec = template.get("spec") if isinstance(template, dict) else None
                    if not isinstance(spec, dict):
                        continue
                sources = [spec.get("source")]
                if isinstance(spec.get("sources"), list):
                    sources.extend(spec["sources"])
                for source in sources:
                    if isinstance(source, dict) and not isinstance(source.get("chart"), str):
                        directory = source.get("directory")
                        recurse = isinstance(directory, dict) and directory.get("recurse") is True
                        out.extend(_direct(source.get("path"), recurse, how, kustomized, charts))
    return out


def _direct(raw: Any, recursive: bool, how: str, kustomized: set[str], charts: set[str]) -> list[DirectSource]:
    if not isinstance(raw, str) or "{{" in raw:
        return []
    path, outside = kustomize.resolve("", raw.strip().lstrip("/") or ".")
    if outside or path in kustomized or path in charts:
        return []
    return [DirectSource(path, recursive, how)]


def applied_patches(documents: Sequence[Document], kind_of: Callable[[str], str | None] = lambda _: None,
                    kusts: dict[str, kustomize.Kustomization] | None = None) -> dict[str, str]:
    """Root-relative path -> why, for each file a kustomization names as a patch that still reaches
    the cluster as a plain manifest (so its objects are checked as objects)."""
    kusts = kustomize.find(documents, kind_of) if kusts is None else kusts
    named: dict[str, list[tuple[kustomize.Kustomization, kustomize.Ref]]] = {}
    for kust in kusts.values():
        for ref in kust.refs:
            if ref.role in (kustomize.PATCH, kustomize.PATCH_JSON6902) and ref.path and not ref.remote \
                    and not ref.outside:
                named.setdefault(ref.path, []).append((kust, ref))
    if not named:
        return {}
    charts = {posixpath.dirname(d.path) for d in documents if posixpath.basename(d.path) == "Chart.yaml"}
    direct = direct_sources(documents, set(kusts), charts)
    objects = [r for d in documents for r in [*d.resources, *d.held]]
    extra = _kustomize_metadata(kusts.values())
    out: dict[str, str] = {}
    for path, refs in sorted(named.items()):
        source = next((s for s in direct if s.covers(path, set(kusts))), None)
        if source is not None:
            out[path] = f"applied as a plain manifest by {source.how}"
        elif not any(k.dir == "" or path.startswith(k.dir + "/") for k, _ in refs):
            out[path] = "outside the directory of every kustomization that names it (kustomize refuses it)"
        elif all(not _selects(ref.entry, kust, objects, extra) for kust, ref in refs):
            out[path] = "its patch target selects no object, so kustomize merges it into nothing"
    return out


# -- patch targets ----------------------------------------------------------------------------


def _kustomize_metadata(kusts: Iterable[kustomize.Kustomization]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Labels and annotations any kustomization in the tree may add to the objects it builds."""
    labels: dict[str, set[str]] = {}
    annotations: dict[str, set[str]] = {}
    for kust in kusts:
        obj = kust.obj
        sets = [obj.get("commonLabels")]
        entries = obj.get("labels")
        if isinstance(entries, list):
            sets.extend(e.get("pairs") for e in entries if isinstance(e, dict))
        for pairs in sets:
            for k, v in (pairs.items() if isinstance(pairs, dict) else ()):
                labels.setdefault(str(k), set()).add(str(v))
        common = obj.get("commonAnnotations")
        for k, v in (common.items() if isinstance(common, dict) else ()):
            annotations.setdefault(str(k), set()).add(str(v))
    return labels, annotations


def _unknowable(kust: kustomize.Kustomization) -> bool:
    """A kustomization whose objects are not all in the tree (remote bases, charts, generator
    plugins): its targets may select objects only the render sees."""
    obj = kust.obj
    return any(ref.remote for ref in kust.refs) or bool(obj.get("helmCharts") or obj.get("generators")
                                                            or obj.get("helmChartInflationGenerator"))


def _selects(entry: Any, kust: kustomize.Kustomization, objects: Sequence[Resource],
             extra: tuple[dict[str, set[str]], dict[str, set[str]]]) -> bool:
    """Whether a patch entry may select an object (True unless it surely selects none)."""
    target = entry.get("target") if isinstance(entry, dict) else None
    if not isinstance(target, dict) or _unknowable(kust):
        return True  # no target: kustomize matches by the patch's own id and fails when none matches
    generated = _generated(kust.obj)
    try:
        matchers = {k: re.compile(str(target[k])) for k in ("group", "version", "kind", "name", "namespace")
                    if target.get(k) not in (None, "")}
        labels = _selector(target.get("labelSelector"))
        annotations = _selector(target.get("annotationSelector"))
    except (re.error, ValueError):
        return True
    if labels is None or annotations is None:
        return True
    for api_version, kind, name, namespace, meta in [*generated, *((r.api_version, r.kind, r.name, r.namespace,
                                                                     r.obj.get("metadata")) for r in objects)]:
        group, _, version = api_version.rpartition("/")
        values = {"group": group, "version": version, "kind": kind, "name": name or "", "namespace": namespace}
        if not all(values[k] is None or m.fullmatch(str(values[k])) for k, m in matchers.items()):
            continue
        meta = meta if isinstance(meta, dict) else {}
        if _matches(labels, meta.get("labels"), extra[0]) and _matches(annotations, meta.get("annotations"), extra[1]):
            return True
    return False


def _generated(obj: dict[str, Any]) -> list[tuple[str, str, str | None, str | None, Any]]:
    """The ConfigMaps and Secrets a kustomization's generators make (names before their hash)."""
    out: list[tuple[str, str, str | None, str | None, Any]] = []
    for key, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        gens = obj.get(key)
        for gen in gens if isinstance(gens, list) else []:
            if isinstance(gen, dict) and isinstance(gen.get("name"), str):
                ns = gen.get("namespace")
                out.append(("v1", kind, gen["name"], ns if isinstance(ns, str) else None, {}))
    return out


_REQUIREMENT = re.compile(r"\s*(!?)\s*([\w./-]+)\s*(?:(==|=|!=)\s*([\w.-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*\Z")


def _selector(raw: Any) -> list[tuple[str, str, set[str]]] | None:
    """A label selector string as (key, operator, values) requirements; None when it cannot be read."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, str):
        return None
    out: list[tuple[str, str, set[str]]] = []
    for part in re.split(r",(?![^()]*\))", raw):
        m = _REQUIREMENT.match(part)
        if m is None:
            return None
        negated, key, op, value, set_op, values = m.groups()
        if op is not None:
            out.append((key, "!=" if op == "!=" else "=", {value}))
        elif set_op is not None:
            out.append((key, set_op, {v.strip() for v in values.split(",") if v.strip()}))
        else:
            out.append((key, "!" if negated else "exists", set()))
    return out


def _matches(requirements: list[tuple[str, str, set[str]]], own: Any, added: dict[str, set[str]]) -> bool:
    """Whether an object's labels (or the ones a kustomization may add) can meet every requirement."""
    values: dict[str, set[str]] = {k: set(v) for k, v in added.items()}
    for k, v in (own.items() if isinstance(own, dict) else ()):
        values.setdefault(str(k), set()).add(str(v))
    for key, op, wanted in requirements:
        have = values.get(key)
        if op in ("=", "in") and not (have and have & wanted):
            return False
        if op == "exists" and not have:
            return False
        if op == "!=" and have and have <= wanted and key not in added:
            return False
        if op == "notin" and have and have <= wanted and key not in added:
            return False
        if op == "!" and have and key not in added:
            return False
    return True
