"""Read files from git commits (not the working tree), through GitPython.

Used by the pull-request modes (files at a commit, changed files in a range) and by the
sync step (the whole tree at the source commit), so a result never depends on local edits.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gatekeeper.sources.files import DEFAULT_INCLUDE, SourceFile, matches


class GitSourceError(Exception):
    """A git problem the user must fix (not a repository, unknown ref...): exit 2."""


def open_repo(path: Path) -> Any:
    """The git repository containing ``path``."""
    import git

    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitSourceError(f"{path} is not inside a git repository") from None


def resolve(repo: Any, ref: str) -> Any:
    """The commit a ref names; a clear error for an unknown ref."""
    import git

    try:
        return repo.commit(ref)
    except (git.BadName, ValueError, git.GitCommandError):
        raise GitSourceError(f"unknown git revision {ref!r}") from None


def files_at(repo: Any, rev: str, prefixes: Sequence[str] = ("",), include: Sequence[str] = DEFAULT_INCLUDE,
             exclude: Sequence[str] = ()) -> list[SourceFile]:
    """Every matching file of the tree at ``rev`` under the given path prefixes (repo-relative)."""
    commit = resolve(repo, rev)
    norm = [p.strip("/") for p in prefixes]
    out: list[SourceFile] = []
    for blob in commit.tree.traverse():
        if blob.type != "blob":
            continue
        path = blob.path
        if norm and not any(not p or path == p or path.startswith(p + "/") for p in norm):
            continue
        if not matches(path, include) or matches(path, exclude):
            continue
        if blob.mode == 0o120000:  # symlink stored in git: never followed
            continue
        out.append(SourceFile(path, blob.data_stream.read()))
    out.sort(key=lambda f: f.path)
    return out
