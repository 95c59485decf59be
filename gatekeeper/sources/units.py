"""Deployment units: what is rendered and applied as a whole, discovered from the repository.

A unit is a root kustomization (one that no other kustomization in the tree includes), a Helm
chart (with its default values, and once per values set an Argo CD ``Application`` or a Flux
``HelmRelease`` gives it), a path a Flux ``Kustomization`` or an Argo CD ``Application`` names,
or an explicit ``render:`` entry of ``.gatekeeper.yaml``. Files that belong to no unit are
checked as files.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.model import Document, FieldPath, Finding, Severity, fingerprint, format_field
from gatekeeper.sources import kustomize

KUSTOMIZE, HELM = "kustomize", "helm"
MERGE, SET, SET_STRING, SET_FILE = "merge", "set", "set-string", "set-file"
CHART_FILE = "Chart.yaml"
RULE_REMOTE = "render-remote"
RULE_UNAPPLIED = "render-unapplied"
FLUX, ARGO = "flux", "argo"
# Flux Kustomization fields that change what kustomize-controller applies (render/overrides.py applies them)
FLUX_OVERRIDES = ("patches", "images", "postBuild", "namePrefix", "nameSuffix", "targetNamespace",
                  "commonMetadata", "components")
# v1beta2 patch fields (removed in v1): applied by Flux versions that serve v1beta2, not by the gate
FLUX_UNAPPLIED = ("patchesStrategicMerge", "patchesJson6902")


def as_map(value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping, else an empty one (objects that fail validation are read
    defensively)."""
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class ValuesSource:
    """One layer of Helm values: a values file, or values written inside a document (an Argo CD
    ``Application``, a Flux ``HelmRelease``, a ConfigMap ``valuesFrom`` names)."""

    path: str  # the file holding the values
    field: FieldPath = ()  # where the values sit in that file's document (() for a values file)
    doc_index: int = 0
    text: bool = False  # the values are a YAML string at ``field`` (Argo CD ``values``, a ConfigMap key)
    target: str = ""  # Flux ``targetPath``: the string at ``field`` is set there with Helm's ``--set`` rules
    how: str = MERGE  # merge (a values map) | set | set-string | set-file (Argo CD parameters, --set rules)
    release: bool = False  # Flux: composed over the release's own values, then over the chart's values files
    file: str = ""  # set-file: the repository file whose content is the value
    encoded: bool = False  # the string at ``field`` is base64 (a Secret's ``data``)

    @property
    def files(self) -> tuple[str, ...]:
        """The repository files this layer reads."""
        return (self.path, self.file) if self.file else (self.path,)


@dataclass(frozen=True, slots=True)
class VarSource:
    """A ConfigMap or Secret a Flux Kustomization's ``postBuild.substituteFrom`` entry names, found in the tree."""

    path: str
    doc_index: int
    field: FieldPath  # where the object sits in its document
    kind: str  # ConfigMap | Secret
    entry: int  # the substituteFrom entry (for its line)


@dataclass(frozen=True, slots=True)
class Overrides:
    """What a GitOps agent changes in a kustomize unit when it builds it: a Flux ``Kustomization``'s
    spec or an Argo CD source's ``kustomize`` block, named by where it is written."""

    agent: str  # flux | argo
    path: str  # the file holding the GitOps object
    doc_index: int
    field: FieldPath  # Flux: the Kustomization's ``spec``; Argo CD: the source's ``kustomize``
    variables: tuple[VarSource, ...] = ()  # Flux ``substituteFrom`` objects found, in order

    @property
    def files(self) -> tuple[str, ...]:
        """The repository files the overrides read (the GitOps object, substituteFrom objects)."""
        return tuple(dict.fromkeys([self.path, *(v.path for v in self.variables)]))


@dataclass(slots=True)
class Unit:
    """One thing rendered and applied as a whole."""

    kind: str  # kustomize | helm
    path: str  # root-relative directory ('' for the root)
    values: list[ValuesSource] = field(default_factory=list)  # in the order the agent applies them
    release: str | None = None
    namespace: str | None = None
    kube_version: str | None = None
    found_by: list[str] = field(default_factory=list)
    name: str = ""
    overrides: Overrides | None = None  # a kustomize unit as a GitOps agent changes it

    def key(self) -> tuple[Any, ...]:
        return (self.kind, self.path, tuple(self.values), self.release, self.namespace, self.kube_version,
                self.overrides)

    def display(self) -> str:
        return self.name or self.path or "."

    def value_files(self) -> set[str]:
        """Every repository file the unit's values read (values files, the documents holding inline
        values or parameters, ``--set-file`` files)."""
        return {path for source in self.values for path in source.files}


def _remote_finding(doc: Document, path: FieldPath, message: str) -> Finding:
    return _at(doc, path, RULE_REMOTE, message, "vendor the chart or base into the repository to have it checked, "
               "or waive the rule", Severity.WARNING)


class Discovery:
    """Collects units from kustomizations, charts, GitOps objects and the config."""

    def __init__(self, documents: list[Document], kind_of: Callable[[str], str | None],
                 kustomizations: dict[str, kustomize.Kustomization], generated: frozenset[str] = frozenset()) -> None:
        self.documents = documents
        self.generated = generated  # directories whose kustomization Flux generates: units only through Flux
        self.kind_of = kind_of
        self.kustomizations = kustomizations
        self.charts = {posixpath.dirname(d.path) for d in documents
                       if d.index == 0 and d.path.rpartition("/")[2] == CHART_FILE and isinstance(d.obj, dict)}
        self.units: dict[tuple[Any, ...], Unit] = {}
        self.findings: list[Finding] = []

    def add(self, unit: Unit, how: str) -> None:
        found = self.units.setdefault(unit.key(), unit)
        if how not in found.found_by:
            found.found_by.append(how)

    # -- kustomize and charts -------------------------------------------------------------------

    def roots(self) -> None:
        included: set[str] = set()
        for kust in self.kustomizations.values():
            for ref in kust.refs:
                if ref.path and ref.role in (kustomize.BASE_DIR, kustomize.COMPONENT, kustomize.TRANSFORMER,
                                             kustomize.GENERATOR, kustomize.VALIDATOR):
                    included.add(ref.path)
        for directory, kust in sorted(self.kustomizations.items()):
            if directory not in included and not kust.component and directory not in self.generated:
                self.add(Unit(KUSTOMIZE, directory), "root kustomization")
        for chart in sorted(self.charts):
            if _is_subchart(chart, self.charts):
                continue
            self.add(Unit(HELM, chart, values=self._default_values(chart)), "Helm chart (default values)")

    def _default_values(self, chart: str) -> list[ValuesSource]:
        path = posixpath.join(chart, "values.yaml") if chart else "values.yaml"
        return [ValuesSource(path)] if self.kind_of(path) == "file" else []

    def at_path(self, path: str, how: str) -> Unit | None:
        """The unit a GitOps object's path names (kustomize, or a chart with default values)."""
        if path in self.kustomizations and not self.kustomizations[path].component:
            unit = Unit(KUSTOMIZE, path)
            self.add(unit, how)
            return unit
        if path in self.charts:
            unit = Unit(HELM, path, values=self._default_values(path))
            self.add(unit, how)
            return unit
        return None

    # -- GitOps objects -------------------------------------------------------------------------

    def gitops(self) -> None:
        for doc in self.documents:
            for res in doc.resources or doc.held:
                group = res.group
                if res.kind == "Kustomization" and group == "kustomize.toolkit.fluxcd.io":
                    self._flux_kustomization(doc, res.obj, res.base)
                elif res.kind == "HelmRelease" and group == "helm.toolkit.fluxcd.io":
                    self._helm_release(doc, res.obj, res.base)
                elif res.kind == "Application" and group == "argoproj.io":
                    self._argo_sources(doc, res.obj.get("spec"), (*res.base, "spec"), res.obj)
                elif res.kind == "ApplicationSet" and group == "argoproj.io":
                    spec = res.obj.get("spec")
                    template = spec.get("template") if isinstance(spec, dict) else None
                    inner = template.get("spec") if isinstance(template, dict) else None
                    self._argo_sources(doc, inner, (*res.base, "spec", "template", "spec"), res.obj)

    def _flux_kustomization(self, doc: Document, obj: dict[str, Any], base: FieldPath) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
            return
        path = kustomize.resolve("", spec["path"].strip().lstrip("/"))
        if path[1]:
            self.findings.append(_outside(doc, (*base, "spec", "path"), spec["path"]))
            return
        how = f"Flux Kustomization at {doc.path}:{doc.locate((*base, 'spec', 'path'))[0]}"
        for key in FLUX_UNAPPLIED:
            if spec.get(key):
                self.findings.append(_unapplied(doc, (*base, "spec", key), f"Flux (v1beta2) applies spec.{key} to "
                                                f"what it builds from {path[0] or '.'}; the gate does not, so "
                                                "those objects are checked without these patches (move them to "
                                                "spec.patches, as Flux's v1 API requires)"))
        applied = [key for key in FLUX_OVERRIDES if spec.get(key)]
        kust = self.kustomizations.get(path[0])
        if applied and kust is not None and not kust.component:
            meta = as_map(obj.get("metadata"))
            own = meta.get("namespace") if isinstance(meta.get("namespace"), str) else None
            overrides = Overrides(FLUX, doc.path, doc.index, (*base, "spec"),
                                  self._substitute_from(doc, spec, (*base, "spec"), own))
            self.add(Unit(KUSTOMIZE, path[0], overrides=overrides, name=f"{path[0] or '.'} ({how})"), how)
            return
        unit = self.at_path(path[0], how)
        if unit is None and applied and self.kind_of(path[0]) == "dir":
            self.findings.append(_unapplied(doc, (*base, "spec", applied[0]), "Flux applies " + ", ".join(
                f"spec.{key}" for key in applied) + f" to what it builds from {path[0] or '.'}, a directory "
                "without a kustomization; the gate checks its files as files, without them"))

    def _substitute_from(self, doc: Document, spec: dict[str, Any], where: FieldPath,
                         namespace: str | None) -> tuple[VarSource, ...]:
        """The ConfigMaps and Secrets of ``postBuild.substituteFrom`` found in the tree (looked up in the
        Kustomization's own namespace, as Flux does); a missing one that is not ``optional`` is a finding."""
        post = as_map(spec.get("postBuild"))
        entries = post.get("substituteFrom")
        found: list[VarSource] = []
        for i, ref in enumerate(entries if isinstance(entries, list) else []):
            at = (*where, "postBuild", "substituteFrom", i)
            if not isinstance(ref, dict) or ref.get("kind") not in ("ConfigMap", "Secret") \
                    or not isinstance(ref.get("name"), str):
                self.findings.append(_bad_parameter(doc, at, "a substituteFrom entry needs kind ConfigMap or Secret "
                                                    "and a name; Flux cannot read it"))
                continue
            hit = self._find_object(ref["kind"], ref["name"], namespace)
            if hit is not None:
                found.append(VarSource(hit[0].path, hit[0].index, hit[1], ref["kind"], i))
            elif ref.get("optional") is not True:
                self.findings.append(_at(doc, at, "render-error", f"{ref['kind']} {ref['name']!r} named by "
                                         "postBuild.substituteFrom is not in the repository; Flux fails to "
                                         "reconcile without it, and the gate substitutes without its variables",
                                         "add the object to the repository, fix the name, or mark the entry "
                                         "optional: true"))
        return tuple(found)

    def _find_object(self, kind: str, name: str, namespace: str | None) -> tuple[Document, FieldPath] | None:
        for other in self.documents:
            for res in other.resources or other.held:
                if res.kind == kind and res.name == name and res.api_version == "v1" \
                        and (not namespace or not res.namespace or res.namespace == namespace):
                    return other, res.base
        return None

    def _argo_sources(self, doc: Document, spec: Any, base: FieldPath, obj: dict[str, Any]) -> None:
        if not isinstance(spec, dict):
            return
        dest = spec.get("destination")
        namespace = dest.get("namespace") if isinstance(dest, dict) else None
        sources: list[tuple[Any, FieldPath]] = []
        if isinstance(spec.get("source"), dict):
            sources.append((spec["source"], (*base, "source")))
        if isinstance(spec.get("sources"), list):
            sources.extend((s, (*base, "sources", i)) for i, s in enumerate(spec["sources"]) if isinstance(s, dict))
        refs = {s["ref"]: s for s, _ in sources if isinstance(s.get("ref"), str)}
        for source, where in sources:
            self._argo_source(doc, source, where, namespace if isinstance(namespace, str) else None, obj, refs)

    def _argo_source(self, doc: Document, source: dict[str, Any], where: FieldPath, namespace: str | None,
                     obj: dict[str, Any], refs: dict[str, dict[str, Any]] | None = None) -> None:
        if isinstance(source.get("chart"), str):
            self.findings.append(_remote_finding(doc, (*where, "chart"), f"chart {source['chart']!r} comes from "
                                                 f"{source.get('repoURL', 'a chart repository')}; it cannot be "
                                                 "rendered offline"))
            return
        raw = source.get("path")
        if not isinstance(raw, str) or "{{" in raw:
            return
        path, outside = kustomize.resolve("", raw.strip().lstrip("/"))
        if outside:
            self.findings.append(_outside(doc, (*where, "path"), raw))
            return
        if path not in self.kustomizations and path not in self.charts:
            return  # no unit there: the files are checked as files (a line costs a parse of a stored file)
        how = f"Argo CD {obj.get('kind')} at {doc.path}:{doc.locate(where)[0]}"
        if source.get("plugin") and (path in self.kustomizations or path in self.charts):
            self.findings.append(_unapplied(doc, (*where, "plugin"), "Argo CD renders this source with a config "
                                            "management plugin; the gate renders the path without it"))
        kust = self.kustomizations.get(path)
        if isinstance(source.get("kustomize"), dict) and source["kustomize"] and kust is not None \
                and not kust.component:
            overrides = Overrides(ARGO, doc.path, doc.index, (*where, "kustomize"))
            self.add(Unit(KUSTOMIZE, path, overrides=overrides, name=f"{path or '.'} ({how})"), how)
            return
        if source.get("kustomize") and path in self.charts:
            self.findings.append(_unapplied(doc, (*where, "kustomize"), "Argo CD applies source.kustomize to a "
                                            "kustomization only; this path is a Helm chart"))
        helm = source.get("helm")
        if path not in self.charts or not isinstance(helm, dict):
            self.at_path(path, how)
            return
        unit = Unit(HELM, path, values=self._default_values(path), namespace=namespace)
        self._argo_values(doc, helm, (*where, "helm"), unit, refs or {}, source)
        release = helm.get("releaseName")
        meta = obj.get("metadata")
        unit.release = release if isinstance(release, str) else (
            meta.get("name") if isinstance(meta, dict) and isinstance(meta.get("name"), str) else None)
        unit.name = f"{path or '.'} ({how})"
        self.add(unit, how)

    def _argo_values(self, doc: Document, helm: dict[str, Any], where: FieldPath, unit: Unit,
                     refs: dict[str, dict[str, Any]], source: dict[str, Any]) -> None:
        """Argo CD's values in the order ``helm template`` applies them: ``valueFiles``, then
        ``valuesObject`` (or, without it, ``values``), then ``parameters`` as ``--set`` (``--set-string``
        with ``forceString``) and ``fileParameters`` as ``--set-file``. What cannot be applied is a finding."""
        files = helm.get("valueFiles")
        ignore_missing = helm.get("ignoreMissingValueFiles") is True
        for i, name in enumerate(files if isinstance(files, list) else []):
            if not isinstance(name, str):
                continue
            at = (*where, "valueFiles", i)
            if name.startswith("$"):
                self._ref_values(doc, at, name, unit, refs, source)
                continue
            if "://" in name:
                self.findings.append(_remote_finding(doc, at, f"values {name!r} are fetched from a URL; the chart "
                                                     "is rendered without them"))
                continue
            vpath, out = _resolve_argo(unit.path, name)
            if out:
                self.findings.append(_outside(doc, at, name))
            elif self.kind_of(vpath) == "file":
                if ValuesSource(vpath) not in unit.values:
                    unit.values.append(ValuesSource(vpath))
            elif not ignore_missing:
                self.findings.append(_missing_values(doc, at, name))
        self._values_object(doc, helm, where, unit)

    def _ref_values(self, doc: Document, at: FieldPath, name: str, unit: Unit, refs: dict[str, dict[str, Any]],
                    source: dict[str, Any]) -> None:
        """``$ref/path``: a values file at ``path`` from the root of the source whose ``ref`` is ``ref``.
        A file of this repository is applied when the ref source is a git source of this repository
        (the chart's own ``repoURL``) or the file is in it; values of another repository are unapplied."""
        ref, _, rest = name[1:].partition("/")
        other = refs.get(ref)
        if other is None:
            self.findings.append(_bad_parameter(doc, at, f"values {name!r} name the source ref {ref!r}, which no "
                                                "source of the Application declares; Argo CD fails to render"))
            return
        vpath, out = kustomize.resolve("", rest.lstrip("/"))
        same_repo = isinstance(other.get("repoURL"), str) and other.get("repoURL") == source.get("repoURL") \
            and not isinstance(other.get("chart"), str)
        if out:
            self.findings.append(_outside(doc, at, name))
        elif self.kind_of(vpath) == "file" and not isinstance(other.get("chart"), str):
            if ValuesSource(vpath) not in unit.values:
                unit.values.append(ValuesSource(vpath))
        elif same_repo:
            self.findings.append(_missing_values(doc, at, name))
        else:
            self.findings.append(_unapplied(doc, at, f"values {name!r} come from source {ref!r}, another "
                                            "repository; the chart is rendered without them"))

    def _values_object(self, doc: Document, helm: dict[str, Any], where: FieldPath, unit: Unit) -> None:
        """``valuesObject`` (or ``values``), then ``parameters`` and ``fileParameters``."""
        if isinstance(helm.get("valuesObject"), dict):
            unit.values.append(ValuesSource(doc.path, (*where, "valuesObject"), doc.index))
            if isinstance(helm.get("values"), str) and helm["values"].strip():
                self.findings.append(_unapplied(doc, (*where, "values"), "Argo CD ignores helm.values when "
                                                "helm.valuesObject is set; so does the gate"))
        elif isinstance(helm.get("values"), str):
            unit.values.append(ValuesSource(doc.path, (*where, "values"), doc.index, text=True))
        params: dict[str, ValuesSource] = {}  # Argo CD keys them by name: the last one wins
        listed = helm.get("parameters")
        for i, param in enumerate(listed if isinstance(listed, list) else []):
            if not isinstance(param, dict) or not isinstance(param.get("name"), str):
                continue
            value = param.get("value", "")
            if value is not None and not isinstance(value, str):
                self.findings.append(_bad_parameter(doc, (*where, "parameters", i, "value"),
                                                    f"parameter {param['name']!r} has a {type(value).__name__} "
                                                    "value; Argo CD takes strings only (quote it)"))
                continue
            how = SET_STRING if param.get("forceString") is True else SET
            params[param["name"]] = ValuesSource(doc.path, (*where, "parameters", i), doc.index, how=how)
        unit.values.extend(params.values())
        listed = helm.get("fileParameters")
        for i, param in enumerate(listed if isinstance(listed, list) else []):
            if not isinstance(param, dict) or not isinstance(param.get("name"), str) \
                    or not isinstance(param.get("path"), str):
                continue
            at = (*where, "fileParameters", i, "path")
            raw = param["path"]
            fpath, out = _resolve_argo(unit.path, raw)
            if out:
                self.findings.append(_outside(doc, at, raw))
            elif self.kind_of(fpath) != "file":
                self.findings.append(_missing_values(doc, at, raw))
            else:
                unit.values.append(ValuesSource(doc.path, (*where, "fileParameters", i), doc.index, how=SET_FILE,
                                                file=fpath))

    def _helm_release(self, doc: Document, obj: dict[str, Any], base: FieldPath) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        chart = spec.get("chart")
        chart_spec = chart.get("spec") if isinstance(chart, dict) else None
        how = f"Flux HelmRelease at {doc.path}:{doc.locate(base)[0]}"
        if not isinstance(chart_spec, dict):
            if isinstance(spec.get("chartRef"), dict):
                self.findings.append(_remote_finding(doc, (*base, "spec", "chartRef"), "the chart comes from "
                                                     "an OCIRepository or HelmChart; it cannot be rendered offline"))
            return
        name = chart_spec.get("chart")
        source_ref = chart_spec.get("sourceRef")
        source_kind = source_ref.get("kind") if isinstance(source_ref, dict) else None
        where = (*base, "spec", "chart", "spec", "chart")
        if not isinstance(name, str):
            return
        if source_kind != "GitRepository" and source_kind != "Bucket":
            self.findings.append(_remote_finding(doc, where, f"chart {name!r} comes from a {source_kind or 'remote'} "
                                                 "source; it cannot be rendered offline"))
            return
        path, outside = kustomize.resolve("", name.strip().lstrip("/"))
        if outside or path not in self.charts:
            return
        meta = as_map(obj.get("metadata"))
        namespace = spec.get("targetNamespace") or meta.get("namespace")
        unit = Unit(HELM, path, values=self._default_values(path),
                    namespace=namespace if isinstance(namespace, str) else None)
        files = chart_spec.get("valuesFiles")
        for i, vname in enumerate(files if isinstance(files, list) else []):
            if isinstance(vname, str):
                at = (*base, "spec", "chart", "spec", "valuesFiles", i)
                vpath, out = kustomize.resolve("", vname.lstrip("/"))
                if out:
                    self.findings.append(_outside(doc, at, vname))
                elif self.kind_of(vpath) == "file":
                    unit.values.append(ValuesSource(vpath))
                else:
                    self.findings.append(_missing_values(doc, at, vname))
        own = meta.get("namespace")  # valuesFrom objects live beside the HelmRelease, not in targetNamespace
        values_from = spec.get("valuesFrom")
        for i, ref in enumerate(values_from if isinstance(values_from, list) else []):
            self._values_from(doc, ref, (*base, "spec", "valuesFrom", i), unit, own if isinstance(own, str) else None)
        if isinstance(spec.get("values"), dict):
            unit.values.append(ValuesSource(doc.path, (*base, "spec", "values"), doc.index, release=True))
        if spec.get("postRenderers"):
            self.findings.append(_unapplied(doc, (*base, "spec", "postRenderers"), "post-renderers change the "
                                            "chart's output after rendering; the gate checks the output without "
                                            "them"))
        release = spec.get("releaseName") or meta.get("name")
        unit.release = release if isinstance(release, str) else None
        unit.name = f"{path or '.'} ({how})"
        self.add(unit, how)

    def _values_from(self, doc: Document, ref: Any, where: FieldPath, unit: Unit, namespace: str | None) -> None:
        if not isinstance(ref, dict):
            return
        if ref.get("kind") not in ("ConfigMap", "Secret"):
            self.findings.append(_bad_parameter(doc, (*where, "kind"), f"valuesFrom kind {ref.get('kind')!r} is "
                                                "not ConfigMap or Secret; Flux cannot read it"))
            return
        key = ref["valuesKey"] if isinstance(ref.get("valuesKey"), str) else "values.yaml"
        target = ref["targetPath"] if isinstance(ref.get("targetPath"), str) else ""
        for other in self.documents:
            for res in other.resources or other.held:
                if res.kind != ref["kind"] or res.name != ref.get("name") or res.api_version != "v1":
                    continue
                if namespace and res.namespace and res.namespace != namespace:
                    continue
                sections = ("data",) if res.kind == "ConfigMap" else ("stringData", "data")
                for section in sections:
                    data = res.obj.get(section)
                    if isinstance(data, dict) and isinstance(data.get(key), str):
                        unit.values.append(ValuesSource(other.path, (*res.base, section, key), other.index,
                                                        text=True, target=target, release=True,
                                                        encoded=section == "data" and res.kind == "Secret"))
                        return
        if not ref.get("optional"):
            self.findings.append(_missing_values(doc, where, f"{ref['kind']} {ref.get('name')}"))

    # -- configuration --------------------------------------------------------------------------

    def configured(self, entries: Iterable[dict[str, Any]]) -> None:
        for entry in entries:
            path, outside = kustomize.resolve("", str(entry.get("path", "")).strip().lstrip("/"))
            if outside:
                continue
            kind = entry.get("kind") or (HELM if path in self.charts else KUSTOMIZE)
            values = [ValuesSource(kustomize.resolve("", v)[0]) for v in entry.get("values", [])
                      if not kustomize.resolve("", v)[1]]
            if kind == HELM:
                values = self._default_values(path) + [v for v in values if v not in self._default_values(path)]
            unit = Unit(kind, path, values=values if kind == HELM else [], release=entry.get("releaseName"),
                        namespace=entry.get("namespace"), kube_version=entry.get("kubeVersion"))
            if kind == HELM and (entry.get("values") or entry.get("releaseName") or entry.get("namespace")):
                unit.name = f"{path or '.'} (.gatekeeper.yaml render entry)"
            self.add(unit, ".gatekeeper.yaml render entry")


def _resolve_argo(app_path: str, name: str) -> tuple[str, bool]:
    """An Argo CD values or file parameter path: relative to the source path, absolute from the repository root."""
    return kustomize.resolve("", name.lstrip("/")) if name.startswith("/") else kustomize.resolve(app_path, name)


def _at(doc: Document, where: FieldPath, rule: str, message: str, hint: str,
        severity: Severity = Severity.ERROR) -> Finding:
    """A render finding at a field of a GitOps object."""
    line, column = doc.locate(where)
    fpath = format_field(where)
    return Finding(check="render", rule=rule, severity=severity, message=message, path=doc.path, line=line,
                   column=column, field=fpath, hint=hint, fingerprint=fingerprint(rule, None, doc.path, fpath, message))


def _unapplied(doc: Document, where: FieldPath, message: str) -> Finding:
    return _at(doc, where, RULE_UNAPPLIED, message, "check that part of the rendered state by other means, or waive "
               "the rule", Severity.WARNING)


def _outside(doc: Document, where: FieldPath, name: str) -> Finding:
    return _at(doc, where, "render-outside", f"{name!r} resolves outside the repository; the gate renders "
               "without it", "keep every path a GitOps object names inside the repository")


def _bad_parameter(doc: Document, where: FieldPath, message: str) -> Finding:
    return _at(doc, where, "render-error", message, "fix the value at this line")


def _missing_values(doc: Document, where: FieldPath, name: str) -> Finding:
    return _at(doc, where, "render-error", f"values {name!r} are not in the repository; the chart is rendered "
               "without them", "fix the path or add the values file")


def _is_subchart(chart: str, charts: set[str]) -> bool:
    parts = chart.split("/")
    return any(parts[i] == "charts" and "/".join(parts[:i]) in charts for i in range(1, len(parts)))


def discover(documents: list[Document], kind_of: Callable[[str], str | None],
             kustomizations: dict[str, kustomize.Kustomization],
             configured: Iterable[dict[str, Any]] = (),
             generated: frozenset[str] = frozenset()) -> tuple[list[Unit], list[Finding]]:
    """Every unit of the tree (sorted by path), and findings for sources that cannot be rendered.
    ``generated``: directories whose kustomization exists only as Flux generates it (units only
    through a Flux Kustomization, never as root kustomizations)."""
    found = Discovery(documents, kind_of, kustomizations, generated)
    found.roots()
    found.gitops()
    found.configured(configured)
    # a root kustomization an agent builds with overrides is applied as the agent changes it, not as written
    changed = {u.path for u in found.units.values() if u.overrides is not None}
    units = sorted((u for u in found.units.values() if not (
        u.kind == KUSTOMIZE and u.overrides is None and u.path in changed and u.found_by == ["root kustomization"])),
        key=lambda u: (u.path, u.kind, u.display()))
    return units, found.findings
