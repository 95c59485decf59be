"""Read access to the repository a run checks, for the files rendering needs beyond the manifests.

The walker and the git modes collect YAML/JSON files; rendering also needs chart templates,
``_helpers.tpl`` and generator inputs. A :class:`Tree` answers for one state of the repository:
the directory on disk, a commit, or the index. Paths are root-relative POSIX paths; a path that
leaves the tree, or a symlink that points outside it, reads as absent, so a render can never see
a file of the machine it runs on.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

SKIP_DIRS = frozenset({".git", ".hg", ".svn"})
MAX_INPUT = 16 * 1024 * 1024


class Tree(Protocol):
    """One state of the repository, read by root-relative path."""

    def kind(self, path: str) -> str | None:
        """``"file"``, ``"dir"`` or None (absent, or not inside the tree)."""

    def read(self, path: str) -> bytes | None:
        """A file's bytes, or None."""

    def files_under(self, directory: str) -> list[str]:
        """Every file below a directory (recursively), sorted."""


def clean(path: str) -> str | None:
    """A normalised root-relative path, or None when it leaves the tree."""
    if path.startswith("/"):
        return None
    norm = posixpath.normpath(path) if path else "."
    if norm == ".." or norm.startswith("../"):
        return None
    return "" if norm == "." else norm


class DiskTree:
    """A directory on disk (the scanned root, or the sync step's export of a commit)."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self._real = self.root.resolve()
        self._real_str = str(self._real)
        self._dirs: dict[str, str | None] = {"": self._real_str}  # directory -> its real path (None: outside)
        self._kinds: dict[str, str | None] = {}  # answers of ``kind`` (a run asks for the same paths often)

    def _within(self, real: str) -> bool:
        return real == self._real_str or real.startswith(self._real_str.rstrip("/") + "/")

    def _real_dir(self, norm: str) -> str | None:
        """The real path of a directory inside the tree (memoised), or None when it resolves outside."""
        if norm in self._dirs:
            return self._dirs[norm]
        parent, _, name = norm.rpartition("/")
        base = self._real_dir(parent)
        real = self._resolve_leaf(base, name) if base is not None else None
        self._dirs[norm] = real
        return real

    def _resolve_leaf(self, base: str, name: str) -> str | None:
        """``base/name`` with a symlink at ``name`` followed (``base`` is real and inside)."""
        full = os.path.join(base, name)
        if not os.path.islink(full):
            return full
        try:
            real = os.path.realpath(full, strict=False)
        except (OSError, ValueError):
            return None
        return real if self._within(real) else None

    def _inside(self, rel: str) -> Path | None:
        norm = clean(rel)
        if norm is None:
            return None
        if not norm:
            return self.root
        parent, _, name = norm.rpartition("/")
        base = self._real_dir(parent)
        if base is None or self._resolve_leaf(base, name) is None:
            return None
        return self.root / norm

    def kind(self, path: str) -> str | None:
        if path in self._kinds:
            return self._kinds[path]
        full = self._inside(path)
        found = None
        if full is not None:
            found = "dir" if full.is_dir() else "file" if full.is_file() else None
        self._kinds[path] = found
        return found

    def read(self, path: str) -> bytes | None:
        full = self._inside(path)
        if full is None or not full.is_file():
            return None
        try:
            if full.stat().st_size > MAX_INPUT:
                return None
            return full.read_bytes()
        except OSError:
            return None

    def files_under(self, directory: str) -> list[str]:
        top = self._inside(directory)
        if top is None or not top.is_dir():
            return []
        out = []
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not os.path.islink(
                os.path.join(dirpath, d)))
            for name in filenames:
                rel = Path(dirpath, name).relative_to(self.root).as_posix()
                if self._inside(rel) is not None:
                    out.append(rel)
        return sorted(out)


MAX_LINKS = 8  # symlinks followed in a row (a longer chain, or a loop, reads as absent)


class GitTree:
    """A commit's tree or the index: paths from the entries, blobs read on demand in one batch.

    A symlink to a file inside the tree reads as that file, as on disk (Argo CD and Helm follow
    such links; a chart template linked from a shared directory is part of the render); a link
    that leaves the tree, to a directory, or in a loop reads as absent."""

    def __init__(self, repo: Any, entries: Sequence[Any], read: Sequence[Any] = ()) -> None:
        """``read``: files already read from these entries (``SourceFile``s), so no blob is read twice."""
        self.repo = repo
        self._entries = {e.path: e for e in entries if e.mode not in ("120000", "160000")}
        self._links = {e.path: e for e in entries if e.mode == "120000"}
        self._dirs: set[str] = {""}
        for path in self._entries:
            parts = path.split("/")
            for i in range(1, len(parts)):
                self._dirs.add("/".join(parts[:i]))
        self._blobs: dict[str, bytes] = {f.path: f.data for f in read if f.path in self._entries}
        self._targets: dict[str, str | None] = {}
        self._dir_links: set[str] = set()  # links to a directory inside the tree (not descended, as on disk)
        self._kinds: dict[str, str | None] = {}  # answers of ``kind`` (a run asks for the same paths often)

    def _target(self, norm: str) -> str | None:
        """The file a symlink entry leads to, inside the tree (None: outside, a directory, a loop)."""
        if norm in self._targets:
            return self._targets[norm]
        found: str | None = None
        path = norm
        for _ in range(MAX_LINKS):
            if path not in self._blobs:
                self._prefetch_entries([self._links[path]])
            raw = self._blobs.get(path, b"").decode("utf-8", "replace")
            nxt = clean(posixpath.join(posixpath.dirname(path), raw)) if raw and not raw.startswith("/") else None
            if nxt is None:
                break
            if nxt in self._entries:
                found = nxt
                break
            if nxt in self._dirs:
                self._dir_links.add(norm)
                break
            if nxt not in self._links:
                break
            path = nxt
        self._targets[norm] = found
        return found

    def _resolve(self, path: str) -> str | None:
        norm = clean(path)
        if norm is None:
            return None
        return self._target(norm) if norm in self._links else norm

    def kind(self, path: str) -> str | None:
        if path in self._kinds:
            return self._kinds[path]
        found = self._kind(path)
        self._kinds[path] = found
        return found

    def _kind(self, path: str) -> str | None:
        # fixed once asked: the entries never change, and a link's target (and whether it leads to a
        # directory) is resolved in this call when the path is a link
        norm = clean(path)
        if norm is None:
            return None
        if norm in self._entries or (norm in self._links and self._target(norm) is not None):
            return "file"
        return "dir" if norm in self._dirs or norm in self._dir_links else None

    def is_link(self, path: str) -> bool:
        """Whether ``path`` is a symlink entry of the tree (as written: not normalised)."""
        return path in self._links

    def read(self, path: str) -> bytes | None:
        norm = self._resolve(path)
        if norm is None or norm not in self._entries:
            return None
        if norm not in self._blobs:
            self.prefetch([norm])
        return self._blobs.get(norm)

    def prefetch(self, paths: Sequence[str]) -> None:
        """Read many blobs with one ``git cat-file --batch``."""
        self._prefetch_entries([self._entries[p] for p in paths if p in self._entries and p not in self._blobs])

    def _prefetch_entries(self, wanted: Sequence[Any]) -> None:
        from gatekeeper.sources.git import read_blobs

        for source in read_blobs(self.repo, wanted):
            self._blobs[source.path] = source.data

    def files_under(self, directory: str) -> list[str]:
        norm = clean(directory)
        if norm is None:
            return []
        prefix = norm + "/" if norm else ""
        links = [p for p in self._links if p.startswith(prefix) and self._target(p) is not None]
        return sorted([*(p for p in self._entries if p.startswith(prefix)), *links])
