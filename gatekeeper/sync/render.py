"""What the sync step publishes for each path: plain files, or a rendered deployment unit.

The source commit is read from git, never from the work tree: it is exported file by file into
a temporary directory (see ``export_tree``), which is also where configuration and policies are
read from. A path with a kustomization or a ``Chart.yaml`` is a deployment unit rendered by the
same renderer ``check`` uses (``gatekeeper.sources.render``), whose objects are checked with
findings at their source lines and published exactly as checked; a plain path publishes the
objects of its YAML/JSON files, taken from the very parses the checks ran on (:func:`complete`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatekeeper.model import Document
from gatekeeper.sources.files import DEFAULT_INCLUDE, SourceFile, matches
from gatekeeper.sources.kustomize import KUSTOMIZATION_NAMES
from gatekeeper.sources.render.stage import Outcome
from gatekeeper.sources.resources import extract
from gatekeeper.sources.units import CHART_FILE, HELM, KUSTOMIZE, Unit, ValuesSource
from gatekeeper.sources.yamlload import ParsedFile, parse
from gatekeeper.sync.errors import SyncError
from gatekeeper.sync.gitcmd import Git
from gatekeeper.sync.manifest import render_manifest

KUSTOMIZATION_FILES = KUSTOMIZATION_NAMES
RENDER_MODES = ("auto", "plain", "kustomize", "helm")
UNPUBLISHABLE = frozenset({"parse-error", "encoding-error", "binary-file", "alias-bomb", "file-too-large"})


@dataclass(slots=True)
class Rendered:
    """One rendered path: what the checks read and what the branch receives."""

    source_path: str
    target_path: str
    mode: str
    objects: list[dict[str, Any]]
    check_files: list[SourceFile]
    commands: list[str]
    manifest: bytes = b""
    problems: list[str] = field(default_factory=list)  # files that could not be read completely
    unit: Unit | None = None  # a rendered path: the deployment unit


def clean_path(path: str, what: str) -> str:
    """A repository-relative POSIX path without ``..``, or SyncError. No component may be ``.git`` in
    any case (publishing there would write into git's own directory on a checkout), begin with
    ``-`` (git could read it as an option), or hold a line break."""
    norm = posixpath.normpath(path.strip().replace("\\", "/")).strip("/")
    if norm in ("", ".") or norm.startswith("../") or norm == ".." or path.strip().startswith("/"):
        raise SyncError(f"{what} {path!r} must be a directory inside the repository (not its root)")
    if any(c in path for c in "\n\r\0"):
        raise SyncError(f"{what} must not hold a line break")
    parts = norm.split("/")
    if any(p.casefold() == ".git" for p in parts) or any(p.startswith("-") for p in parts):
        raise SyncError(f"{what} {path!r}: no part of it may be .git or begin with '-'")
    return norm


def export_tree(git: Git, commit: str, dest: Path) -> list[str]:
    """Write every file of ``commit`` into ``dest``, exactly as committed; returns the symlinks that
    point outside the tree, which are left out (refused later only where they matter: under a
    published path or as a render input).

    Not ``git archive``: its ``export-ignore``/``export-subst`` attributes would drop or rewrite
    files. Blobs come from one ``git cat-file --batch``; symlinks are recreated only when they
    stay inside the tree (as Argo CD and Flux require); submodules are not part of the tree.
    """
    outside: list[str] = []
    entries: list[tuple[str, str, str]] = []
    for record in git.run("ls-tree", "-r", "-z", "--full-tree", "--end-of-options", commit).split(b"\0"):
        if not record:
            continue
        meta, _, raw_name = record.partition(b"\t")
        mode, kind, oid = meta.decode().split(" ")
        if kind == "blob":
            entries.append((mode, oid, raw_name.decode("utf-8", "surrogateescape")))
    if not entries:
        return outside
    data = git.run("cat-file", "--batch", data="".join(f"{oid}\n" for _, oid, _ in entries).encode())
    pos = 0
    root = dest.resolve()
    for mode, oid, name in entries:
        header_end = data.index(b"\n", pos)
        header = data[pos:header_end].decode().split(" ")
        if len(header) != 3 or header[0] != oid:
            raise SyncError(f"cannot export the source commit: object {oid[:12]} of {name} is missing")
        size = int(header[2])
        content = data[header_end + 1: header_end + 1 + size]
        pos = header_end + 1 + size + 1
        target = dest / name
        if not target.resolve().is_relative_to(root) or ".." in name.split("/"):
            raise SyncError(f"cannot export the source commit: {name} leaves the tree")
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "120000":
            link = content.decode("utf-8", "surrogateescape")
            if posixpath.isabs(link) or not (target.parent / link).resolve().is_relative_to(root):
                outside.append(name)
                continue
            target.symlink_to(link)
            continue
        target.write_bytes(content)
        if mode == "100755":
            target.chmod(0o755)
    return outside


def choose_mode(tree: Path, source_path: str, requested: str) -> str:
    """The render mode of a path: the requested one, or for ``auto`` kustomize when it has a
    kustomization, helm when it is a chart, plain otherwise."""
    if requested != "auto":
        return requested
    directory = tree / source_path
    if any((directory / name).is_file() for name in KUSTOMIZATION_FILES):
        return KUSTOMIZE
    return HELM if (directory / CHART_FILE).is_file() else "plain"


def render_path(tree: Path, source_path: str, target_path: str, mode: str,
                include: tuple[str, ...] = DEFAULT_INCLUDE, exclude: tuple[str, ...] = ()) -> Rendered:
    """Plan one path of the exported source tree: a unit to render, or plain files."""
    directory = tree / source_path
    if not directory.is_dir():
        raise SyncError(f"path {source_path!r} is not a directory at the source commit")
    if mode == KUSTOMIZE:
        if not any((directory / n).is_file() for n in KUSTOMIZATION_FILES):
            raise SyncError(f"{source_path} has no kustomization to render")
        return Rendered(source_path, target_path, KUSTOMIZE, [], [], [f"kubectl kustomize {source_path}"],
                        unit=Unit(KUSTOMIZE, source_path, found_by=["gatekeeper sync --path"]))
    if mode == HELM:
        if not (directory / CHART_FILE).is_file():
            raise SyncError(f"{source_path} has no Chart.yaml to render")
        values = [f"{source_path}/values.yaml"] if (directory / "values.yaml").is_file() else []
        unit = Unit(HELM, source_path, values=[ValuesSource(v) for v in values], found_by=["gatekeeper sync --path"])
        return Rendered(source_path, target_path, HELM, [], [], [f"helm template {source_path}"], unit=unit)
    has_kustomization = [n for n in KUSTOMIZATION_FILES if (directory / n).is_file()]
    if has_kustomization:
        raise SyncError(f"{source_path}/{has_kustomization[0]} exists: render it with --render kustomize "
                        "(plain rendering would publish the unpatched bases)")
    if (directory / CHART_FILE).is_file():
        raise SyncError(f"{source_path}/{CHART_FILE} exists: render it with --render helm "
                        "(plain rendering would publish the chart's files, not its manifests)")
    return _plain(tree, source_path, target_path, include, exclude)


def _plain(tree: Path, source_path: str, target_path: str, include: tuple[str, ...],
           exclude: tuple[str, ...]) -> Rendered:
    """The path's files; their objects are filled in by :func:`complete` from the checked parses."""
    files: list[SourceFile] = []
    for path in sorted((tree / source_path).rglob("*")):
        rel = path.relative_to(tree).as_posix()
        if path.is_symlink() or not path.is_file() or not matches(rel, include) or matches(rel, exclude):
            continue
        files.append(SourceFile(rel, path.read_bytes()))
    return Rendered(source_path, target_path, "plain", [], files,
                    [f"gatekeeper sync --render plain --path {source_path}"])


def complete(rendered: Rendered, parsed: Callable[[SourceFile], ParsedFile | None]) -> None:
    """Fill a plain render's objects and manifest from parses of its files (None: never parsed,
    which makes the render unpublishable). Kustomize renders are complete already."""
    if rendered.mode != "plain":
        return
    objects: list[dict[str, Any]] = []
    problems: list[str] = []
    for source in rendered.check_files:
        result = parsed(source)
        if result is None:
            problems.append(f"{source.path}: not read by the checks")
            continue
        problems.extend(f"{f.path}:{f.line}: {f.message}" for f in result.findings if f.rule in UNPUBLISHABLE)
        for doc in result.documents:
            objects.extend(_objects_of(doc))
    rendered.objects, rendered.problems = objects, problems
    rendered.manifest = render_manifest(objects)


def _objects_of(doc: Document) -> list[dict[str, Any]]:
    """The objects of a parsed document (the pipeline empties ``doc.resources`` after a run, so
    they are extracted afresh; the list is emptied again to leave no Document/Resource cycle)."""
    doc.resources = []
    extract(doc)
    objects = [res.obj for res in doc.resources]
    doc.resources = []
    return objects


def parse_resources(source: SourceFile) -> ParsedFile:
    """Parse a file and fill its documents' resources, as the pipeline's load stage does."""
    result = parse(source)
    for doc in result.documents:
        extract(doc)
    return result


def load_objects(source: SourceFile) -> tuple[list[dict[str, Any]], list[str]]:
    """The Kubernetes objects of a file (``List`` items expanded, local tool config left out), and
    descriptions of anything that could not be read (which makes the file unpublishable)."""
    parsed = parse_resources(source)
    problems = [f"{f.path}:{f.line}: {f.message}" for f in parsed.findings if f.rule in UNPUBLISHABLE]
    return [res.obj for doc in parsed.documents for res in doc.resources], problems


def fill_units(rendered: list[Rendered], outcome: Outcome | None) -> None:
    """Take each unit's objects from the render the checks ran on; a unit that did not render
    cannot be published."""
    done = {r.unit.path: r for r in (outcome.rendered if outcome is not None else [])}
    for item in rendered:
        if item.unit is None:
            continue
        result = done.get(item.unit.path)
        if result is None or not result.rendered:
            reasons = [f"{f.path}:{f.line}: {f.message}" for f in (result.findings if result else [])]
            item.problems.append(f"{item.source_path} was not rendered" + (f" ({reasons[0]})" if reasons else ""))
            continue
        item.objects = [obj for obj, _ in result.objects]
        item.manifest = render_manifest(item.objects)
