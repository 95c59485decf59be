"""Render a Helm unit offline and attribute rendered fields to template and values lines.

Backends: the Helm SDK (``helm-python-sdk``, the ``helm`` extra) run in a worker process, else a
``helm`` binary on PATH (``helm template``). Both see a copy of the chart directory only, with
no repositories, no cluster (``lookup`` returns nothing) and no network. A chart whose
dependencies are not vendored under ``charts/`` cannot be rendered offline (``render-remote``),
except a chart of the repository named with ``file://``: Argo CD and Flux build it into
``charts/`` (``helm dependency build``) and deploy it with the parent's values, so the render
copy gets it there too (:func:`local_dependencies`), its templates located at their own lines.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from gatekeeper.model import Document, FieldPath, Finding, Severity, fingerprint
from gatekeeper.sources import kustomize as kz
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.render import limits, strvals
from gatekeeper.sources.render.helmmap import TemplateIndex, Values, ValuesLayer
from gatekeeper.sources.render.kustomize import render_finding
from gatekeeper.sources.render.provenance import HOLE, ShiftedPositions
from gatekeeper.sources.tree import Tree
from gatekeeper.sources.units import MERGE, SET, SET_FILE, SET_STRING, Unit, ValuesSource
from gatekeeper.sources.yamlload import parse

DocsOf = Callable[[str], list[Document]]
_SOURCE = re.compile(r"^# Source: (.+)$")


@dataclass(frozen=True, slots=True)
class Failure:
    """A render that failed: the finding that says so."""

    finding: Finding


class Backend(Protocol):
    name: str

    def render(self, unit: Unit, values: Values, tree: Tree, workdir: Path, timeout: float,
               max_output: int) -> bytes | Failure: ...

    def close(self) -> None: ...


def _copy_chart(unit: Unit, tree: Tree, workdir: Path) -> Path:
    chart = workdir / "chart"
    copies = [("", unit.path), *local_dependencies(unit.path, tree).items()]
    for into, source in copies:
        for rel in tree.files_under(source):
            data = tree.read(rel)
            if data is None:
                continue
            inner = rel[len(source) + 1:] if source else rel
            target = chart / into / inner if into else chart / inner
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return chart


MAX_DEPENDENCY_DEPTH = 8


def local_dependencies(chart: str, tree: Tree, depth: int = 0) -> dict[str, str]:
    """The charts of the repository a chart depends on through ``file://`` without vendoring them
    under ``charts/``, as ``helm dependency build`` places them: render-copy path below the chart
    (``charts/lib``, nested ones ``charts/lib/charts/x``) -> the dependency's directory."""
    out: dict[str, str] = {}
    chart_file = f"{chart}/Chart.yaml" if chart else "Chart.yaml"
    data = tree.read(chart_file)
    if data is None or depth > MAX_DEPENDENCY_DEPTH:
        return out
    parsed = parse(SourceFile(chart_file, data))
    meta = parsed.documents[0].obj if parsed.documents and not parsed.findings else None
    deps = meta.get("dependencies") if isinstance(meta, dict) else None
    under = f"{chart}/charts" if chart else "charts"
    vendored = tree.files_under(under)
    for dep in deps if isinstance(deps, list) else []:
        if not isinstance(dep, dict) or not isinstance(dep.get("name"), str) or "/" in dep["name"]:
            continue
        repo = str(dep.get("repository") or "")
        if not repo.startswith("file://"):
            continue
        target, outside = kz.resolve(chart, repo[len("file://"):])
        if outside or target == chart or tree.kind(f"{target}/Chart.yaml" if target else "Chart.yaml") != "file":
            continue
        if any(p.startswith(f"{under}/{dep['name']}") for p in vendored):
            continue
        out[f"charts/{dep['name']}"] = target
        for inner, nested in local_dependencies(target, tree, depth + 1).items():
            out[f"charts/{dep['name']}/{inner}"] = nested
    return out


def _chart_file(unit: Unit) -> str:
    return f"{unit.path}/Chart.yaml" if unit.path else "Chart.yaml"


def _failure(unit: Unit, message: str, rule: str = "render-error") -> Failure:
    path, line = _error_location(unit, message)
    return Failure(render_finding(path, line, rule, f"helm cannot render {unit.display()}: {message}"))


_TEMPLATE_LINE = re.compile(r"(?:template: )?[^/:\s\"]+/((?:templates|charts)/[^:\s\"]+):(\d+)")


def _error_location(unit: Unit, message: str) -> tuple[str, int]:
    """The template file and line Helm's message names (``template: chart/templates/x.yaml:12:3``)."""
    found = _TEMPLATE_LINE.search(message)
    if found:
        rel = found.group(1)
        return (f"{unit.path}/{rel}" if unit.path else rel), int(found.group(2))
    return _chart_file(unit), 1


class SdkBackend:
    """The Helm SDK in a worker process (one per render)."""

    name = "helm-python-sdk"

    def render(self, unit: Unit, values: Values, tree: Tree, workdir: Path, timeout: float,
               max_output: int) -> bytes | Failure:
        chart = _copy_chart(unit, tree, workdir)
        request = json.dumps({"chart": str(chart), "values": values.merged, "release": values.release,
                              "namespace": values.namespace}).encode()
        outcome = limits.run([sys.executable, "-m", "gatekeeper.sources.render.helm_worker"], workdir,
                             limits.sandbox_env(workdir / "home"), timeout=timeout, max_output=max_output,
                             stdin=request)
        return _outcome(unit, outcome, chart)

    def close(self) -> None:
        return None


class BinaryBackend:
    """A ``helm`` binary: ``helm template``."""

    name = "helm"

    def __init__(self, exe: str) -> None:
        self.exe = exe

    def render(self, unit: Unit, values: Values, tree: Tree, workdir: Path, timeout: float,
               max_output: int) -> bytes | Failure:
        chart = _copy_chart(unit, tree, workdir)
        values_file = workdir / "values.json"
        values_file.write_text(json.dumps(values.merged))
        argv = [self.exe, "template", values.release, str(chart), "--namespace", values.namespace,
                "-f", str(values_file), "--include-crds"]
        if unit.kube_version:
            argv += ["--kube-version", unit.kube_version]
        outcome = limits.run(argv, workdir, limits.sandbox_env(workdir / "home"), timeout=timeout,
                             max_output=max_output)
        return _outcome(unit, outcome, chart)

    def close(self) -> None:
        return None


def _outcome(unit: Unit, outcome: limits.Outcome, chart: Path) -> bytes | Failure:
    if outcome.limit is not None:
        return Failure(render_finding(_chart_file(unit), 1, "render-limit",
                                      f"helm {outcome.limit} rendering {unit.display()}; the chart was not rendered"))
    if outcome.returncode != 0:
        text = " ".join(outcome.stderr.replace(str(chart) + "/", "").replace(str(chart), unit.path or ".").split())
        text = limits.strip_workdir(text, chart)
        return _failure(unit, text.removeprefix("Error: ")[:400] or f"exit {outcome.returncode}")
    return outcome.stdout


def backend() -> Backend | None:
    """``$GATEKEEPER_HELM`` (a helm binary; ``none`` turns Helm rendering off), else the SDK when
    installed, else a helm binary on PATH, else None."""
    chosen = os.environ.get("GATEKEEPER_HELM")
    if chosen:
        exe = None if chosen == "none" else shutil.which(chosen)
        return BinaryBackend(exe) if exe else None
    try:
        import importlib.util

        if importlib.util.find_spec("helm_python") is not None:
            return SdkBackend()
    except (ImportError, ValueError):
        pass
    exe = shutil.which("helm")
    return BinaryBackend(exe) if exe else None


# -- inputs --------------------------------------------------------------------------------------

def check_chart(unit: Unit, tree: Tree, docs_of: DocsOf) -> list[Finding]:
    """Dependencies that cannot be resolved offline (remote and not vendored, or outside the repository)."""
    out: list[Finding] = []
    docs = docs_of(_chart_file(unit))
    chart = docs[0].obj if docs and isinstance(docs[0].obj, dict) else {}
    deps = chart.get("dependencies")
    for i, dep in enumerate(deps if isinstance(deps, list) else []):
        if not isinstance(dep, dict) or not isinstance(dep.get("name"), str):
            continue
        repo = str(dep.get("repository") or "")
        line = docs[0].locate(("dependencies", i))[0]
        if repo.startswith("file://"):
            _, outside = kz.resolve(unit.path, repo[len("file://"):])
            if outside:
                out.append(render_finding(_chart_file(unit), line, "render-outside",
                                          f"dependency {dep['name']!r} is outside the repository; the chart was "
                                          "not rendered"))
            continue
        vendored = any(p.startswith(f"{unit.path + '/' if unit.path else ''}charts/{dep['name']}")
                       for p in tree.files_under(f"{unit.path}/charts" if unit.path else "charts"))
        if not vendored and repo:
            out.append(render_finding(_chart_file(unit), line, "render-remote",
                                      f"dependency {dep['name']!r} comes from {repo} and is not vendored under "
                                      "charts/; the chart cannot be rendered offline", Severity.WARNING,
                                      "run 'helm dependency build' and commit charts/, or waive the rule"))
    return out


_PHASE = {MERGE: 0, SET: 1, SET_STRING: 2, SET_FILE: 3}  # helm: values files, --set, --set-string, --set-file


class _Leaf:
    """A value a ``--set`` layer sets (so the list items it leaves alone can be told apart)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _unwrap(node: Any) -> Any:
    if isinstance(node, _Leaf):
        return node.value
    if isinstance(node, dict):
        return {k: _unwrap(v) for k, v in node.items()}
    if isinstance(node, list):
        return [HOLE if v is None else _unwrap(v) for v in node]
    return node


class _Composer:
    """Applies a unit's values layers in order, as the agent has Helm do, recording each layer for
    provenance and a finding for each layer that cannot be applied."""

    def __init__(self, unit: Unit, docs_of: DocsOf, read: Callable[[str], bytes | None]) -> None:
        self.unit = unit
        self.docs_of = docs_of
        self.read = read
        self.user: dict[str, Any] = {}  # Helm's user values (Argo CD: all; Flux: the chart's values files)
        self.release: dict[str, Any] | None = None  # Flux: valuesFrom and spec.values, composed from {}
        self.layers: list[ValuesLayer] = []
        self.findings: list[Finding] = []
        self.default = f"{unit.path}/values.yaml" if unit.path else "values.yaml"

    def apply(self, source: ValuesSource) -> None:
        if source.how != MERGE or source.target:
            self._strvals(source)
        elif source.field == ():
            self._file(source)
        else:
            self._inline(source)

    def result(self) -> dict[str, Any]:
        return _merge(self.user, self.release) if self.release is not None else self.user

    # -- helpers ----------------------------------------------------------------------------------

    def _doc(self, source: ValuesSource) -> tuple[Document, Any] | None:
        doc = next((d for d in self.docs_of(source.path) if d.index == source.doc_index), None)
        if doc is None:
            return None
        value: Any = doc.obj
        for part in source.field:
            value = value.get(part) if isinstance(value, dict) else (
                value[part] if isinstance(value, list) and isinstance(part, int) and part < len(value) else None)
        return doc, value

    def _fail(self, path: str, line: int, column: int, message: str) -> None:
        self.findings.append(render_finding(path, line, "render-error", f"{message}; Helm refuses it, so the agent "
                                            f"cannot render {self.unit.display()} (checked without it)",
                                            hint="fix the values at this line", column=column))

    def _merge_layer(self, source: ValuesSource, layer: ValuesLayer) -> None:
        self.layers.append(layer)
        if source.path == self.default and not source.field:
            return  # the chart's own values.yaml: Helm reads it itself
        if source.release:
            self.release = _merge(self.release or {}, layer.obj)
        else:
            self.user = _merge(self.user, layer.obj)

    # -- values maps ------------------------------------------------------------------------------

    def _file(self, source: ValuesSource) -> None:
        docs = self.docs_of(source.path)
        if docs and isinstance(docs[0].obj, dict):
            self._merge_layer(source, ValuesLayer(source.path, docs[0], (), docs[0].obj))
            return
        if docs and docs[0].obj is not None:
            line, column = docs[0].line, 1
            self._fail(source.path, line, column, f"values file {source.path} is a {type(docs[0].obj).__name__}, "
                       "not a map")
            return
        raw = self.read(source.path)
        if raw is None:
            self._fail(_chart_file(self.unit), 1, 1, f"values file {source.path} cannot be read")
            return
        parsed = parse(SourceFile(source.path, raw))
        problem = next((f for f in parsed.findings if f.rule != "duplicate-key"), None)
        if problem is not None:  # an empty or comment-only file is no values, as for Helm
            self._fail(source.path, problem.line, problem.column,
                       f"values file {source.path} cannot be parsed ({problem.message})")

    def _inline(self, source: ValuesSource) -> None:
        found = self._doc(source)
        if found is None:
            return
        doc, value = found
        if not source.text:
            if isinstance(value, dict):
                self._merge_layer(source, ValuesLayer(source.path, doc, source.field, value))
            return
        line, column = doc.locate(source.field)
        if not isinstance(value, str):
            return
        text = self._decoded(source, value, line, column)
        if text is None:
            return
        if source.encoded:  # base64 text: its lines are not the file's; everything locates at the key
            parsed = parse(SourceFile(source.path, text.encode("utf-8")))
            shift = None
        else:
            lines = doc.text.splitlines()
            first = lines[line] if line < len(lines) else ""
            indent = len(first) - len(first.lstrip(" "))
            parsed = parse(SourceFile(source.path, text.encode("utf-8")))
            shift = (line, indent)
        last = max(1, len(text.splitlines()))  # an error at the end of the text is on its last line
        for finding in parsed.findings:
            at = (min(finding.line, last) + shift[0], finding.column + shift[1]) if shift else (line, column)
            if finding.rule == "duplicate-key":
                self.findings.append(replace(finding, line=at[0], column=at[1], fingerprint=fingerprint(
                    "duplicate-key", None, source.path, f"{at[0]}:{at[1]}", finding.message)))
            else:
                self._fail(source.path, at[0], at[1], f"inline values cannot be parsed ({finding.message})")
                return
        inner = parsed.documents[0] if parsed.documents else None
        if inner is None or inner.obj is None:
            return  # empty values
        if not isinstance(inner.obj, dict):
            self._fail(source.path, line, column, f"inline values are a {type(inner.obj).__name__}, not a map")
            return
        if shift is None:
            layer = ValuesLayer(source.path, doc, source.field, inner.obj, at=source.field)
        else:
            shifted = Document(source.path, doc.index, inner.obj, inner.line + line,
                               ShiftedPositions(inner.positions, line, shift[1]), text=doc.text)
            layer = ValuesLayer(source.path, shifted, (), inner.obj)
        self._merge_layer(source, layer)

    def _decoded(self, source: ValuesSource, value: str, line: int, column: int) -> str | None:
        if not source.encoded:
            return value
        try:
            return base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            self._fail(source.path, line, column, "the Secret value is not base64 of UTF-8 text")
            return None

    # -- --set layers -----------------------------------------------------------------------------

    def _strvals(self, source: ValuesSource) -> None:
        found = self._doc(source)
        if found is None:
            return
        doc, value = found
        line, column = doc.locate(source.field)
        reader: strvals.Reader | None = None
        if source.target:  # Flux valuesFrom targetPath: the key's text, set with --set rules
            if not isinstance(value, str):
                return
            text = self._decoded(source, value, line, column)
            if text is None:
                return
            at: FieldPath = source.field

            def run(dest: dict[str, Any], wrap: bool) -> None:
                strvals.flux_target(source.target, text, dest, wrap=_Leaf if wrap else None)
            what = f"targetPath {source.target}"
        else:
            param = value if isinstance(value, dict) else {}
            name = str(param.get("name", ""))
            if source.how == SET_FILE:
                data = self.read(source.file)
                try:
                    content = data.decode("utf-8") if data is not None else None
                except UnicodeDecodeError:
                    content = None
                if content is None:
                    self._fail(source.path, line, column, f"file parameter {name}: {source.file} is not UTF-8 text")
                    return
                at = (*source.field, "path")
                set_line = strvals.argocd_line(name, source.file)

                def reader(_text: str, text: str = content) -> Any:
                    return text  # --set-file: the file's content, whatever the path's text
            else:
                raw = param.get("value")
                at = (*source.field, "value") if "value" in param else source.field
                set_line = strvals.argocd_line(name, raw if isinstance(raw, str) else "")

            def run(dest: dict[str, Any], wrap: bool) -> None:
                base = reader or (lambda t: strvals.typed(t, source.how == SET_STRING))
                strvals.parse_into(set_line, dest, reader=(lambda t: _Leaf(base(t))) if wrap else base)
            what = f"parameter {name}"
        target = self.release if source.release else self.user
        trial = copy.deepcopy(target if target is not None else {})
        try:
            run(trial, False)
            shown: dict[str, Any] = {}
            run(shown, True)
        except strvals.StrvalsError as exc:
            at_line, at_column = doc.locate(at)
            self._fail(source.path, at_line, at_column, f"{what}: {exc}")
            return
        if source.release:
            self.release = trial
        else:
            self.user = trial
        role = "parameter" if not source.target else "values"
        self.layers.append(ValuesLayer(source.path, doc, source.field, _unwrap(shown), role, at=at))


def values_of(unit: Unit, docs_of: DocsOf, read: Callable[[str], bytes | None] = lambda _p: None) -> Values:
    """The values a unit renders with: layers in the order Helm applies them (chart defaults first,
    values files and inline values merged, then ``--set`` layers), and a finding for each layer that
    cannot be applied (never dropped silently)."""
    composer = _Composer(unit, docs_of, read)
    for source in sorted(unit.values, key=lambda s: _PHASE.get(s.how, 0)):
        composer.apply(source)
    return Values(composer.layers, composer.result(), unit.release or "release", unit.namespace or "default",
                  composer.findings)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


# -- output ---------------------------------------------------------------------------------------

@dataclass(slots=True)
class Output:
    objects: list[tuple[dict[str, Any], Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    rendered: bool = False


def split_stream(text: str) -> list[tuple[str, int, str]]:
    """(template name from ``# Source:``, the document's ordinal within that template, text) per document."""
    out: list[tuple[str, int, str]] = []
    source, ordinal = "", 0
    chunk: list[str] = []

    def flush() -> None:
        if any(line.strip() and not line.startswith("#") for line in chunk):
            out.append((source, ordinal, "\n".join(chunk)))

    for line in text.split("\n"):
        if line.rstrip() == "---" or line.startswith("--- "):
            flush()
            chunk = []
            continue
        found = _SOURCE.match(line)
        if found and not any(c.strip() and not c.startswith("#") for c in chunk):
            if found.group(1) != source:
                source, ordinal = found.group(1), 0
            else:
                ordinal += 1
            chunk.append(line)
            continue
        if not chunk and source and out and out[-1][0] == source:
            ordinal = out[-1][1] + 1
        chunk.append(line)
    flush()
    return out


def _repo_path(unit: Unit, name: str, local: dict[str, str] | None = None) -> str:
    inner = name.split("/", 1)[1] if "/" in name else name
    for into in sorted(local or {}, key=len, reverse=True):  # a template of a dependency built in
        if inner.startswith(into + "/"):
            source = (local or {})[into]
            rest = inner[len(into) + 1:]
            return f"{source}/{rest}" if source else rest
    return f"{unit.path}/{inner}" if unit.path else inner


def objects(text: bytes, unit: Unit, values: Values, tree: Tree, docs_of: DocsOf) -> Output:
    """Parse the rendered stream; each object gets a template/values provenance index."""
    out = Output(rendered=True)
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        return Output(findings=[render_finding(_chart_file(unit), 1, "render-error",
                                               f"helm output of {unit.display()} is not UTF-8")])
    templates: dict[str, list[str]] = {}
    local = local_dependencies(unit.path, tree)
    for name, ordinal, chunk in split_stream(decoded):
        path = _repo_path(unit, name, local) if name else _chart_file(unit)
        parsed = parse(SourceFile(path, chunk.encode("utf-8")))
        if parsed.findings:
            line = 1
            out.findings.append(render_finding(path, line, "render-error", f"the template renders invalid YAML "
                                               f"({parsed.findings[0].message})"))
            continue
        if path not in templates:
            raw = tree.read(path)
            templates[path] = raw.decode("utf-8", "replace").splitlines() if raw is not None else []
        for doc in parsed.documents:
            if isinstance(doc.obj, dict):
                out.objects.append((doc.obj, TemplateIndex(doc.obj, path, templates[path], ordinal, values)))
    return out
