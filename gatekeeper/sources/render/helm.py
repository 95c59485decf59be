"""Render a Helm unit offline and attribute rendered fields to template and values lines.

Backends: the Helm SDK (``helm-python-sdk``, the ``helm`` extra) run in a worker process, else a
``helm`` binary on PATH (``helm template``). Both see a copy of the chart directory only, with
no repositories, no cluster (``lookup`` returns nothing) and no network. A chart whose
dependencies are not vendored under ``charts/`` cannot be rendered offline (``render-remote``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gatekeeper.model import Document, Finding, Severity
from gatekeeper.sources import kustomize as kz
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.render import limits
from gatekeeper.sources.render.helmmap import TemplateIndex, Values, ValuesLayer
from gatekeeper.sources.render.kustomize import render_finding
from gatekeeper.sources.render.provenance import ShiftedPositions
from gatekeeper.sources.tree import Tree
from gatekeeper.sources.units import Unit
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
    for rel in tree.files_under(unit.path):
        data = tree.read(rel)
        if data is None:
            continue
        inner = rel[len(unit.path) + 1:] if unit.path else rel
        target = chart / inner
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return chart


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


def _layer(unit: Unit, source: Any, docs_of: DocsOf) -> ValuesLayer | None:
    docs = docs_of(source.path)
    if source.field == () and not source.text:
        if not docs or not isinstance(docs[0].obj, dict):
            return None
        return ValuesLayer(source.path, docs[0], (), docs[0].obj, "values")
    doc = next((d for d in docs if d.index == source.doc_index), None)
    if doc is None:
        return None
    value: Any = doc.obj
    for part in source.field:
        value = value.get(part) if isinstance(value, dict) else (
            value[part] if isinstance(value, list) and isinstance(part, int) and part < len(value) else None)
    if source.text:
        if not isinstance(value, str):
            return None
        offset = doc.locate(source.field)[0]
        lines = doc.text.splitlines()
        first = lines[offset] if offset < len(lines) else ""
        indent = len(first) - len(first.lstrip(" "))
        parsed = parse(SourceFile(source.path, value.encode("utf-8")))
        if parsed.findings or not parsed.documents or not isinstance(parsed.documents[0].obj, dict):
            return None
        inner = parsed.documents[0]
        shifted = Document(source.path, doc.index, inner.obj, inner.line + offset,
                           ShiftedPositions(inner.positions, offset, indent), text=doc.text)
        obj: Any = inner.obj
        layer = ValuesLayer(source.path, shifted, (), obj, "values")
    elif isinstance(value, dict):
        layer = ValuesLayer(source.path, doc, source.field, value, "values")
    else:
        return None
    if source.target:
        for part in reversed(source.target.split(".")):
            layer.obj = {part: layer.obj}
            layer.nested = (part, *layer.nested)
    return layer


def values_of(unit: Unit, docs_of: DocsOf) -> Values:
    """The values a unit renders with: layers in order (chart defaults first), merged as Helm does."""
    layers = [layer for layer in (_layer(unit, s, docs_of) for s in unit.values) if layer is not None]
    merged: dict[str, Any] = {}
    default = f"{unit.path}/values.yaml" if unit.path else "values.yaml"
    for layer in layers:
        if layer.path == default and not layer.field:
            continue  # the chart's own values.yaml: Helm reads it itself
        merged = _merge(merged, layer.obj)
    for name, value in unit.set_values:
        _set_path(merged, name, value)
    return Values(layers, merged, unit.release or "release", unit.namespace or "default")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _set_path(values: dict[str, Any], dotted: str, value: Any) -> None:
    parts = [p for p in re.split(r"(?<!\\)\.", dotted) if p]
    node = values
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    if parts:
        node[parts[-1]] = value


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


def _repo_path(unit: Unit, name: str) -> str:
    inner = name.split("/", 1)[1] if "/" in name else name
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
    for name, ordinal, chunk in split_stream(decoded):
        path = _repo_path(unit, name) if name else _chart_file(unit)
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
