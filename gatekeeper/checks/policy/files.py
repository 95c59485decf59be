"""Read a policy directory: Rego modules (tests apart) and the YAML objects beside them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from gatekeeper.checks.base import CheckLoadError
from gatekeeper.model import Document
from gatekeeper.sources.files import SKIP_DIRS, SourceFile
from gatekeeper.sources.yamlload import parse

YAML_SUFFIXES = (".yaml", ".yml", ".json")
# test fixtures of Suite files live here; the check never loads them as policy
FIXTURE_DIRS = frozenset({"samples", "testdata", "tests"})
MAX_POLICY_FILE = 16 * 2**20


@dataclass(slots=True)
class PolicyFiles:
    """What a set of policy directories holds."""

    rego: list[tuple[str, str]] = field(default_factory=list)  # (display path, text)
    tests: list[tuple[str, str]] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    roots: list[Path] = field(default_factory=list)


def display(path: Path) -> str:
    """A path as messages show it: relative to the working directory when below it."""
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


def walk(root: Path) -> list[Path]:
    """Every regular file under ``root`` (or ``root`` itself), sorted; symlinked dirs are followed
    once. Anything else (a link to a device such as /dev/zero, a FIFO) is never opened. A file or
    directory reached through a symlink out of ``root`` is a load error: a policy directory is often
    part of the change under review, and a link would feed any file of the machine to a policy."""
    if root.is_file():
        return [root]
    top = root.resolve()
    out: list[Path] = []
    seen: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = Path(dirpath).resolve()
        _inside(real, top, Path(dirpath), root)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file():
                _inside(path.resolve(), top, path, root)
                out.append(path)
    return out


def _inside(real: Path, top: Path, path: Path, root: Path) -> None:
    if real != top and top not in real.parents:
        raise CheckLoadError(f"{display(path)} is a symbolic link out of the policy directory {display(root)}; "
                             "it was not read")


def read(roots: list[Path], *, yaml: bool = True) -> PolicyFiles:
    """Read ``*.rego`` (``*_test.rego`` as tests) and, with ``yaml``, YAML/JSON documents."""
    files = PolicyFiles(roots=[r.resolve() for r in roots])
    for root in roots:
        for path in walk(root):
            name = path.name
            try:
                if name.endswith((".rego", *YAML_SUFFIXES)) and path.stat().st_size > MAX_POLICY_FILE:
                    raise CheckLoadError(f"policy file {display(path)} is larger than "
                                         f"{MAX_POLICY_FILE // 2**20} MiB")
                if name.endswith("_test.rego"):
                    files.tests.append((display(path), path.read_text(encoding="utf-8")))
                elif name.endswith(".rego"):
                    files.rego.append((display(path), path.read_text(encoding="utf-8")))
                elif yaml and name.endswith(YAML_SUFFIXES) and not _fixture(path, root):
                    parsed = parse(SourceFile(display(path), path.read_bytes()))
                    if parsed.findings:
                        first = parsed.findings[0]
                        raise CheckLoadError(f"{first.path}:{first.line}: {first.message}")
                    files.documents.extend(parsed.documents)
            except (OSError, UnicodeDecodeError) as exc:
                raise CheckLoadError(f"cannot read policy file {display(path)}: {exc.__class__.__name__}") from None
    return files


def inside(path: Path, roots: list[Path], resolved: bool = False) -> bool:
    """True when ``path`` (already resolved when ``resolved``) lies in one of the (resolved) policy roots."""
    real = str(path if resolved else path.resolve())
    return any(real == str(r) or real.startswith(str(r).rstrip("/") + "/") for r in roots)


def _fixture(path: Path, root: Path) -> bool:
    """True for files under a ``samples``/``testdata``/``tests`` directory (Suite fixtures)."""
    try:
        parts = path.relative_to(root).parts[:-1]
    except ValueError:
        return False
    return any(p in FIXTURE_DIRS for p in parts)
