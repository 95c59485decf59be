"""Render deployment units into the objects a cluster receives, each field traced to its source line.

:class:`Renderer` renders one unit at a time: kustomize units through ``kubectl kustomize`` (or
``kustomize build``), Helm units through the Helm SDK (or a ``helm`` binary). Every render sees
only the unit's inputs, copied from the repository state the run checks into an empty
directory, under the limits of :mod:`limits`. Rendered output can be cached by the digest of the
unit's inputs (see ``RenderCache``); provenance is recomputed from the parsed sources each run.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gatekeeper.model import Document, Finding, PositionIndex
from gatekeeper.sources import kustomize as kz
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.render import batch, limits
from gatekeeper.sources.render import helm as helm_render
from gatekeeper.sources.render import kustomize as kz_render
from gatekeeper.sources.resources import extract
from gatekeeper.sources.tree import Tree
from gatekeeper.sources.units import HELM, KUSTOMIZE, Unit
from gatekeeper.sources.yamlload import parse

WORKERS = 2  # renderer processes at a time (the machine the gate is measured on has two cores)
INSTALL = {
    KUSTOMIZE: "pip install 'gitops-gatekeeper[kustomize]' (kubectl with kustomize), or put kustomize on PATH",
    HELM: "pip install 'gitops-gatekeeper[helm]' (the Helm SDK), or put helm on PATH",
}


class MissingRenderer(Exception):
    """A unit needs a renderer that is not installed: the run exits 2 with the install command."""


class RenderCache(Protocol):
    """Rendered output by input digest; ``put`` may decline to store (a secret in the output)."""

    def get_render(self, key: str) -> bytes | None: ...

    def put_render(self, key: str, text: bytes) -> None: ...


@dataclass(slots=True)
class Rendered:
    """One unit after rendering: its objects with provenance, its inputs and findings."""

    unit: Unit
    inputs: frozenset[str]
    objects: list[tuple[dict[str, Any], PositionIndex]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    rendered: bool = False
    seconds: float = 0.0
    cached: bool = False
    text: bytes = b""


def kustomize_executable() -> str | None:
    """``$GATEKEEPER_KUSTOMIZE`` (a kubectl or kustomize path; ``none`` turns kustomize rendering off),
    else kubectl installed beside this interpreter (the kustomize extra), else kubectl or kustomize on PATH."""
    chosen = os.environ.get("GATEKEEPER_KUSTOMIZE")
    if chosen:
        return None if chosen == "none" else shutil.which(chosen)
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file():
        return str(beside)
    return shutil.which("kubectl") or shutil.which("kustomize")


class Renderer:
    """Renders units of one repository state; ``docs_of`` gives the parsed documents of a file."""

    def __init__(self, tree: Tree, documents: list[Document], kustomizations: dict[str, kz.Kustomization],
                 cache: RenderCache | None = None, timeout: float = limits.RENDER_TIMEOUT,
                 max_output: int = limits.MAX_OUTPUT) -> None:
        self.tree = tree
        self.kustomizations: dict[str, kz.Kustomization | None] = dict(kustomizations)
        self.found: list[Finding] = []  # shape findings of kustomizations found beyond the run's files
        self.adopted: list[Document] = []  # documents parsed here because the run had not collected them
        self.cache = cache
        self.timeout = timeout
        self.max_output = max_output
        self._docs: dict[str, list[Document]] = {}
        for doc in documents:
            self._docs.setdefault(doc.path, []).append(doc)
        self._kustomize: str | None = None
        self._helm: helm_render.Backend | None = None
        self._work = tempfile.TemporaryDirectory(prefix="gatekeeper-render-")
        self._count = itertools.count()

    def close(self) -> None:
        if self._helm is not None:
            self._helm.close()
        self._work.cleanup()

    def docs_of(self, path: str) -> list[Document]:
        """The parsed documents of a file (parsed from the tree when the run did not collect it)."""
        found = self._docs.get(path)
        if found is None:
            data = self.tree.read(path)
            found = []
            if data is not None:
                parsed = parse(SourceFile(path, data))
                for doc in parsed.documents:
                    extract(doc)
                found = parsed.documents
                self.adopted.extend(found)
            self._docs[path] = found
        return found

    def kustomization(self, directory: str) -> kz.Kustomization | None:
        """The kustomization of a directory (read from the tree when the run did not collect it)."""
        if directory in self.kustomizations:
            return self.kustomizations[directory]
        found = None
        for name in kz.KUSTOMIZATION_NAMES:
            path = f"{directory}/{name}" if directory else name
            if self.tree.kind(path) == "file":
                docs = self.docs_of(path)
                found = kz.parse(docs[0], self.tree.kind) if docs else None
                if found is not None:
                    self.found.extend(found.findings)
                break
        self.kustomizations[directory] = found
        return found

    def require(self, kind: str) -> None:
        """Raise MissingRenderer when the renderer a unit kind needs is not installed."""
        if kind == KUSTOMIZE:
            if self._kustomize is None:
                self._kustomize = kustomize_executable()
            if self._kustomize is None:
                raise MissingRenderer(f"rendering kustomize units needs kubectl or kustomize: {INSTALL[KUSTOMIZE]}")
        elif kind == HELM and self._helm is None:
            self._helm = helm_render.backend()
            if self._helm is None:
                raise MissingRenderer(f"rendering Helm charts needs the Helm SDK or helm: {INSTALL[HELM]}")

    def _workdir(self) -> Path:
        path = Path(self._work.name) / f"u{next(self._count)}"  # itertools.count: safe across threads
        path.mkdir()
        return path

    def _digest(self, renderer: str, unit: Unit, inputs: set[str]) -> str:
        h = hashlib.sha256(f"render/2\n{renderer}\n{unit.key()!r}\n".encode())
        for path in sorted(inputs):
            data = self.tree.read(path) or b""
            h.update(f"{path}\0{len(data)}\0".encode())
            h.update(data)
        return h.hexdigest()

    def inputs(self, unit: Unit) -> list[str]:
        """The files a unit is rendered from (without rendering it)."""
        if unit.kind == KUSTOMIZE:
            return sorted(kz_render.plan(unit.path, self.kustomization, self.tree).files)
        return sorted(set(self.tree.files_under(unit.path)) | unit.value_files())

    def render(self, unit: Unit) -> Rendered:
        return self.render_many([unit])[0]

    def render_many(self, units: list[Unit]) -> list[Rendered]:
        """Render units (kustomize units with disjoint inputs share one renderer process)."""
        results: list[Rendered] = []
        pending: list[tuple[Rendered, kz_render.Plan, str]] = []
        for unit in units:
            started = time.perf_counter()
            if unit.kind != KUSTOMIZE:
                result = self._render_helm(unit)
            else:
                prepared = self._prepare_kustomize(unit)
                result = prepared[0]
                if prepared[1] is not None:
                    unit_plan, key = prepared[1]
                    cached = self.cache.get_render(key) if self.cache is not None else None
                    if cached is not None:
                        self._fill(result, unit_plan, cached, cached=True)
                    elif batch.can_batch(unit_plan):
                        pending.append((result, unit_plan, key))
                    else:
                        self._solo(result, unit_plan, key)
            result.seconds += time.perf_counter() - started
            results.append(result)
        self._batches(pending)
        return results

    def _batches(self, pending: list[tuple[Rendered, kz_render.Plan, str]]) -> None:
        """Render the batchable units, two renderer processes at a time (the gate waits on them)."""
        by_root = {unit_plan.root: (result, key) for result, unit_plan, key in pending}
        groups = batch.group([unit_plan for _, unit_plan, _ in pending])
        exe = self._exe() if groups else ""
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            done = list(pool.map(lambda g: self._run_group(g, exe), groups))
        for outputs in done:
            for unit_plan, produced, seconds in outputs:
                result, key = by_root[unit_plan.root]
                result.seconds += seconds
                if isinstance(produced, kz_render.Output):
                    result.findings.extend(produced.findings)
                    continue
                if self.cache is not None:
                    self.cache.put_render(key, produced)
                self._fill(result, unit_plan, produced, cached=False)

    def _run_group(self, group: batch.Batch, exe: str
                   ) -> list[tuple[kz_render.Plan, bytes | kz_render.Output, float]]:
        """One group. kustomize stops at the first unit that fails and names it: that unit is rendered
        alone (for its own error finding), the units before it (which built) run again as one batch
        and those after it as another, so a failure costs one more pass, not one per unit."""
        out: list[tuple[kz_render.Plan, bytes | kz_render.Output, float]] = []
        queue = [list(group.plans)]
        while queue:
            plans = queue.pop(0)
            if not plans:
                continue
            started = time.perf_counter()
            todo = batch.Batch(plans, set().union(*(p.files for p in plans)))
            outputs, failed = batch.run_batch(todo, self.tree, exe, self._workdir(), self.timeout, self.max_output,
                                              lambda p, t, d: kz_render.materialize(p, t, d, origins=False))
            share = (time.perf_counter() - started) / len(plans)
            if outputs is not None:
                out.extend((p, kz_render.with_base(batch.BATCH_DIR, outputs[p.root]), share) for p in plans)
                continue
            at = next((i for i, p in enumerate(plans) if p.root == failed), None) if failed else None
            alone = [plans[at]] if at is not None else plans
            for unit_plan in alone:
                started = time.perf_counter()
                produced = kz_render.run(unit_plan, self.tree, exe, self._workdir(), self.timeout, self.max_output)
                out.append((unit_plan, produced, share + time.perf_counter() - started))
            if at is not None:
                queue[:0] = [plans[:at], plans[at + 1:]]
        return out

    def _exe(self) -> str:
        self.require(KUSTOMIZE)
        assert self._kustomize is not None
        return self._kustomize

    def _prepare_kustomize(self, unit: Unit) -> tuple[Rendered, tuple[kz_render.Plan, str] | None]:
        unit_plan = kz_render.plan(unit.path, self.kustomization, self.tree)
        result = Rendered(unit, frozenset(unit_plan.files), findings=list(unit_plan.findings))
        if not unit_plan.renderable or not unit_plan.kustomizations:
            return result, None
        exe = self._exe()
        return result, (unit_plan, self._digest(f"kustomize:{Path(exe).name}", unit, unit_plan.files))

    def _solo(self, result: Rendered, unit_plan: kz_render.Plan, key: str) -> None:
        started = time.perf_counter()
        produced = kz_render.run(unit_plan, self.tree, self._exe(), self._workdir(), self.timeout,
                                 self.max_output)
        if isinstance(produced, kz_render.Output):
            result.findings.extend(produced.findings)
        else:
            if self.cache is not None:
                self.cache.put_render(key, produced)
            self._fill(result, unit_plan, produced, cached=False)
        result.seconds += time.perf_counter() - started

    def _fill(self, result: Rendered, unit_plan: kz_render.Plan, text: bytes, *, cached: bool) -> None:
        output = kz_render.objects(text, unit_plan, self.docs_of)
        result.findings.extend(output.findings)
        result.objects = list(output.objects)
        result.rendered = output.rendered
        result.cached = cached
        result.text = text

    def _cached(self, key: str, produce: Callable[[], Any]) -> tuple[Any, bool]:  # Helm units
        if self.cache is not None:
            text = self.cache.get_render(key)
            if text is not None:
                return text, True
        produced = produce()
        if self.cache is not None and isinstance(produced, bytes):
            self.cache.put_render(key, produced)
        return produced, False

    def _render_helm(self, unit: Unit) -> Rendered:
        inputs = set(self.tree.files_under(unit.path)) | unit.value_files()
        result = Rendered(unit, frozenset(inputs))
        problems = helm_render.check_chart(unit, self.tree, self.docs_of)
        result.findings.extend(problems)
        if any(f.rule in ("render-remote", "render-outside") for f in problems):
            return result
        self.require(HELM)
        assert self._helm is not None
        backend = self._helm
        values = helm_render.values_of(unit, self.docs_of, self.tree.read)
        result.findings.extend(values.findings)
        key = self._digest(f"helm:{backend.name}", unit, inputs)
        produced, result.cached = self._cached(key, lambda: backend.render(
            unit, values, self.tree, self._workdir(), self.timeout, self.max_output))
        if isinstance(produced, helm_render.Failure):
            result.findings.append(produced.finding)
            return result
        output = helm_render.objects(produced, unit, values, self.tree, self.docs_of)
        result.findings.extend(output.findings)
        result.objects = output.objects
        result.rendered = output.rendered
        result.text = produced
        return result
