"""Render a path of the source commit into the objects the step would publish.

The source commit is read from git, never from the work tree: it is exported file by file into
a temporary directory (see ``export_tree``), which is also where configuration and policies are
read from and where ``kubectl kustomize`` runs. Plain rendering publishes the objects of the
path's YAML/JSON files, taken from the very parses the checks ran on (:func:`complete`);
kustomize rendering publishes kustomize's output, and the checks read exactly those bytes.
"""

from __future__ import annotations

import posixpath
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatekeeper.model import Document
from gatekeeper.sources.files import DEFAULT_INCLUDE, SourceFile, matches
from gatekeeper.sources.resources import extract
from gatekeeper.sources.yamlload import ParsedFile, parse
from gatekeeper.sync.errors import SyncError
from gatekeeper.sync.gitcmd import Git
from gatekeeper.sync.manifest import MANIFEST, render_manifest

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
RENDER_MODES = ("auto", "plain", "kustomize")
UNPUBLISHABLE = frozenset({"parse-error", "encoding-error", "binary-file", "alias-bomb", "file-too-large"})
KUBECTL_TIMEOUT = 300


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


def export_tree(git: Git, commit: str, dest: Path) -> None:
    """Write every file of ``commit`` into ``dest``, exactly as committed.

    Not ``git archive``: its ``export-ignore``/``export-subst`` attributes would drop or rewrite
    files. Blobs come from one ``git cat-file --batch``; symlinks are recreated only when they
    stay inside the tree (as Argo CD and Flux require); submodules are not part of the tree.
    """
    entries: list[tuple[str, str, str]] = []
    for record in git.run("ls-tree", "-r", "-z", "--full-tree", "--end-of-options", commit).split(b"\0"):
        if not record:
            continue
        meta, _, raw_name = record.partition(b"\t")
        mode, kind, oid = meta.decode().split(" ")
        if kind == "blob":
            entries.append((mode, oid, raw_name.decode("utf-8", "surrogateescape")))
    if not entries:
        return
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
                raise SyncError(f"cannot export the source commit: symlink {name} points outside the tree")
            target.symlink_to(link)
            continue
        target.write_bytes(content)
        if mode == "100755":
            target.chmod(0o755)


def choose_mode(tree: Path, source_path: str, requested: str) -> str:
    """The render mode of a path: the requested one, or for ``auto`` kustomize when it has a kustomization."""
    if requested != "auto":
        return requested
    directory = tree / source_path
    return "kustomize" if any((directory / name).is_file() for name in KUSTOMIZATION_FILES) else "plain"


def render_path(tree: Path, source_path: str, target_path: str, mode: str,
                include: tuple[str, ...] = DEFAULT_INCLUDE, exclude: tuple[str, ...] = ()) -> Rendered:
    """Render one path of the exported source tree."""
    directory = tree / source_path
    if not directory.is_dir():
        raise SyncError(f"path {source_path!r} is not a directory at the source commit")
    if mode == "kustomize":
        return _kustomize(directory, source_path, target_path)
    has_kustomization = [n for n in KUSTOMIZATION_FILES if (directory / n).is_file()]
    if has_kustomization:
        raise SyncError(f"{source_path}/{has_kustomization[0]} exists: render it with --render kustomize "
                        "(plain rendering would publish the unpatched bases)")
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


def kubectl() -> str:
    """The kubectl executable, or a clear error naming the extra that installs it."""
    found = shutil.which("kubectl")
    if found is None:
        raise SyncError("kustomize rendering needs kubectl on PATH: install the kustomize extra "
                        "(pip install 'gitops-gatekeeper[kustomize]') or a kubectl binary")
    return found


def _kustomize(directory: Path, source_path: str, target_path: str) -> Rendered:
    exe = kubectl()
    try:
        proc = subprocess.run([exe, "kustomize", str(directory)], capture_output=True,
                              timeout=KUBECTL_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise SyncError(f"kubectl kustomize {source_path} timed out after {KUBECTL_TIMEOUT}s") from None
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        first = message[0][:300] if message else f"exit {proc.returncode}"
        first = first.replace(str(directory), source_path)
        raise SyncError(f"kubectl kustomize {source_path} failed: {first}")
    objects, problems = load_objects(SourceFile(f"{source_path} (kustomize output)", proc.stdout))
    if problems:
        raise SyncError(f"kubectl kustomize {source_path} produced unreadable output: {problems[0]}")
    manifest = render_manifest(objects)
    # The checks read exactly the bytes that will be published, so findings point at its lines.
    check_file = SourceFile(f"{target_path}/{MANIFEST}", manifest)
    return Rendered(source_path, target_path, "kustomize", objects, [check_file],
                    [f"kubectl kustomize {source_path}"], manifest)
