"""The one pipeline every entry point runs: files -> documents -> resources -> checks -> report.

Each stage is a small function; ``execute`` strings them together. A check that raises is
caught here, recorded as an error naming the check and the file, and the run fails closed.
"""

from __future__ import annotations

import datetime
import gc
import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from gatekeeper import __version__, baseline
from gatekeeper.checks import Check, CheckLoadError, Context, catalogue, get_check, names
from gatekeeper.checks.secrets.masking import Masker
from gatekeeper.config import Config
from gatekeeper.model import CheckError, Document, Finding, PositionIndex, Report, Resource, Severity
from gatekeeper.sources import classify, kustomize, routes, texts
from gatekeeper.sources.files import DEFAULT_INCLUDE, SourceFile, Walker, file_finding
from gatekeeper.sources.render import fluxgen, stage
from gatekeeper.sources.render import partial as partial_patches
from gatekeeper.sources.resources import extract
from gatekeeper.sources.tree import DiskTree, Tree
from gatekeeper.sources.yamlload import ParsedFile, parse
from gatekeeper.waivers import apply_waivers

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class Run:
    """Everything that decides what a run checks and how; built by the CLI (or a test)."""

    root: Path
    paths: list[Path] = field(default_factory=list)
    config: Config = field(default_factory=Config)
    checks: list[str] | None = None
    fail_on: Severity | None = None
    kubernetes_version: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    files: list[SourceFile] | None = None  # given directly (git modes) instead of walking paths
    case_skipped: list[str] = field(default_factory=list)  # with ``files``: the ``x.YAML`` files (sources/files)
    report_paths: set[str] | None = None  # report findings only for these files (None: all)
    hook_paths: set[str] | None = None  # per-document/resource hooks only for these files (None: report_paths)
    progress: Progress | None = None
    today: datetime.date | None = None  # the waivers' clock (None: today in UTC); fixed in tests
    # parse override (git modes reuse parses); its flag says no per-file hook runs on the file
    parser: Callable[[SourceFile, bool], ParsedFile] | None = None
    render: str = "auto"  # render deployment units ("auto") or check every file as it is ("none")
    units: list[Any] | None = None  # the units to render (the sync step's paths); None: discover them
    tree: Tree | None = None  # the repository state renders read (None: the root on disk)
    base_file: Callable[[str], bytes | None] | None = None  # git modes: a file at the base (Context.base_file)
    render_cache: Any = None  # rendered output by input digest (git modes: the context cache store)
    published: frozenset[str] = frozenset()  # files published as they are: always whole objects
    render_outcome: Any = None  # set by the load stage: the units and what rendering them produced
    # Git modes: the changed paths (deleted ones too); only units with an input among them are
    # rendered, the others' files stay context as written (None: render every unit)
    render_focus: set[str] | None = None
    baseline: bool = True  # False while a baseline is being written (the file may be the shell's empty one)
    allow_empty: bool = False  # a run that checked nothing (no file, or no check ran) passes instead of exit 2


@dataclass(slots=True)
class Loaded:
    """Parsed state of a run before any check runs."""

    files: int
    documents: list[Document]
    resources: list[Resource]
    findings: list[Finding]
    notes: list[str]
    render: stage.Outcome | None = None
    classes: dict[str, classify.Classification] = field(default_factory=dict)
    texts: list[SourceFile] = field(default_factory=list)  # committed files no parser reads (sources/texts)


def load(run: Run) -> Loaded:
    """Collect and parse the run's files into documents and resources."""
    findings: list[Finding] = []
    notes: list[str] = []
    walker: Walker | None = None
    skipped: list[str] = []
    chart_texts: list[str] = []
    if run.files is None:
        walker = Walker(run.root, run.config.include or DEFAULT_INCLUDE, run.config.exclude,
                        run.config.max_file_size)
        collected = walker.collect(run.paths or [run.root])
        files, findings, notes = list(collected.files), collected.findings, collected.notes
        skipped = collected.case_skipped
        chart_texts = collected.chart_texts
    else:
        files, skipped = run.files, list(run.case_skipped)
    refused = len(findings)
    documents: list[Document] = []
    resources: list[Resource] = []
    tree = run.tree if run.tree is not None else DiskTree(run.root)
    # renderer processes start on the kustomization files and charts, and work while the rest parses;
    # those parses are the run's own (a run without a parser keeps them for _parse_all), so every
    # reader of a kustomization shares one parse of it
    early_parses: dict[str, ParsedFile] = {}
    early = stage.start(files, tree, mode=run.render, units=run.units, configured=run.config.render,
                        cache=run.render_cache, focus=run.render_focus,
                        parser=partial(_parse_early, early_parses) if run.parser is None else partial(_parse_one, run))
    try:
        with gc_paused():
            _parse_all(run, files, findings, documents, resources, early_parses)
            if skipped:
                files = files + _case_variants(run, tree, skipped, findings, documents, resources, notes)
            unread = texts.unparsed(tree, documents, (d.path for d in documents), [*skipped, *chart_texts],
                                    run.config.exclude, run.config.max_file_size)
            _report_changed_texts(run, unread)
            _hook_reading_kustomizations(run, documents)
        # patch files that something applies as plain manifests keep their objects, like published files
        applied = routes.applied_patches(documents, tree.kind)
        classes = classify.classify(documents, (f.path for f in files), applied)
        resources, findings = _apply_classes(classes, documents, resources, findings, notes, run.published)
    except BaseException:
        if early is not None:
            early.close()
        raise
    outcome = stage.apply(documents, tree, mode=run.render, units=run.units, configured=run.config.render,
                          cache=run.render_cache, published=run.published | frozenset(applied),
                          focus=run.render_focus, early=early)
    run.render_outcome = outcome
    findings.extend(outcome.findings)
    notes.extend(outcome.notes)
    documents.extend(outcome.documents)
    resources = [r for doc in documents for r in doc.resources]
    named = set(chart_texts)  # chart templates named on the command line: read, as text
    read = len(files) + refused + outcome.adopted_files + sum(1 for t in unread if t.path in named)
    return Loaded(read, documents, resources, findings, notes, outcome, classes, unread)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC for a run.

    The node trees kept for positions are millions of long-lived objects: with the collector on,
    every collection re-traverses them and a run turns quadratic. A run's garbage is acyclic and
    freed by reference counting; the previous state is restored afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parse_all(run: Run, files: list[SourceFile], findings: list[Finding], documents: list[Document],
               resources: list[Resource], early: dict[str, ParsedFile] | None = None) -> None:
    """Parse every file into documents and resources (appending to the given lists); ``early`` holds
    parses made before (by the render stage's start, of these very files)."""
    total = len(files)
    for i, source in enumerate(files):
        if len(source.data) > run.config.max_file_size:
            findings.append(file_finding(source.path, "file-too-large",
                                         f"file is {len(source.data)} bytes, over the "
                                         f"{run.config.max_file_size}-byte limit; it was not checked"))
            continue
        parsed = early.pop(source.path) if early and source.path in early else _parse_one(run, source)
        findings.extend(parsed.findings)
        for doc in parsed.documents:
            findings.extend(extract(doc))
            documents.append(doc)
            resources.extend(doc.resources)
        if run.progress is not None and (i % 200 == 0 or i + 1 == total):
            run.progress(i + 1, total)


def _parse_early(kept: dict[str, ParsedFile], source: SourceFile) -> ParsedFile:
    """A file's parse, kept for ``_parse_all`` (which would parse the same bytes again)."""
    parsed = kept[source.path] = parse(source)
    return parsed


def _parse_one(run: Run, source: SourceFile) -> ParsedFile:
    """A file's parse, through the run's parser when it has one (told whether hooks run on the file)."""
    if run.parser is None:
        return parse(source)
    hooked = run.report_paths if run.hook_paths is None else run.hook_paths
    return run.parser(source, hooked is not None and source.path not in hooked)


def _report_changed_texts(run: Run, unread: list[SourceFile]) -> None:
    """Git modes: a changed file read as text (a chart's ``_helpers.tpl``) is reported like a changed
    manifest, although the include globs that choose the changed manifests do not match it."""
    changed = {t.path for t in unread if run.render_focus is not None and t.path in run.render_focus}
    if not changed:
        return
    if run.report_paths is not None:
        run.report_paths = run.report_paths | changed
    if run.hook_paths is not None:
        run.hook_paths = run.hook_paths | changed


def _hook_reading_kustomizations(run: Run, documents: list[Document]) -> None:
    """Git modes: a changed file that is no manifest (a generator's ``.env`` or ``files`` entry) is
    read through a kustomization in a directory above it (kustomize reads nothing outside its root);
    those kustomizations are checked as if changed, so what the file now holds is reported at its line."""
    if run.hook_paths is None or not run.render_focus:
        return
    loaded = {d.path for d in documents}
    directories = {p.rpartition("/")[0] for p in run.render_focus if p not in loaded}
    if not directories:
        return
    above = {parent for d in directories for parent in _ancestors(d)}
    run.hook_paths = run.hook_paths | {p for p in loaded if kustomize.is_kustomization_file(p)
                                       and p.rpartition("/")[0] in above}


def _ancestors(directory: str) -> Iterator[str]:
    """A repository-relative directory and every directory above it, up to the root (``""``)."""
    while directory:
        yield directory
        directory = directory.rpartition("/")[0]
    yield ""


def _case_variants(run: Run, tree: Tree, skipped: list[str], findings: list[Finding],
                   documents: list[Document], resources: list[Resource], notes: list[str]) -> list[SourceFile]:
    """Files with an upper-case extension (``x.YAML``): Argo CD (``^.*\\.(yaml|yml|json)$``) and Flux
    (``.yaml``/``.yml``) match extensions case-sensitively and never read them, but kustomize reads
    any file a kustomization names. Those are checked; the rest are named in a note."""
    named = classify.named_by_kustomizations(documents)
    read = [SourceFile(rel, data) for rel in skipped if rel in named and (data := tree.read(rel)) is not None]
    _parse_all(run, read, findings, documents, resources)
    rest = [rel for rel in skipped if rel not in named]
    if rest:
        shown = ", ".join(rest[:3]) + (f" and {len(rest) - 3} more" if len(rest) > 3 else "")
        notes.append(f"{len(rest)} file(s) with an upper-case extension were not checked as manifests, only "
                     f"searched for credentials as text ({shown}): Argo CD "
                     "reads .yaml/.yml/.json and Flux .yaml/.yml, both case-sensitively, so neither deploys them "
                     "(files a kustomization names are read by kustomize and were checked); rename them, or add "
                     "them to include")
    return read


def _apply_classes(classes: dict[str, classify.Classification], documents: list[Document],
                   resources: list[Resource], findings: list[Finding], notes: list[str],
                   published: frozenset[str] = frozenset()) -> tuple[list[Resource], list[Finding]]:
    """Objects in files that are not manifests (patches, tool configs, lock files...) stay documents,
    not resources; loader findings that assume a manifest are dropped for them. Files the sync step
    publishes as they are keep every object: whatever is published is checked as a whole object."""
    dropped: dict[classify.FileClass, int] = {}
    for doc in documents:
        role = classes[doc.path].role
        if doc.resources and role in classify.NOT_OBJECTS and doc.path not in published:
            dropped[role] = dropped.get(role, 0) + len(doc.resources)
            doc.resources = []
    kept = [f for f in findings if not (f.rule == "missing-kind" and f.path in classes
                                        and classes[f.path].role in classify.NOT_OBJECTS)]
    kept = [classify.soften_parse_error(f, classes.get(f.path)) for f in kept]
    if not dropped:
        return resources, kept
    parts = ", ".join(f"{n} in {role.value.replace('-', ' ')} files"
                      for role, n in sorted(dropped.items(), key=lambda kv: kv[0].value))
    notes.append(f"{sum(dropped.values())} object(s) in files that are not manifests are not checked as cluster "
                 f"objects ({parts}); --explain-files lists each file's class")
    return [r for doc in documents for r in doc.resources], kept


def selected_checks(run: Run) -> list[str]:
    """Names of the checks to run: the explicit selection, else those enabled in config."""
    if run.checks is not None:
        unknown = [c for c in run.checks if c not in names()]
        if unknown:
            raise CheckLoadError(f"unknown check(s): {', '.join(unknown)} (available: {', '.join(names())})")
        return [c for c in names() if c in run.checks]
    chosen = []
    for name in names():
        if run.config.check_enabled(name, get_check(name).default_enabled):
            chosen.append(name)
    return chosen


def _guard(check: Check, path: str | None, errors: list[CheckError],
           produce: Callable[[], Iterable[Finding]]) -> list[Finding]:
    """Run one hook; an exception becomes a CheckError (fail closed) instead of a crash."""
    try:
        return list(produce())
    except Exception as exc:
        _record(check, path, errors, exc)
    return []


def _record(check: Check, path: str | None, errors: list[CheckError], exc: Exception) -> None:
    """The error boundary's verdict on an exception raised by a check's hook."""
    if isinstance(exc, CheckLoadError):
        errors.append(CheckError(check.name, str(exc), path))
        return
    where = f" in {path}" if path else ""
    errors.append(CheckError(check.name, f"internal error{where}: {describe(exc)}", path))


def nothing_checked(report: Report) -> list[CheckError]:
    """The error of a run that checked nothing: it must not pass, since a configuration that excludes
    every file or disables every check would switch the gate off (``--allow-empty`` accepts it)."""
    if report.files == 0:
        why = "no file was read (the PATHS hold no manifest, or include/exclude in .gatekeeper.yaml match none)"
    elif not report.checks:
        why = "no check ran (every selected check is disabled or inactive)"
    else:
        return []
    return [CheckError("pipeline", f"nothing was checked: {why}; pass --allow-empty if that is intended")]


def describe(exc: BaseException) -> str:
    """An unexpected exception as a report names it: its class. Its text can quote the document
    being read (PyYAML's bool constructor puts the value in a KeyError, an OSError the file name a
    ``kind`` became), so the text is shown only when ``GATEKEEPER_DEBUG`` is set."""
    if os.environ.get("GATEKEEPER_DEBUG"):
        text = str(exc)
        return f"{exc.__class__.__name__}: {text.splitlines()[0][:200] if text else ''}"
    return f"{exc.__class__.__name__} (details withheld: set GATEKEEPER_DEBUG=1 to see them)"


def run_checks(run: Run, loaded: Loaded, report: Report, detected: set[str] | None = None) -> list[Finding]:
    """Prepare and run every selected check over the loaded state; secret values the checks
    detect are added to ``detected`` (for masking the report)."""
    ctx = Context(run.root, loaded.documents, loaded.resources, run.config,
                  run.kubernetes_version or run.config.kubernetes_version or "", dict(run.options),
                  hook_paths=run.report_paths if run.hook_paths is None else run.hook_paths,
                  report_paths=run.report_paths, classes=loaded.classes,
                  detected=detected if detected is not None else set(), texts=loaded.texts,
                  base_file=run.base_file)
    if not ctx.kubernetes_version:
        from gatekeeper.checks.schema.bundled import resolve_version
        ctx.kubernetes_version = resolve_version(None)
    findings: list[Finding] = []
    digests: list[str] = []
    for name in selected_checks(run):
        check = get_check(name)
        started = time.perf_counter()
        try:
            check.prepare(ctx)
        except CheckLoadError as exc:
            report.errors.append(CheckError(name, str(exc)))
            continue
        except Exception as exc:
            report.errors.append(CheckError(name, f"failed to load: {describe(exc)}"))
            continue
        inactive = check.active(ctx)
        if inactive is not None:
            report.notes.append(f"{name}: inactive ({inactive})")
            report.timings[name] = time.perf_counter() - started
            continue
        report.checks.append(name)
        report.notes.extend(check.notes())
        digests.append(f"{name}:{check.digest(ctx)}")
        findings.extend(_run_hooks(check, ctx, loaded, report.errors,
                                   run.report_paths if run.hook_paths is None else run.hook_paths))
        report.timings[name] = time.perf_counter() - started
    report.policy_digest = policy_digest(run, digests)
    return findings


def _run_hooks(check: Check, ctx: Context, loaded: Loaded, errors: list[CheckError],
               report_paths: set[str] | None = None) -> list[Finding]:
    """Call a check's per-document, per-resource and whole-set hooks, each inside the error boundary.

    Every document goes to exactly one per-item hook: its resources to ``check_resource``, a
    document without resources to ``check_document``. Hooks a check does not override are not
    called (the loop runs once per resource, so a call that can only return nothing is a real
    cost). With ``report_paths`` (git modes) the per-item hooks run only for the reported files,
    whose findings are the only ones kept; ``check_all`` still sees every resource.
    """
    out: list[Finding] = []
    cls = type(check)
    Hook = Callable[[Any, Context], Iterable[Finding]]
    document: Hook | None = check.check_document if cls.check_document is not Check.check_document else None
    resource: Hook | None = check.check_resource if cls.check_resource is not Check.check_resource else None
    if document is not None or resource is not None:
        for doc in loaded.documents:
            if report_paths is not None and doc.path not in report_paths and (
                    not doc.inputs or doc.inputs.isdisjoint(report_paths)):
                continue
            items: Iterable[Document | Resource]
            if doc.resources:
                if resource is None:
                    continue
                hook, items = resource, doc.resources
            elif doc.held:  # consumed by a rendered unit: checked through the rendered objects
                if resource is None or not check.reads_sources:
                    continue
                hook, items = resource, doc.held
            elif document is not None and ctx.allows(check.name, doc.path):
                hook, items = document, (doc,)
            else:
                continue
            for item in items:
                try:
                    found = hook(item, ctx)
                    if found.__class__ is not list and found.__class__ is not tuple:
                        found = list(found)  # a generator runs inside the error boundary
                except Exception as exc:
                    _record(check, item.path, errors, exc)
                    continue
                if found:
                    out.extend(found)
    if cls.check_all is not Check.check_all:
        out.extend(_guard(check, None, errors, partial(check.check_all, ctx)))
    return out


def policy_digest(run: Run, check_digests: list[str]) -> str:
    """sha256 over the tool version, the configuration and each check's inputs (schemas, policies)."""
    h = hashlib.sha256()
    h.update(f"gatekeeper/{__version__}\n".encode())
    if run.config.path is not None:
        h.update(run.config.path.read_bytes())
    for item in sorted(check_digests):
        h.update(item.encode() + b"\n")
    return "sha256:" + h.hexdigest()


def apply_rule_config(findings: Iterable[Finding], config: Config) -> list[Finding]:
    """Drop findings of disabled rules and apply per-rule severity overrides."""
    out = []
    for f in findings:
        rule_cfg = config.rules.get(f.rule)
        if rule_cfg is None:
            out.append(f)
            continue
        if rule_cfg.get("enabled") is False:
            continue
        sev = rule_cfg.get("severity")
        out.append(replace(f, severity=Severity.parse(sev)) if sev else f)
    return out


def scope(findings: Iterable[Finding], report_paths: set[str] | None) -> list[Finding]:
    """Keep findings in the reported files only (changed-only mode)."""
    if report_paths is None:
        return list(findings)
    return [f for f in findings if f.path in report_paths]


def merge_units(findings: list[Finding]) -> list[Finding]:
    """One finding per source line: the same problem at the same line rendered through several
    units (a base shared by overlays) is reported once, listing every unit."""
    out: list[Finding] = []
    merged: dict[tuple[Any, ...], int] = {}
    for f in findings:
        if not f.units:
            out.append(f)
            continue
        key = (f.check, f.rule, f.path, f.line, f.column, f.field, f.waived, f.baseline)
        at = merged.get(key)
        if at is None:
            merged[key] = len(out)
            out.append(f)
            continue
        first = out[at]
        units = first.units + tuple(u for u in f.units if u not in first.units)
        origin = first.origin + tuple(o for o in f.origin if o not in first.origin)
        out[at] = replace(first, units=units, origin=origin)
    return out


def execute(run: Run) -> Report:
    """Run the whole pipeline and return the report; never raises for bad input."""
    with gc_paused():
        return _execute(run)


def _execute(run: Run) -> Report:
    rules = catalogue()
    report = Report(fail_on=run.fail_on or run.config.fail_on or Severity.ERROR, root=str(run.root),
                    rules=rules.by_id)
    started = time.perf_counter()
    loaded = load(run)
    report.timings["load"] = time.perf_counter() - started
    report.files, report.documents, report.resources = loaded.files, len(loaded.documents), len(loaded.resources)
    report.notes.extend(loaded.notes)
    if loaded.render is not None and loaded.render.error is not None:
        report.errors.append(CheckError("render", loaded.render.error))
    report.file_classes = [(c.path, c.role.value, c.reason) for c in sorted(loaded.classes.values(),
                                                                              key=lambda c: c.path)]
    report.subjects = [(r.path, r.ref.key) for r in loaded.resources
                       if run.report_paths is None or r.path in run.report_paths]
    detected: set[str] = set()
    try:
        findings = loaded.findings + run_checks(run, loaded, report, detected)
        if loaded.render is not None:  # patches of units not rendered: only what they set counts
            findings = partial_patches.keep(findings, loaded.render.partial)
            findings = fluxgen.relocate(findings, loaded.render.generated)  # no finding in a file not in Git
    except CheckLoadError as exc:
        report.errors.append(CheckError("pipeline", str(exc)))
        findings = loaded.findings
    if not run.allow_empty:
        report.errors.extend(nothing_checked(report))
    findings = apply_rule_config(findings, run.config)
    findings = apply_waivers(findings, loaded.resources, run.config, run.root, rules, today=run.today,
                             ran=report.checks)
    if run.baseline:
        findings = baseline.apply(findings, report, run.root, run.config, baseline.scope_of(run, loaded.documents))
    findings = scope(merge_units(findings), run.report_paths)
    findings.sort(key=lambda f: (f.path, f.line, f.column, f.check, f.rule, f.message))
    report.findings = findings
    Masker(detected).report(report)  # no text of the report shows a detected value or a token
    release(loaded.documents)
    return report


def release(documents: Iterable[Document]) -> None:
    """Free a finished run's parsed state by refcounting, instead of a GC pass over millions of
    nodes (10 s at 10k resources): Document<->Resource cycles are broken, and each document lets go
    of its node tree, which an object a check keeps in a cycle of its own (a closure, an evaluator)
    would otherwise hold until the next collection walks all of it."""
    for doc in documents:
        doc.resources = []
        doc.held = []
        doc.positions = PositionIndex(None, (doc.line, 1))
