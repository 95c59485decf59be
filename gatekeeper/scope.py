"""Pull-request scope: which files a git mode loads as context and which it reports on.

A git mode loads every manifest of the tree at head (the commit, the index or the working
tree) so cross-object checks see the whole repository, and reports findings only for the
files the change touched (``scope="changed"``) or for every file (``scope="all"``).
``--new-only`` then drops findings whose fingerprint also exists at the base, so an edited
file does not resurface its old problems.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gatekeeper.model import Finding, Report
from gatekeeper.pipeline import Run, execute
from gatekeeper.sources import git
from gatekeeper.sources.files import DEFAULT_INCLUDE, SourceFile, matches
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
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _under(path: str, prefixes: Sequence[str]) -> bool:
    return not prefixes or any(not p or path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


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
        entries = git.select(git.tree_entries(repo, head_rev), ("",), include, exclude)
        files = git.read_blobs(repo, entries)
    elif mode == "staged":
        changes = git.staged_changes(repo)
        base_rev = "HEAD" if git.has_head(repo) else None
        entries = git.select(git.index_entries(repo), ("",), include, exclude)
        files = git.read_blobs(repo, entries)
    elif mode == "changed":
        changes = git.worktree_changes(repo)
        base_rev = "HEAD" if git.has_head(repo) else None
        entries = git.select(git.worktree_entries(repo), ("",), include, exclude)
        files = git.read_worktree(repo, entries)
    else:
        raise ValueError(f"unknown git mode {mode!r}")
    present = {f.path for f in files}
    notes = []
    for c in changes:
        if c.deleted and _under(c.path, prefixes) and matches(c.path, include):
            notes.append(f"{c.path}: deleted in this change (nothing to report)")
        elif c.old_path is not None and c.status == "R" and _under(c.path, prefixes):
            notes.append(f"{c.path}: renamed from {c.old_path}")
    source = {"range": "the head commit", "staged": "the index", "changed": "the working tree"}[mode]
    for prefix in prefixes:
        if prefix and not any(_under(path, (prefix,)) for path in present):
            notes.append(f"{prefix}: no manifest there in {source}; nothing was checked for it")
    if scope == "all":
        report = {p for p in present if _under(p, prefixes)}
    else:
        report = {c.path for c in changes if not c.deleted and c.path in present and _under(c.path, prefixes)}
    return Selection(mode, files, report, changes, base_rev, notes, time.perf_counter() - started)


class ParseMemo:
    """Parses kept for one invocation, so ``--new-only``'s pass at the base re-parses only what changed.

    Keyed by path and content digest; each hit hands out fresh Document shells (the loader fills
    their ``resources``) around the shared, read-only parsed objects and positions. In memory
    only: nothing is written to disk.
    """

    def __init__(self) -> None:
        self._parsed: dict[tuple[str, bytes], ParsedFile] = {}
        self.hits = 0

    def __call__(self, source: SourceFile) -> ParsedFile:
        key = (source.path, hashlib.blake2b(source.data, digest_size=16).digest())
        found = self._parsed.get(key)
        if found is None:
            found = self._parsed[key] = parse(source)
        else:
            self.hits += 1
        return ParsedFile(found.path, [replace(d, resources=[]) for d in found.documents],
                          list(found.findings), found.text)


def base_fingerprints(repo: Any, run: Run, selection: Selection) -> set[str]:
    """Fingerprints of the findings the base already had in the files this change touches."""
    if selection.base_rev is None:
        return set()
    include = run.config.include or DEFAULT_INCLUDE
    entries = git.select(git.tree_entries(repo, selection.base_rev), ("",), include, run.config.exclude)
    files = git.read_blobs(repo, entries)
    old_paths = {c.old_path or c.path for c in selection.changes if c.status != "A"} | selection.report_paths
    base_run = replace(run, files=files, report_paths=old_paths, progress=None)
    report = execute(base_run)
    return {f.fingerprint for f in report.findings if f.fingerprint}


def drop_existing(report: Report, existing: set[str]) -> int:
    """Remove findings whose fingerprint existed at the base; returns how many were dropped."""
    kept: list[Finding] = [f for f in report.findings if not f.fingerprint or f.fingerprint not in existing]
    dropped = len(report.findings) - len(kept)
    report.findings = kept
    return dropped
