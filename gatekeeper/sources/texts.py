"""Committed files no parser reads that can still hold a credential, for the secrets check's text scan.

A Helm chart's templates and helpers are Go templates, not YAML, until rendered, and only what a
render produces is parsed: a Secret under ``{{ if .Values.enabled }}`` (false by default), a token
in an unused ``define`` or a file read through ``.Files.Get`` never reaches a parsed document, yet
the credential is committed and leaks whatever the render does. Files with an upper-case YAML or
JSON extension are not deployed by Argo CD or Flux (so not checked as manifests) but are committed
too. Each such file is read from the run's tree (never through a symlink out of it) and handed to
the secrets check whole, as text. A chart's files are those Helm loads: what its ``.helmignore``
leaves out is no part of it (a chart at the repository root does not make every file one).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence

from gatekeeper.model import Document
from gatekeeper.sources import helmignore
from gatekeeper.sources.files import SourceFile, matches
from gatekeeper.sources.tree import Tree

CHART_FILE = "Chart.yaml"
ARCHIVES = (".tgz", ".tar.gz", ".zip", ".png", ".jpg", ".jpeg", ".gif", ".ico")


def unparsed(tree: Tree, documents: Sequence[Document], parsed: Iterable[str], extra: Iterable[str] = (),
             exclude: Sequence[str] = (), max_size: int = 5 * 1024 * 1024) -> list[SourceFile]:
    """Every file of every Helm chart among ``documents`` (a directory with a ``Chart.yaml``) that gave
    no document (not collected, or a template that is not YAML as written), plus the ``extra`` paths;
    excluded, binary and oversized files left out."""
    done = set(parsed)
    charts = {posixpath.dirname(d.path) for d in documents if posixpath.basename(d.path) == CHART_FILE}
    wanted = [p for chart in sorted(charts) for p in chart_files(tree, chart)]
    out: list[SourceFile] = []
    seen: set[str] = set()
    for path in [*wanted, *extra]:
        if path in done or path in seen or path.lower().endswith(ARCHIVES) or matches(path, exclude):
            continue
        seen.add(path)
        data = tree.read(path)
        if data is None or len(data) > max_size or b"\0" in data:
            continue
        out.append(SourceFile(path, data))
    return out


def chart_files(tree: Tree, chart: str) -> list[str]:
    """The files of the chart in directory ``chart`` (every file below it that its ``.helmignore``
    does not leave out, as Helm loads it)."""
    data = tree.read(posixpath.join(chart, helmignore.NAME) if chart else helmignore.NAME)
    rules = helmignore.HelmIgnore(data.decode("utf-8", "replace") if data else "")
    prefix = chart + "/" if chart else ""
    return [p for p in tree.files_under(chart) if not rules.ignores(p[len(prefix):])]
