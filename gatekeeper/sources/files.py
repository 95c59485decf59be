"""Walk the paths a run scans and read the files it should check.

The walk honours include/exclude globs, never descends into ``.git``, never follows a
symlink out of the scanned tree, and never reads a file over the size limit. Files it will
not read become findings (so a skipped manifest can never look like a pass).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from gatekeeper.model import Finding, Severity, fingerprint

DEFAULT_INCLUDE = ("**/*.yaml", "**/*.yml", "**/*.json")
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", ".terraform"})
HELM_CHART_FILE = "Chart.yaml"


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file to check: its path relative to the run's root (POSIX separators) and its bytes."""

    path: str
    data: bytes


@dataclass(slots=True)
class Collected:
    """What a walk produced: the files to parse, findings for files it refused, and notes."""

    files: list[SourceFile]
    findings: list[Finding]
    notes: list[str]
    # files the include globs match only when their extension is lower-cased (``x.YAML``): Argo CD
    # and Flux do not read them, kustomize does when a kustomization names them
    case_skipped: list[str] = field(default_factory=list)
    # chart templates named explicitly (a pre-commit hook passes them): Go templates, searched as text
    chart_texts: list[str] = field(default_factory=list)


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a path glob: ``**`` spans directories, ``*`` and ``?`` stay within one."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def matches(path: str, patterns: Iterable[str]) -> bool:
    """True when a relative POSIX path matches any glob (a bare name glob matches at any depth)."""
    for pattern in patterns:
        if glob_regex(pattern).match(path):
            return True
        if "/" not in pattern and glob_regex(pattern).match(path.rpartition("/")[2]):
            return True
        if pattern.endswith("/") and (path + "/").startswith(pattern):
            return True
    return False


def case_variant(path: str, patterns: Iterable[str]) -> bool:
    """True when ``path`` matches no glob as written but would with its extension lower-cased."""
    stem, dot, ext = path.rpartition(".")
    return bool(dot) and ext != ext.lower() and matches(f"{stem}.{ext.lower()}", patterns)


def chart_templates(paths: Iterable[str]) -> tuple[str, ...]:
    """The ``templates/`` directories (with a trailing ``/``) of every Helm chart among repository
    paths: Go templates, read as chart inputs when the chart renders, never parsed as manifests."""
    return tuple(sorted({(p[:-len(HELM_CHART_FILE)] + "templates/") for p in paths
                         if p == HELM_CHART_FILE or p.endswith("/" + HELM_CHART_FILE)}))


def file_finding(path: str, rule: str, message: str, severity: Severity = Severity.ERROR,
                 line: int = 1, column: int = 1, hint: str = "") -> Finding:
    """A finding about a whole file (no resource): parse errors, unreadable or refused files."""
    return Finding(
        check="parse", rule=rule, severity=severity, message=message, path=path, line=line,
        column=column, hint=hint, fingerprint=fingerprint(rule, None, path, "", message),
    )


def relpath(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with POSIX separators (absolute when outside the root)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


class Walker:
    """Collects files under the given paths for one run."""

    def __init__(self, root: Path, include: Sequence[str] = DEFAULT_INCLUDE,
                 exclude: Sequence[str] = (), max_file_size: int = 5 * 1024 * 1024) -> None:
        self.root = root.absolute()
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.max_file_size = max_file_size
        self.out = Collected([], [], [])
        self._seen: set[str] = set()

    def collect(self, paths: Sequence[Path]) -> Collected:
        """Walk every path (a file or a directory) and return what was collected."""
        for path in paths:
            path = path if path.is_absolute() else Path(os.path.abspath(path))
            if path.is_symlink() and not _inside(path.resolve(), self.root.resolve()):
                self._refuse_symlink(path)
            elif path.is_dir():
                self._walk(path)
            elif path.exists() and _chart_template(path):
                self.out.chart_texts.append(relpath(path, self.root))
            elif path.exists():
                self._add(path, explicit=True, tree=path.parent)
            else:
                raise FileNotFoundError(f"no such file or directory: {path}")
        self.out.files.sort(key=lambda f: f.path)
        return self.out

    def _walk(self, top: Path) -> None:
        tree = top.resolve()
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            base = Path(dirpath)
            if HELM_CHART_FILE in filenames and "templates" in dirnames:
                dirnames.remove("templates")  # not YAML: the chart is rendered as a unit (sources/render)
            kept = []
            for name in sorted(dirnames):
                sub = base / name
                if name in SKIP_DIRS:
                    continue
                if sub.is_symlink():
                    if not _inside(sub.resolve(), tree):
                        self._refuse_symlink(sub)
                    continue  # in-tree symlinked dirs are scanned at their real place
                if self.exclude and matches(relpath(sub, self.root) + "/", self.exclude):
                    continue
                kept.append(name)
            dirnames[:] = kept
            for name in sorted(filenames):
                self._add(base / name, explicit=False, tree=tree)

    def _add(self, path: Path, *, explicit: bool, tree: Path) -> None:
        rel = relpath(path, self.root)
        if rel in self._seen:
            return
        if not explicit and not matches(rel, self.include):
            if case_variant(rel, self.include) and not matches(rel, self.exclude):
                self.out.case_skipped.append(rel)
            return
        if matches(rel, self.exclude):
            return
        if path.is_symlink() and not _inside(path.resolve(), tree):
            self._refuse_symlink(path)
            return
        self._seen.add(rel)
        try:
            size = path.stat().st_size
            if size > self.max_file_size:
                self.out.findings.append(file_finding(
                    rel, "file-too-large",
                    f"file is {size} bytes, over the {self.max_file_size}-byte limit; it was not checked",
                    hint="split the file, or raise max_file_size in .gatekeeper.yaml"))
                return
            data = path.read_bytes()
        except OSError as exc:
            self.out.findings.append(file_finding(
                rel, "unreadable-file", f"cannot read file: {exc.strerror or exc.__class__.__name__}"))
            return
        self.out.files.append(SourceFile(rel, data))

    def add_file(self, rel: str) -> SourceFile | None:
        """Read one more file (relative to the root) as if it had been named explicitly."""
        before = len(self.out.files)
        self._add(self.root / rel, explicit=True, tree=self.root.resolve())
        return self.out.files[-1] if len(self.out.files) > before else None

    def _refuse_symlink(self, path: Path) -> None:
        rel = relpath(path, self.root)
        if rel in self._seen:
            return
        self._seen.add(rel)
        self.out.findings.append(file_finding(
            rel, "symlink-outside-tree",
            "symbolic link points outside the scanned tree; it was not followed",
            hint="GitOps agents refuse out-of-bounds links too: copy the file into the repository"))


def _chart_template(path: Path) -> bool:
    """True for a file below a Helm chart's ``templates/`` directory."""
    return any(parent.name == "templates" and (parent.parent / HELM_CHART_FILE).is_file() for parent in path.parents)


def _inside(path: Path, tree: Path) -> bool:
    return path == tree or tree in path.parents


def collect(paths: Sequence[Path], root: Path, include: Sequence[str] = DEFAULT_INCLUDE,
            exclude: Sequence[str] = (), max_file_size: int = 5 * 1024 * 1024) -> Collected:
    """Collect the files under ``paths``; see :class:`Walker`."""
    return Walker(root, include, exclude, max_file_size).collect(paths)
