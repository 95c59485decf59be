"""Read files from git commits and the index (not the working tree), through the git command.

Used by the pull-request modes (the tree at head as context, the files changed since the
merge base as the report scope) and by the sync step (the whole tree at the source commit),
so a result never depends on local edits. Blobs are read in bulk with one
``git cat-file --batch`` process: reading a 10,000-file tree one blob at a time costs seconds.
A repository is found with one ``git rev-parse`` (``Repository``); no git library is imported,
which a pre-commit hook would pay for on every commit.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gatekeeper.sources.files import DEFAULT_INCLUDE, SourceFile, case_variant, chart_templates, matches
from gatekeeper.sources.gitargs import UnsafeArgument, checked, refuse_option_like

_FETCH_HINT = ("fetch the history it needs, e.g. 'git fetch --unshallow origin' locally, or "
               "'fetch-depth: 0' on actions/checkout")
_SKIP_MODES = frozenset({"120000", "160000"})  # symlinks (never followed) and submodules


class GitSourceError(Exception):
    """A git problem the user must fix (not a repository, unknown ref...): exit 2."""


@dataclass(frozen=True, slots=True)
class Change:
    """One changed file: ``status`` is A, M, R, C, T or D; ``old_path`` is set for renames and copies."""

    status: str
    path: str
    old_path: str | None = None

    @property
    def deleted(self) -> bool:
        return self.status == "D"


@dataclass(frozen=True, slots=True)
class Repository:
    """A git repository with a working tree: where git commands run, and where its shared git
    directory is (the one a linked worktree shares with its main checkout)."""

    working_tree_dir: str
    common_dir: str


@dataclass(frozen=True, slots=True)
class Commit:
    """A commit, by its full id."""

    hexsha: str


@dataclass(frozen=True, slots=True)
class Entry:
    """A file of a tree or the index: path, mode and blob id."""

    path: str
    mode: str
    sha: str


def open_repo(path: Path) -> Repository:
    """The git repository containing ``path`` (a directory). The working tree's path is the
    directory's own path with the levels git reports above it removed, as written (a symlink on the
    way is kept, as the user wrote the path; git itself would resolve it)."""
    here = os.path.abspath(path)
    try:
        proc = subprocess.run(["git", "rev-parse", "--is-bare-repository", "--is-inside-work-tree",
                               "--git-common-dir", "--show-cdup"], cwd=here, capture_output=True, check=False)
    except OSError:  # no such directory (or no git): no repository to read
        raise GitSourceError(f"{path} is not inside a git repository") from None
    lines = proc.stdout.decode("utf-8", "surrogateescape").split("\n")
    if proc.returncode != 0 or len(lines) < 3:
        raise GitSourceError(f"{path} is not inside a git repository")
    if lines[0] == "true" or lines[1] != "true" or len(lines) < 4:
        raise GitSourceError(f"{path} is a bare git repository (a working tree is needed)")
    top = os.path.normpath(os.path.join(here, lines[3]))
    return Repository(top, os.path.normpath(os.path.join(here, lines[2])))


def _git(repo: Any, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``git ARGS`` in the repository; the argv has the shape ``gitargs.checked`` enforces."""
    try:
        argv = checked(args)
    except UnsafeArgument as exc:
        raise GitSourceError(f"refusing to run git: {exc}") from None
    return subprocess.run(["git", *argv], cwd=repo.working_tree_dir, capture_output=True, check=False)


def _git_text(repo: Any, *args: str) -> str:
    """Stdout of ``git ARGS`` (a failure is a GitSourceError naming the command, never its values)."""
    proc = _git(repo, *args)
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.decode(errors="replace").splitlines() if ln.strip()), "")
        raise GitSourceError(f"git {args[0]} failed (exit {proc.returncode}): {first.strip()[:200]}")
    return proc.stdout.decode("utf-8", "replace")


def is_shallow(repo: Any) -> bool:
    """True for a shallow clone (history cut off at some depth)."""
    return _git_text(repo, "rev-parse", "--is-shallow-repository").strip() == "true"


def blob_at(repo: Any, rev: str, path: str) -> bytes | None:
    """The content of ``path`` in the commit ``rev`` (a resolved id), or None when it has no such file."""
    proc = _git(repo, "cat-file", "--end-of-options", "blob", f"{rev}:{path}")
    return proc.stdout if proc.returncode == 0 else None


def _rev_parse(repo: Any, name: str) -> str:
    proc = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", name)
    return proc.stdout.decode(errors="replace").strip() if proc.returncode == 0 else ""


def resolve(repo: Any, ref: str) -> Commit:
    """The commit a revision names, as git itself reads it (``HEAD@{1000}``, ``main~3``, ``:/msg``);
    a clear error for an empty, option-like or unknown revision (with a fetch hint in a shallow clone)."""
    try:
        refuse_option_like(ref, "a git revision")
    except UnsafeArgument as exc:
        raise GitSourceError(str(exc)) from None
    sha = _rev_parse(repo, ref)  # peeled in a second step: ``:/text`` takes the rest as its pattern
    sha = _rev_parse(repo, f"{sha}^{{commit}}") if sha else ""
    if not sha:
        extra = f"; the clone is shallow or partial: {_FETCH_HINT}" if is_shallow(repo) else \
            " (is it fetched? 'git fetch origin <branch>')"
        raise GitSourceError(f"unknown git revision {ref!r}{extra}")
    return Commit(sha)


def merge_base(repo: Any, base: str, head: str) -> str:
    """The merge base of ``base`` and ``head`` as a hex sha; explains a shallow clone that lacks it."""
    base_commit, head_commit = resolve(repo, base), resolve(repo, head)
    proc = _git(repo, "merge-base", "--end-of-options", base_commit.hexsha, head_commit.hexsha)
    found = proc.stdout.decode(errors="replace").split()
    if proc.returncode == 0 and found:
        return found[0]
    if is_shallow(repo):
        raise GitSourceError(f"no merge base between {base!r} and {head!r}: the clone is shallow and the "
                             f"common ancestor was not fetched; {_FETCH_HINT}")
    raise GitSourceError(f"{base!r} and {head!r} have no common history (no merge base)")


def _split_z(text: str) -> list[str]:
    parts = text.split("\0")
    return parts[:-1] if parts and parts[-1] == "" else parts


def parse_name_status(text: str) -> list[Change]:
    """Parse ``git diff --name-status -z`` output (renames and copies carry two paths)."""
    parts = _split_z(text)
    out: list[Change] = []
    i = 0
    while i < len(parts):
        status = parts[i][:1]
        if status in ("R", "C"):
            out.append(Change(status, parts[i + 2], parts[i + 1]))
            i += 3
        else:
            out.append(Change(status, parts[i + 1]))
            i += 2
    return out


def _diff(repo: Any, *revisions: str, cached: bool = False) -> list[Change]:
    options = ("--name-status", "-z", "-M", "--no-color", "--no-ext-diff", *(("--cached",) if cached else ()))
    return parse_name_status(_git_text(repo, "diff", *options, "--end-of-options", *revisions, "--"))


def changed_between(repo: Any, base: str, head: str) -> list[Change]:
    """Files changed from the merge base of ``base`` and ``head`` to ``head`` (what a PR changes)."""
    mb = merge_base(repo, base, head)
    return _diff(repo, mb, str(resolve(repo, head).hexsha))


def has_head(repo: Any) -> bool:
    """False in a repository without commits yet."""
    return bool(_rev_parse(repo, "HEAD^{commit}"))


def staged_changes(repo: Any, head: bool | None = None) -> list[Change]:
    """Files staged in the index compared with HEAD (every index file in a repository without commits).
    ``head``: whether HEAD has a commit, when the caller knows (else it is asked)."""
    if not (has_head(repo) if head is None else head):
        return [Change("A", e.path) for e in index_entries(repo)]
    return _diff(repo, "HEAD", cached=True)


def worktree_changes(repo: Any, head: bool | None = None) -> list[Change]:
    """Working tree (staged or not, plus untracked files) compared with HEAD. ``head``: whether HEAD
    has a commit, when the caller knows (else it is asked)."""
    changes = _diff(repo, "HEAD") if (has_head(repo) if head is None else head) else []
    seen = {c.path for c in changes}
    for path in _split_z(_git_text(repo, "ls-files", "-z", "--others", "--exclude-standard")):
        if path not in seen:
            changes.append(Change("A", path))
    return changes


def tree_id(repo: Any, rev: str) -> str:
    """The id of the tree at ``rev``: it names every path, mode and content of that state."""
    commit = resolve(repo, rev).hexsha
    return _git_text(repo, "rev-parse", "--verify", "--end-of-options", f"{commit}^{{tree}}").strip()


def tree_entries(repo: Any, rev: str) -> list[Entry]:
    """Every file of the tree at ``rev``."""
    sha = resolve(repo, rev).hexsha
    out = []
    for item in _split_z(_git_text(repo, "ls-tree", "-r", "-z", "--full-tree", "--end-of-options", sha)):
        meta, _, path = item.partition("\t")
        mode, _kind, blob = meta.split(" ")
        out.append(Entry(path, mode, blob))
    return out


def index_entries(repo: Any) -> list[Entry]:
    """Every file staged in the index; unresolved merge conflicts are an error."""
    out = []
    conflicted = set()
    for item in _split_z(_git_text(repo, "ls-files", "-s", "-z")):
        meta, _, path = item.partition("\t")
        mode, blob, stage = meta.split(" ")
        if stage != "0":
            conflicted.add(path)
            continue
        out.append(Entry(path, mode, blob))
    if conflicted:
        raise GitSourceError(f"the index has unresolved merge conflicts: {', '.join(sorted(conflicted)[:5])}")
    return out


def select(entries: Iterable[Entry], prefixes: Sequence[str] = ("",),
           include: Sequence[str] = DEFAULT_INCLUDE, exclude: Sequence[str] = ()) -> list[Entry]:
    """Entries under the prefixes that match include and not exclude (symlinks and submodules skipped,
    and Helm chart templates, as the walker skips them: the chart is rendered as a unit)."""
    norm = [p.strip("/") for p in prefixes]
    entries = list(entries)
    templates = chart_templates(e.path for e in entries)
    out = []
    for e in entries:
        if e.mode in _SKIP_MODES:
            continue
        if norm and not any(not p or e.path == p or e.path.startswith(p + "/") for p in norm):
            continue
        if not matches(e.path, include) or matches(e.path, exclude):
            continue
        if templates and e.path.startswith(templates):
            continue
        out.append(e)
    return out


def links(entries: Iterable[Entry], include: Sequence[str] = DEFAULT_INCLUDE,
          exclude: Sequence[str] = ()) -> list[Entry]:
    """The symlinks among the entries that the include globs match (not excluded, not chart templates):
    the walker reads such a link as the file it points to, at the link's path, as GitOps agents do."""
    entries = list(entries)
    templates = chart_templates(e.path for e in entries)
    return [e for e in entries if e.mode == "120000" and matches(e.path, include) and not matches(e.path, exclude)
            and not (templates and e.path.startswith(templates))]


def case_skipped(entries: Iterable[Entry], include: Sequence[str] = DEFAULT_INCLUDE,
                 exclude: Sequence[str] = ()) -> list[str]:
    """Files the include globs match only with their extension lower-cased (``x.YAML``), as the walker
    lists them: searched for credentials as text, read as manifests where a kustomization names them."""
    return sorted(e.path for e in entries if e.mode not in _SKIP_MODES and case_variant(e.path, include)
                  and not matches(e.path, exclude))


def gitlinks(entries: Iterable[Entry]) -> set[str]:
    """The submodules (gitlinks) among tree or index entries."""
    return {e.path for e in entries if e.mode == "160000"}


def read_blobs(repo: Any, entries: Sequence[Entry]) -> list[SourceFile]:
    """The content of many blobs through one ``git cat-file --batch`` process."""
    if not entries:
        return []
    data = _cat_file_batch(repo, "".join(f"{e.sha}\n" for e in entries).encode())
    out: list[SourceFile] = []
    pos = 0
    for entry in entries:
        header_end = data.index(b"\n", pos)
        header = data[pos:header_end].decode()
        fields = header.split(" ")
        if len(fields) != 3 or fields[1] != "blob":
            raise GitSourceError(f"cannot read {entry.path} ({entry.sha[:12]}) from git: {header}")
        size = int(fields[2])
        start = header_end + 1
        out.append(SourceFile(entry.path, data[start:start + size]))
        pos = start + size + 1
    return out


def _cat_file_batch(repo: Any, request: bytes) -> bytes:
    """The output of ``git cat-file --batch`` for ``request`` (blob ids, one a line). The request is
    handed over as a file and the output read to its end in large reads: feeding it through a pipe
    alongside the output costs a poll and a write per 512 bytes of ids (a third of the parent's CPU for
    this step on a 10,000-file tree)."""
    with tempfile.TemporaryFile() as ids, tempfile.TemporaryFile() as errors:
        ids.write(request)
        ids.seek(0)
        proc = subprocess.Popen(["git", *checked(("cat-file", "--batch"))], stdin=ids, stdout=subprocess.PIPE,
                                stderr=errors, cwd=repo.working_tree_dir)
        assert proc.stdout is not None
        with proc.stdout:
            data = proc.stdout.read()
        if proc.wait() != 0:
            errors.seek(0)
            raise GitSourceError(f"git cat-file failed: {errors.read().decode(errors='replace').strip()[:200]}")
    return data


def read_worktree(repo: Any, entries: Sequence[Entry]) -> list[SourceFile]:
    """The content of files from the working tree (``--changed`` mode); missing files are skipped."""
    root = Path(repo.working_tree_dir)
    out = []
    for e in entries:
        path = root / e.path
        if path.is_symlink() or not path.is_file():
            continue
        out.append(SourceFile(e.path, path.read_bytes()))
    return out


def worktree_entries(repo: Any) -> list[Entry]:
    """Tracked and untracked (not ignored) files of the working tree; blob ids are not computed."""
    paths = _split_z(_git_text(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard"))
    root = Path(repo.working_tree_dir)
    out = []
    for path in dict.fromkeys(paths):
        full = root / path
        if full.is_symlink():
            out.append(Entry(path, "120000", ""))
        elif full.is_file():
            out.append(Entry(path, "100644", ""))
        elif full.is_dir():  # a tracked path that is a directory: a submodule
            out.append(Entry(path, "160000", ""))
    return out


def files_at(repo: Any, rev: str, prefixes: Sequence[str] = ("",), include: Sequence[str] = DEFAULT_INCLUDE,
             exclude: Sequence[str] = ()) -> list[SourceFile]:
    """Every matching file of the tree at ``rev`` under the given path prefixes (repo-relative)."""
    entries = select(tree_entries(repo, rev), prefixes, include, exclude)
    entries.sort(key=lambda e: e.path)
    return read_blobs(repo, entries)
