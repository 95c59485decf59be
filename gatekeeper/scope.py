"""Pull-request scope: which files a git mode loads as context and which it reports on.

A git mode loads every manifest of the tree at head (the commit, the index or the working
tree) so cross-object checks see the whole repository, and reports findings for the files
the change touched plus those it caused elsewhere (``scope="changed"``), or for every file
(``scope="all"``). ``--new-only`` then drops findings whose fingerprint also exists at the
base, so an edited file does not resurface its old problems.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gatekeeper.context_cache import ContextCache
from gatekeeper.context_cache import quick as quick_parse
from gatekeeper.model import Document, Finding, Report
from gatekeeper.pipeline import Run, execute
from gatekeeper.prefetch import UNANSWERED, Prefetch
from gatekeeper.sources import git
from gatekeeper.sources.files import DEFAULT_INCLUDE, SourceFile, file_finding, matches
from gatekeeper.sources.tree import DiskTree, GitTree, Tree
from gatekeeper.sources.yamlload import ParsedFile, parse

MODES = ("range", "staged", "changed")
SCOPES = ("changed", "all")


@dataclass(slots=True)
class Selection:
    """What a git mode checks: context files, the files to report on, and where the base is."""

    mode: str
    files: list[SourceFile]
    report_paths: set[str]
    changes: list[git.Change]
    base_rev: str | None  # commit the change is compared with (for --new-only); None: no base
    scope: str = "changed"
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    tree: Tree | None = None  # every file of the state at head, for the renders
    case_skipped: list[str] = field(default_factory=list)  # ``x.YAML``: searched as text (sources/files)
    submodules: list[str] = field(default_factory=list)  # gitlinks the change adds or moves: never read
    refused: list[Finding] = field(default_factory=list)  # links the change adds that leave the repository
    base_tree: GitTree | None = None  # the base commit's files, listed once when a comparison needs them


def _under(path: str, prefixes: Sequence[str]) -> bool:
    return not prefixes or any(not p or path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def _matched_prefixes(paths: Iterable[str], prefixes: Sequence[str]) -> set[str]:
    """The prefixes (without a trailing slash) that some path is, or lies under: a look-up of each
    path's directories instead of a test of every path against every prefix."""
    wanted = {p.rstrip("/") for p in prefixes if p}
    found: set[str] = set()
    if not wanted:
        return found
    for path in paths:
        part = path
        while part:
            if part in wanted:
                found.add(part)
            part = part.rpartition("/")[0]
    return found


def _lies_under(path: str, wanted: set[str]) -> bool:
    """Whether ``path`` is one of ``wanted`` (paths without a trailing slash) or lies under one."""
    part = path
    while part:
        if part in wanted:
            return True
        part = part.rpartition("/")[0]
    return False


def select(repo: Any, mode: str, *, base: str | None = None, head: str | None = None,
           prefixes: Sequence[str] = (), scope: str = "changed", include: Sequence[str] = DEFAULT_INCLUDE,
           exclude: Sequence[str] = ()) -> Selection:
    """Resolve a git mode into context files and report paths (raises GitSourceError)."""
    started = time.perf_counter()
    if mode == "range":
        if not base:
            raise git.GitSourceError("a git range needs a base revision (--base)")
        head_rev = head or "HEAD"
        base_rev: str | None = git.merge_base(repo, base, head_rev)
        changes = git.changed_between(repo, base, head_rev)
        every = git.tree_entries(repo, head_rev)
        entries = git.select(every, ("",), include, exclude)
        files = git.read_blobs(repo, entries)
        tree: Tree = GitTree(repo, every, files)
    elif mode == "staged":
        head_commit = git.has_head(repo)
        changes = git.staged_changes(repo, head_commit)
        base_rev = "HEAD" if head_commit else None
        every = git.index_entries(repo)
        entries = git.select(every, ("",), include, exclude)
        files = git.read_blobs(repo, entries)
        tree = GitTree(repo, every, files)
    elif mode == "changed":
        head_commit = git.has_head(repo)
        changes = git.worktree_changes(repo, head_commit)
        base_rev = "HEAD" if head_commit else None
        every = git.worktree_entries(repo)
        entries = git.select(every, ("",), include, exclude)
        files = git.read_worktree(repo, entries)
        tree = DiskTree(Path(repo.working_tree_dir))
    else:
        raise ValueError(f"unknown git mode {mode!r}")
    gitlinks = git.gitlinks(every)
    submodules = sorted(c.path for c in changes if not c.deleted and c.path in gitlinks and _under(c.path, prefixes))
    linked, outside = read_links(tree, every, include, exclude)
    files = sorted([*files, *linked], key=lambda f: f.path)
    changed = {c.path for c in changes if not c.deleted}
    refused = [file_finding(path, "symlink-outside-tree", "symbolic link points outside the repository; it was "
                            "not followed", hint="GitOps agents refuse out-of-bounds links too: copy the file "
                                                 "into the repository")
               for path in outside if path in changed and _under(path, prefixes)]
    upper = git.case_skipped(every, include, exclude)
    present = {f.path for f in files} | set(upper)  # ``x.YAML``: read as text, or as a manifest a kustomization names
    notes = []
    for c in changes:
        if c.deleted and _under(c.path, prefixes) and matches(c.path, include):
            notes.append(f"{c.path}: deleted in this change (nothing to report)")
        elif c.old_path is not None and c.status == "R" and _under(c.path, prefixes):
            notes.append(f"{c.path}: renamed from {c.old_path}")
    source = {"range": "the head commit", "staged": "the index", "changed": "the working tree"}[mode]
    matched = _matched_prefixes(present, prefixes)
    for prefix in prefixes:
        if prefix and prefix.rstrip("/") not in matched:
            notes.append(f"{prefix}: no manifest there in {source}; nothing was checked for it")
    if scope == "all":
        everything = not prefixes or any(not p for p in prefixes)
        wanted = {p.rstrip("/") for p in prefixes if p}
        report = set(present) if everything else {p for p in present if _lies_under(p, wanted)}
    else:
        report = {c.path for c in changes if not c.deleted and c.path in present and _under(c.path, prefixes)}
    return Selection(mode, files, report, changes, base_rev, scope, notes, time.perf_counter() - started, tree,
                     upper, submodules, refused)


class ParseMemo:
    """Parses kept for one invocation, so ``--new-only``'s pass at the base re-parses only what changed.

    Keyed by path and content digest; each hit hands out fresh Document shells (the loader fills
    their ``resources``) around the shared, read-only parsed objects and positions. With a
    ``ContextCache``, files parsed only as context (no hook runs on them) are also read from and
    written to the store between invocations (redacted objects, lazy positions).
    """

    def __init__(self, cache: ContextCache | None = None) -> None:
        self._parsed: dict[tuple[str, bytes], ParsedFile] = {}
        self._context: dict[tuple[str, bytes], ParsedFile] = {}
        self.cache = cache
        self.hits = 0
        self._excluded: set[tuple[str, bytes]] = set()  # keys whose secretGenerator inputs the store knows
        self._digests: dict[str, tuple[bytes, bytes]] = {}  # path -> (content, digest) computed by ``prefetch``
        self._prefetch: Prefetch | None = None

    def prefetch(self, files: Sequence[SourceFile], hooked: set[str]) -> None:
        """Start loading, in a child process, the context files the store's snapshot says are read with
        the fast loader on every run (``gatekeeper/prefetch.py``); the parent meanwhile reads the rest."""
        if self.cache is None:
            return
        wanted = []
        for source in files:
            if source.path in hooked:
                continue
            digest = hashlib.blake2b(source.data, digest_size=20).digest()
            self._digests[source.path] = (source.data, digest)
            if self.cache.marked_in_snapshot(source, digest):
                wanted.append(source)
        self._prefetch = Prefetch.start(wanted)

    def close(self) -> None:
        """Stop a prefetching child that is still running (the run has read what it needs)."""
        if self._prefetch is not None:
            self._prefetch.close()
            self._prefetch = None

    def _digest(self, source: SourceFile) -> bytes:
        known = self._digests.get(source.path)
        if known is not None and known[0] is source.data:
            return known[1]
        return hashlib.blake2b(source.data, digest_size=20).digest()

    def __call__(self, source: SourceFile, context: bool = False) -> ParsedFile:
        digest = self._digest(source)
        key = (source.path, digest)
        found = self._parsed.get(key)
        if found is None and context and self.cache is not None:
            found = self._context.get(key)
            if found is None:
                found = self.cache.load(source, digest)
                if found is not None:
                    self._context[key] = found
        if found is None:
            # a context file the store may not hold (or no store): the fast loader's objects, positions
            # parsed only if a finding needs them; a file the store has not judged yet is parsed in full
            # for ``save``, as are files whose hooks run
            quick = context and (self.cache is None or self.cache.unstorable(source, digest))
            located = self.cache.located(source, digest) if quick and self.cache is not None else None
            loaded = self._prefetch.take(source) if quick and self._prefetch is not None else UNANSWERED
            found = (quick_parse(source, located, loaded) if quick else None) or parse(source)
            self._parsed[key] = found
            if context and self.cache is not None and not quick:
                self.cache.save(source, digest, found)
        else:
            self.hits += 1
        if self.cache is not None and key not in self._excluded:
            self._excluded.add(key)
            self.cache.exclude(found)
        return ParsedFile(found.path, [_shell(d) for d in found.documents], list(found.findings), found.text)


def read_links(tree: Tree, every: Sequence[git.Entry], include: Sequence[str],
               exclude: Sequence[str]) -> tuple[list[SourceFile], list[str]]:
    """The symlinked manifests of a state, read at the link's path as the walker reads them (the file
    they point to inside the tree), and the links that leave the tree."""
    files, outside = [], []
    for link in git.links(every, include, exclude):
        kind = tree.kind(link.path)
        data = tree.read(link.path) if kind == "file" else None
        if data is not None:
            files.append(SourceFile(link.path, data))
        elif kind is None:
            outside.append(link.path)
    return files, outside


def unread_findings(selection: Selection) -> list[Finding]:
    """A finding for each submodule the change adds or moves (its files are in another repository and
    never read here), at its ``path =`` line of ``.gitmodules`` when there is one; and for each link
    the change adds that leaves the repository."""
    out = list(selection.refused)
    data = selection.tree.read(".gitmodules") if selection.tree is not None else None
    lines = data.decode("utf-8", "replace").splitlines() if data else []
    for path in selection.submodules:
        at = next((i for i, text in enumerate(lines, 1) if text.strip().replace(" ", "") == f"path={path}"), None)
        out.append(file_finding(".gitmodules" if at else path, "submodule-unchecked",
                                f"submodule {path} is added or moved by this change; its files are in another "
                                "repository and were not checked (Argo CD applies them)", line=at or 1))
    return out

def _shell(doc: Document) -> Document:
    """A fresh Document around a shared parse (the loader fills its ``resources``); a constructor
    call, not ``dataclasses.replace``, which costs several times more per document."""
    return Document(doc.path, doc.index, doc.obj, doc.line, doc.positions, [], doc.text, doc.unit, doc.inputs, [],
                    doc.consumed, doc.generated, stored=doc.stored)


def base_fingerprints(repo: Any, run: Run, selection: Selection, digest: str = "") -> tuple[set[str], bool]:
    """Fingerprints of every finding the base had (hooks run on the files this change touches), and
    whether they came from the store: with a store and the head report's ``digest`` (its policy
    digest), a pass is kept by :func:`base_key` and not run again for the same base and change."""
    if selection.base_rev is None:
        return set(), False
    store = run.render_cache if isinstance(run.render_cache, ContextCache) else None
    old_paths = {c.old_path or c.path for c in selection.changes if c.status != "A"} | selection.report_paths
    key = base_key(repo, run, selection.base_rev, old_paths, digest) if store is not None and digest else None
    if store is not None and key is not None:
        kept = store.get_fingerprints(key)
        if kept is not None:
            return kept, True
    include = run.config.include or DEFAULT_INCLUDE
    every = git.tree_entries(repo, selection.base_rev)
    entries = git.select(every, ("",), include, run.config.exclude)
    files = git.read_blobs(repo, entries)
    base_tree = GitTree(repo, every, files)
    files = sorted([*files, *read_links(base_tree, every, include, run.config.exclude)[0]], key=lambda f: f.path)
    base_run = replace(run, files=files, report_paths=None, hook_paths=old_paths, progress=None,
                       tree=base_tree, render_outcome=None,
                       allow_empty=True)  # a base without manifests yet is a base
    report = execute(base_run)
    found = {f.fingerprint for f in report.findings if f.fingerprint}
    if store is not None and key is not None:
        store.put_fingerprints(key, found)
    return found, False


def base_key(repo: Any, run: Run, base_rev: str, hooked: set[str], digest: str) -> str:
    """A digest of everything a pass at the base reads: the base tree (every path, mode and content),
    the files its hooks run on, the units the change focuses, the run's settings, the checks' inputs
    (``digest``: configuration, schemas, policies), the policy and data files named on the command
    line or in the configuration, the waivers' clock, the renderer and the gate's own code."""
    h = hashlib.sha256(b"gatekeeper/base/1\n")
    settings = (git.tree_id(repo, base_rev), sorted(hooked), sorted(run.render_focus or ()), run.checks,
                run.kubernetes_version, sorted(run.options.items()), run.render, str(run.root.absolute()),
                str(run.today or datetime.datetime.now(datetime.timezone.utc).date()), sorted(run.published),
                digest, _kustomize(), sorted((k, v) for k, v in os.environ.items() if k.startswith("GATEKEEPER_")))
    h.update(repr(settings).encode())
    for path in _named_paths(run):
        h.update(_stat_digest(path))
    h.update(_stat_digest(Path(__file__).parent))  # the gate's code
    return h.hexdigest()


def _kustomize() -> str:
    from gatekeeper.sources.render import kustomize_executable

    exe = kustomize_executable()
    return exe + _stat_digest(Path(exe)).hex() if exe else ""


def _named_paths(run: Run) -> list[Path]:
    """Policy directories, data and schema files a run may read beside the tree: every path-like
    option, the configured policy paths and the default policy directories."""
    out = [run.root / name for name in ("policy", "policies")]
    if run.config.path is not None:
        out.append(run.config.path)
    base = run.config.base_dir if run.config.base_dir else run.root
    for section in run.config.checks.values():
        for key in ("paths", "data", "schema_dirs", "policies"):
            values = section.get(key) if isinstance(section, dict) else None
            if isinstance(values, list):
                out.extend(Path(base) / v for v in values if isinstance(v, str))
    for value in run.options.values():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, (str, Path)) and str(item) and len(str(item)) < 4096:
                out.append(Path(item))
    return out


def _stat_digest(path: Path) -> bytes:
    """Names, sizes and modification times of a file, or of every file under a directory."""
    h = hashlib.sha256()
    try:
        if path.is_file():
            st = path.stat()
            h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        elif path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if d not in (".git", "__pycache__"))
                for name in sorted(filenames):
                    full = os.path.join(dirpath, name)
                    st = os.stat(full)
                    h.update(f"{full}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    except (OSError, ValueError):
        h.update(b"unreadable")
    return h.digest()


def configure(run: Run, selection: Selection, cache: ContextCache | None = None) -> None:
    """Point a run at a selection: the whole tree as files, hooks (and reporting) on the changed files.

    With the changed scope the run keeps findings everywhere; :func:`settle` then keeps those in
    the changed files plus the ones in unchanged files that the change caused (cross-object rules:
    a duplicate of a new object reported at the old one, a Service left dangling by a deletion).
    """
    run.files = selection.files
    run.tree = selection.tree
    run.case_skipped = list(selection.case_skipped)
    # every changed path, not only the manifests the include globs match: a changed chart template or
    # _helpers.tpl changes what its unit renders (and is searched for credentials as text)
    run.render_focus = set(selection.report_paths) | {c.path for c in selection.changes} | {
        c.old_path for c in selection.changes if c.old_path}
    run.render_cache = cache  # unchanged units are not rendered again (same store, same no-secrets rule)
    memo = ParseMemo(cache)  # a pass at the base reuses every unchanged file's parse
    memo.prefetch(selection.files, selection.report_paths)
    run.parser = memo
    # Findings are kept everywhere for settle(): a changed input of a unit (a values file, a base)
    # causes findings located in the unit's other files (a template line, an overlay's patch).
    run.report_paths, run.hook_paths = None, set(selection.report_paths)


def affected_units(run: Run, selection: Selection) -> set[str]:
    """The units with an input among the reported files or the change (deleted and renamed paths too)."""
    outcome = run.render_outcome
    if outcome is None:
        return set()
    touched = set(selection.report_paths) | (run.render_focus or set())
    return {r.unit.display() for r in outcome.rendered if r.inputs & touched}


def _touched(selection: Selection) -> set[str]:
    """Changed files: the manifests in scope, and any other changed file a check read (chart templates)."""
    return selection.report_paths | {c.path for c in selection.changes if not c.deleted}


def _in_scope(finding: Finding, selection: Selection, units: set[str], touched: set[str]) -> bool:
    """A finding reported whatever the base had: in a reported or changed file, or (``--scope all``)
    rendered by a unit with an input among the reported files (the pre-commit hook's files: a staged
    values file makes the template line's finding; a staged base, the overlay patch's)."""
    return finding.path in touched or (selection.scope == "all" and bool(units.intersection(finding.units)))


def needs_base(report: Report, selection: Selection, new_only: bool, units: set[str] | None = None) -> bool:
    """True when settling the report needs the findings at the base."""
    if selection.base_rev is None:
        return False
    touched = _touched(selection)
    return new_only or any(not _in_scope(f, selection, units or set(), touched) for f in report.findings)


def settle(report: Report, selection: Selection, existing: set[str], new_only: bool,
           units: set[str] | None = None) -> list[str]:
    """Apply the scope and --new-only to a head report, given the base's fingerprints and the units
    the reported files feed; returns notes."""
    notes = []
    units, touched = units or set(), _touched(selection)
    inside = [f for f in report.findings if _in_scope(f, selection, units, touched)]
    caused = [f for f in report.findings if not _in_scope(f, selection, units, touched)
              and f.fingerprint and f.fingerprint not in existing]  # no base: everything is new
    if caused:
        notes.append(f"{len(caused)} finding(s) in unchanged files are caused by this change "
                     "(cross-object rules, rendered units) and are reported too")
    if new_only:
        kept = [f for f in inside if not f.fingerprint or f.fingerprint not in existing]
        if len(kept) != len(inside):
            notes.append(f"--new-only: {len(inside) - len(kept)} finding(s) that already existed at the base "
                         "are hidden")
        inside = kept
    report.findings = sorted(inside + caused, key=lambda f: (f.path, f.line, f.column, f.check, f.rule, f.message))
    shown = touched | {f.path for f in report.findings}
    report.subjects = [s for s in report.subjects if s[0] in shown]
    return notes
