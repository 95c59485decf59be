"""Render deployment units into the objects a cluster receives, each field traced to its source line.

:class:`Renderer` renders one unit at a time: kustomize units through ``kubectl kustomize`` (or
``kustomize build``), Helm units through the Helm SDK (or a ``helm`` binary). Every render sees
only the unit's inputs, copied from the repository state the run checks into an empty
directory, under the limits of :mod:`limits`. Rendered output can be cached by the digest of the
unit's inputs (see ``RenderCache``); provenance is recomputed from the parsed sources each run.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gatekeeper.model import Document, Finding, PositionIndex
from gatekeeper.sources import kustomize as kz
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.render import batch, limits, overrides, seal
from gatekeeper.sources.render import helm as helm_render
from gatekeeper.sources.render import kustomize as kz_render
from gatekeeper.sources.render.helmmap import Values
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
    """Rendered output by input digest, sealed under a key derived from the same inputs (``seal``)."""

    def get_render(self, key: str, seal_key: bytes) -> bytes | None: ...

    def put_render(self, key: str, seal_key: bytes, text: bytes, objects: str | None = None) -> None: ...

    def get_render_objects(self, key: str) -> list[Any] | None: ...

    def refusal(self, key: str) -> str | None: ...

    def put_refusal(self, key: str, seal_key: bytes, message: str) -> None: ...

    def renders_alone(self, key: str) -> bool: ...

    def put_alone(self, key: str) -> None: ...


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
    references: frozenset[str] = frozenset()  # inputs the unit reads but does not consume (a GitOps object)


def as_json(documents: list[Any]) -> str | None:
    """Loaded documents as JSON, when JSON gives back exactly the same values (plain mappings with
    text keys, lists, text, numbers, booleans, null; no NaN or infinity), else None."""
    try:
        text = json.dumps(documents, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return text if json.loads(text) == documents else None


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
                 max_output: int = limits.MAX_OUTPUT, read: Iterable[SourceFile] = ()) -> None:
        """``read``: files the run has read from ``tree`` already (their bytes serve the input
        digests, so a base that many units include is not read from disk again)."""
        self.tree = tree
        self._read_from = tree
        self._known: dict[str, bytes] = {f.path: f.data for f in read}
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
        try:
            limits.max_memory()
            self._bad_limit: str | None = None
        except ValueError as exc:
            self._bad_limit = str(exc)
        self._work = tempfile.TemporaryDirectory(prefix=limits.WORK_PREFIX, dir=limits.scratch_root())
        self._count = itertools.count()
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="gatekeeper-render")
        self._jobs: dict[str, tuple[Future[dict[str, Any]], str]] = {}  # input digest -> (job, unit in it)
        self._hits: dict[str, bytes] = {}  # input digest -> rendered text (cache hits, finished jobs)
        self._refused: dict[str, str] = {}  # input digest -> kustomize's refusal, from the cache
        self._asked: set[str] = set()  # input digests looked up in the cache
        self._stamps: dict[str, str] = {}  # renderer executable -> its build's stamp
        self._plans: dict[Any, kz_render.Plan] = {}
        self._digests: dict[tuple[str, str, frozenset[str]], str] = {}
        self._seals: dict[str, bytes] = {}  # input digest -> the key its cache entry is sealed under
        self._alone: set[str] = set()  # units a batch failed on or left out (rendered again alone)
        self._bytes: dict[str, bytes | None] = {}  # input files read for digests (a base serves many units)

    def attach(self, documents: list[Document], kustomizations: dict[str, kz.Kustomization],
               tree: Tree | None = None) -> None:
        """Hand a renderer started early (on kustomization files alone) the run's parsed documents
        (and the tree, when the run adds generated files to it): lookups start over from them,
        running and finished jobs are kept."""
        if tree is not None:
            self.tree = tree
        self.kustomizations = dict(kustomizations)
        self.found, self.adopted = [], []
        self._plans = {}
        self._docs = {}
        for doc in documents:
            self._docs.setdefault(doc.path, []).append(doc)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
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
        """Raise MissingRenderer when the renderer a unit kind needs is not installed (or its
        limits are set to a value that is not one)."""
        if self._bad_limit is not None:
            raise MissingRenderer(self._bad_limit)
        if kind == KUSTOMIZE:
            if self._kustomize is None:
                self._kustomize = kustomize_executable()
            if self._kustomize is None:
                raise MissingRenderer(f"rendering kustomize units needs kubectl or kustomize: {INSTALL[KUSTOMIZE]}")
        elif kind == HELM and self._helm is None:
            self._helm = helm_render.backend()
            if self._helm is None:
                raise MissingRenderer(f"rendering Helm charts needs the Helm SDK or helm: {INSTALL[HELM]}")

    @contextmanager
    def _workdir(self) -> Iterator[Path]:
        """A fresh directory for one renderer run, removed as soon as the run is done (by the
        thread that ran it, so a thousand units' copies never pile up for one slow cleanup)."""
        path = Path(self._work.name) / f"u{next(self._count)}"  # itertools.count: safe across threads
        path.mkdir()
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def _stamp(self, exe: str) -> str:
        """The renderer build's stamp (``_stamp``), taken once per run."""
        found = self._stamps.get(exe)
        if found is None:
            found = self._stamps[exe] = _stamp(exe)
        return found

    def _read(self, path: str) -> bytes | None:
        if path not in self._bytes:
            # the run's bytes of a file, while the tree is the one they were read from (a tree of
            # generated kustomizations holds only files the run did not read, over that tree)
            known = self._known.get(path) if self._read_from in (self.tree, getattr(self.tree, "base", None)) \
                else None
            self._bytes[path] = known if known is not None else self.tree.read(path)
        return self._bytes[path]

    def _digest(self, renderer: str, unit: Unit, inputs: set[str]) -> str:
        """The digest of a unit's renderer, settings and every input file (path, length, bytes): the
        key of its result and of its cache entry. The same bytes under another separator give the
        key the entry is sealed under (``_seals``), which the store never sees."""
        memo = (renderer, repr(unit.key()), frozenset(inputs))
        found = self._digests.get(memo)
        if found is None:
            h = hashlib.sha256()
            sealing = seal.KeyMaterial()
            for part in self._key_material(renderer, unit, inputs):
                h.update(part)
                sealing.update(part)
            found = self._digests[memo] = h.hexdigest()
            self._seals[found] = sealing.key()
        return found

    def _key_material(self, renderer: str, unit: Unit, inputs: set[str]) -> Iterator[bytes]:
        yield f"render/3\n{renderer}\n{unit.key()!r}\n".encode()
        for path in sorted(inputs):
            data = self._read(path) or b""
            yield f"{path}\0{len(data)}\0".encode()
            yield data

    def plan_of(self, unit: Unit) -> kz_render.Plan:
        """A kustomize unit's plan: its kustomizations, input files and the findings of the walk."""
        return self._plan(unit)

    def _plan(self, unit: Unit) -> kz_render.Plan:
        """A kustomize unit's plan (memoised until ``attach`` brings the run's documents)."""
        key = (unit.path, unit.overrides)
        found = self._plans.get(key)
        if found is None:
            found = self._plans[key] = kz_render.plan(unit.path, self.kustomization, self.tree)
            if unit.overrides is not None:
                overrides.extend(found, unit.overrides, self.kustomization, self.tree, self.docs_of)
        return found

    def inputs(self, unit: Unit) -> list[str]:
        """The files a unit is rendered from (without rendering it)."""
        if unit.kind == KUSTOMIZE:
            return sorted(self._plan(unit).files | _references(self._plan(unit)))
        return sorted(self._helm_inputs(unit))

    def render(self, unit: Unit) -> Rendered:
        return self.render_many([unit])[0]

    # -- background jobs ----------------------------------------------------------------------
    #
    # Renderer processes run in worker threads while the gate goes on in the main thread: the
    # loader starts the units it can find from kustomization files and charts alone (``begin``)
    # before it parses the other files, and ``render_many`` collects the results. A job is keyed
    # by the digest of the unit's inputs, so a result is only ever used for exactly those inputs.

    def begin(self, units: list[Unit]) -> None:
        """Start rendering units in the background (nothing is reported until ``render_many``).
        A unit that cannot start here (no renderer installed, a plan with findings) is left to
        ``render_many``, which reports it."""
        batchable: list[tuple[kz_render.Plan, str]] = []
        for unit in units:
            try:
                if unit.kind == KUSTOMIZE:
                    prepared = self._prepare_kustomize(unit)[1]
                    if prepared is None or prepared[1] in self._jobs or self._cached_text(prepared[1]) is not None \
                            or prepared[1] in self._refused:
                        continue
                    if batch.can_batch(prepared[0]) and not (self.cache and self.cache.renders_alone(prepared[1])):
                        batchable.append(prepared)
                    else:
                        self._submit([prepared], alone=True)
                else:
                    self._begin_helm(unit)
            except MissingRenderer:
                continue
        for group in batch.group([p for p, _ in batchable]):
            keys = {p.root: k for p, k in batchable}
            self._submit([(p, keys[p.root]) for p in group.plans])

    def _submit(self, prepared: list[tuple[kz_render.Plan, str]], *, alone: bool = False) -> None:
        exe = self._exe()
        if len(prepared) == 1 and (alone or not batch.can_batch(prepared[0][0])):
            job = self._pool.submit(self._run_solo, prepared[0][0], exe)
        else:
            job = self._pool.submit(self._run_group, batch.Batch([p for p, _ in prepared]), exe)
        for unit_plan, key in prepared:
            self._jobs[key] = (job, unit_plan.root)

    def _cached_text(self, key: str) -> bytes | None:
        """A unit's output from the cache (or a job of this run); a refusal the cache holds for the
        unit goes to ``_refused``. The store is asked once per unit and run."""
        if key not in self._hits and key not in self._asked and self.cache is not None:
            self._asked.add(key)
            text = self.cache.get_render(key, self._seals[key])
            if text is not None:
                self._hits[key] = text
            else:
                refusal = self.cache.refusal(key)
                if refusal is not None:
                    self._refused[key] = refusal
        return self._hits.get(key)

    def render_many(self, units: list[Unit]) -> list[Rendered]:
        """Render units (kustomize units with disjoint inputs share one renderer process; renderer
        processes run two at a time) and give each object its provenance."""
        self.begin(units)
        return [self._collect_helm(unit) if unit.kind != KUSTOMIZE else self._collect_kustomize(unit)
                for unit in units]

    def _collect_kustomize(self, unit: Unit) -> Rendered:
        started = time.perf_counter()
        result, prepared = self._prepare_kustomize(unit)
        if prepared is not None:
            unit_plan, key = prepared
            cached = self._cached_text(key)
            if cached is not None:
                self._fill(result, unit_plan, cached, key, cached=True)
            elif key in self._refused:
                result.findings.extend(kz_render.refused(unit_plan, self._refused[key]).findings)
            else:
                if key not in self._jobs:
                    self._submit([prepared])
                job, root = self._jobs[key]
                waited = time.perf_counter()
                produced, seconds = job.result()[root]
                if root in self._alone and self.cache is not None:
                    self.cache.put_alone(key)  # the next run renders it alone from the start
                started += time.perf_counter() - waited  # the wait is counted as the job's own time
                result.seconds += seconds
                if isinstance(produced, kz_render.Output):
                    result.findings.extend(produced.findings)
                    if produced.refusal is not None and self.cache is not None:
                        self.cache.put_refusal(key, self._seals[key], produced.refusal)
                else:
                    self._hits[key] = produced
                    stored, snapshot = self._fill(result, unit_plan, produced, key, cached=False)
                    if self.cache is not None and stored:
                        self.cache.put_render(key, self._seals[key], produced, snapshot)
        result.seconds += time.perf_counter() - started
        return result

    def _run_solo(self, unit_plan: kz_render.Plan, exe: str
                  ) -> dict[str, tuple[bytes | kz_render.Output, float]]:
        started = time.perf_counter()
        with self._workdir() as workdir:
            produced = kz_render.run(unit_plan, self.tree, exe, workdir, self.timeout, self.max_output)
        return {unit_plan.root: (produced, time.perf_counter() - started)}

    def _run_group(self, group: batch.Batch, exe: str) -> dict[str, tuple[bytes | kz_render.Output, float]]:
        """One group. kustomize stops at the first unit that fails and names it: that unit is rendered
        alone (for its own error finding), the units before it (which built) run again as one batch
        and those after it as another, so a failure costs one more pass, not one per unit."""
        out: dict[str, tuple[bytes | kz_render.Output, float]] = {}
        queue = [list(group.plans)]
        while queue:
            plans = queue.pop(0)
            if not plans:
                continue
            started = time.perf_counter()
            todo = batch.Batch(plans, set().union(*(p.files for p in plans)))
            with self._workdir() as workdir:
                outputs, failed = batch.run_batch(todo, self.tree, exe, workdir, self.timeout, self.max_output,
                                                  lambda p, t, d: kz_render.materialize(p, t, d, origins=False))
            share = (time.perf_counter() - started) / len(plans)
            if outputs is not None:
                out.update((p.root, (kz_render.with_base(batch.BATCH_DIR, outputs[p.root]), share))
                           for p in plans if p.root in outputs)
                self._alone |= todo.alone
                for unit_plan in (p for p in plans if p.root not in outputs):
                    produced, seconds = self._run_solo(unit_plan, exe)[unit_plan.root]
                    out[unit_plan.root] = (produced, share + seconds)
                continue
            at = next((i for i, p in enumerate(plans) if p.root == failed), None) if failed else None
            if at is not None:
                self._alone.add(plans[at].root)
            for unit_plan in [plans[at]] if at is not None else plans:
                produced, seconds = self._run_solo(unit_plan, exe)[unit_plan.root]
                out[unit_plan.root] = (produced, share + seconds)
            if at is not None:
                queue[:0] = [plans[:at], plans[at + 1:]]
        return out

    def _exe(self) -> str:
        self.require(KUSTOMIZE)
        assert self._kustomize is not None
        return self._kustomize

    def _prepare_kustomize(self, unit: Unit) -> tuple[Rendered, tuple[kz_render.Plan, str] | None]:
        unit_plan = self._plan(unit)
        refs = _references(unit_plan)
        result = Rendered(unit, frozenset(unit_plan.files | refs), findings=list(unit_plan.findings), references=refs)
        if not unit_plan.renderable or not unit_plan.kustomizations:
            return result, None
        exe = self._exe()
        return result, (unit_plan, self._digest(f"kustomize:{Path(exe).name}:{self._stamp(exe)}", unit,
                                                unit_plan.files | refs))

    def _fill(self, result: Rendered, unit_plan: kz_render.Plan, text: bytes, key: str, *, cached: bool
              ) -> tuple[bool, str | None]:
        """Objects and provenance from a unit's output (a cache hit's documents as stored beside
        it, else loaded from the text); returns whether the output could be read (else it is not
        stored) and, for a fresh render, the documents as JSON for the cache."""
        loaded: list[Any] | Finding | None = None
        snapshot = None
        if cached and self.cache is not None:
            loaded = self.cache.get_render_objects(key)
        if loaded is None:
            loaded, regular = kz_render.load_output(text)
            if regular and not cached and self.cache is not None and not isinstance(loaded, Finding):
                snapshot = as_json(loaded)  # before provenance takes the origin annotations off
        output = kz_render.objects(text, unit_plan, self.docs_of, loaded)
        result.findings.extend(output.findings)
        result.objects = list(output.objects)
        result.rendered = output.rendered
        result.cached = cached
        result.text = text
        return (output.loaded is not None, snapshot) if output.rendered else (False, None)

    # -- Helm ---------------------------------------------------------------------------------

    def _helm_inputs(self, unit: Unit) -> set[str]:
        built = helm_render.local_dependencies(unit.path, self.tree).values()  # file:// charts it builds in
        return set(self.tree.files_under(unit.path)).union(*(self.tree.files_under(d) for d in built)) \
            | unit.value_files()

    def _prepare_helm(self, unit: Unit, result: Rendered | None = None
                      ) -> tuple[helm_render.Backend, Values, str] | None:
        """The backend, values and input digest of a Helm unit; None when it cannot be rendered
        (its findings go to ``result``)."""
        problems = helm_render.check_chart(unit, self.tree, self.docs_of)
        if result is not None:
            result.findings.extend(problems)
        if any(f.rule in ("render-remote", "render-outside") for f in problems):
            return None
        self.require(HELM)
        assert self._helm is not None
        values = helm_render.values_of(unit, self.docs_of, self.tree.read)
        if result is not None:
            result.findings.extend(values.findings)
        exe = getattr(self._helm, "exe", None)
        build = self._stamp(exe) if isinstance(exe, str) else _version(self._helm.name)
        return self._helm, values, self._digest(f"helm:{self._helm.name}:{build}", unit, self._helm_inputs(unit))

    def _begin_helm(self, unit: Unit) -> None:
        prepared = self._prepare_helm(unit)
        if prepared is None or prepared[2] in self._jobs or self._cached_text(prepared[2]) is not None:
            return
        backend, values, key = prepared

        def produce() -> dict[str, tuple[bytes | helm_render.Failure, float]]:
            started = time.perf_counter()
            with self._workdir() as workdir:
                produced = backend.render(unit, values, self.tree, workdir, self.timeout, self.max_output)
            return {unit.path: (produced, time.perf_counter() - started)}

        self._jobs[key] = (self._pool.submit(produce), unit.path)

    def _collect_helm(self, unit: Unit) -> Rendered:
        started = time.perf_counter()
        # a document holding values (an Application, a HelmRelease, a ConfigMap) is applied itself too
        result = Rendered(unit, frozenset(self._helm_inputs(unit)),
                          references=frozenset(v.path for v in unit.values if v.field))
        prepared = self._prepare_helm(unit, result)
        if prepared is None:
            return result
        _, values, key = prepared
        produced: Any = self._cached_text(key)
        result.cached = produced is not None
        if produced is None:
            if key not in self._jobs:
                self._begin_helm(unit)
            job, name = self._jobs[key]
            waited = time.perf_counter()
            produced, seconds = job.result()[name]
            started += time.perf_counter() - waited
            result.seconds += seconds
            if isinstance(produced, bytes):
                if self.cache is not None:
                    self.cache.put_render(key, self._seals[key], produced)
                self._hits[key] = produced
        if isinstance(produced, helm_render.Failure):
            result.findings.append(produced.finding)
        else:
            output = helm_render.objects(produced, unit, values, self.tree, self.docs_of)
            result.findings.extend(output.findings)
            result.objects = output.objects
            result.rendered = output.rendered
            result.text = produced
        result.seconds += time.perf_counter() - started
        return result


def _references(unit_plan: kz_render.Plan) -> frozenset[str]:
    """Files a unit's overrides read (the GitOps object, substituteFrom objects): inputs, not consumed."""
    return unit_plan.overlay.references if unit_plan.overlay is not None else frozenset()


def _stamp(exe: str) -> str:
    """The size and modification time of a renderer executable: part of every cache key, so output
    of another build of the renderer is never served."""
    try:
        found = os.stat(exe)
    except OSError:
        return "unknown"
    return f"{found.st_size}:{found.st_mtime_ns}"


@functools.cache
def _version(package: str) -> str:
    """An installed package's version (the Helm SDK's), for the cache key as ``_stamp``."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
