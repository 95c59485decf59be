"""The configuration a change is judged against: the base's, found the way the head's was found.

``.gatekeeper.yaml`` is discovered from the first PATH upwards, so a change can add one in the
directory the gate is pointed at (the Action's ``paths``, the pre-commit hook's first file) or
rename the root one to ``.gatekeeper.yml``; the file the run uses then has no base of its own,
yet the base used another. The base configuration is therefore discovered in the base commit
from the same directory, and the head is compared with that.

Settings that send the repository's content somewhere (``checks.policy.opa_url``) take effect
only once they are in the base: a pull request that points the gate at a server of its choosing
would have every manifest posted there, and the verdict decided there, before anyone reviewed
the change. The run uses the base's value; the change is still reported as a weakening.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from gatekeeper.catalogue import Catalogue
from gatekeeper.config import CONFIG_NAMES, Config, ConfigError, load_bytes

# Key paths whose value the change under review cannot bring into effect (see the module doc).
PINNED_AT_BASE: tuple[tuple[str, str, str], ...] = (("checks", "policy", "opa_url"),)


@dataclass(frozen=True, slots=True)
class BaseConfig:
    """The base's configuration and the repository path it was read from (None: no file)."""

    config: Config
    path: str | None


def start_dir(paths: list[Path], root: Path, top: Path) -> str:
    """The repository-relative directory discovery starts from: the first PATH's (its parent for a
    file), as ``config.discover`` walks it; the top when it is outside the repository."""
    first = paths[0] if paths else root
    here = first if first.is_dir() else first.parent
    for candidate in (Path(os.path.normpath(here.absolute())), here.resolve()):
        for base in (Path(os.path.normpath(top.absolute())), top.resolve()):
            if candidate == base or base in candidate.parents:
                rel = candidate.relative_to(base).as_posix()
                return "" if rel == "." else rel
    return ""


def candidates(start: str) -> list[str]:
    """Every path discovery tries from ``start`` up to the top, in order."""
    out: list[str] = []
    directory = start.strip("/")
    while True:
        out.extend(posixpath.join(directory, name) if directory else name for name in CONFIG_NAMES)
        if not directory:
            return out
        directory = posixpath.dirname(directory)


def at_base(read: Callable[[str], bytes | None], head: str | None, start: str, root: Path,
            catalogue: Catalogue) -> BaseConfig:
    """The base's configuration for a run whose configuration file is ``head`` (repository-relative;
    None: none found). A discovered file is compared with what discovery finds at the base; a file
    named with ``--config`` with the same file at the base. Raises ConfigError when the base's is invalid."""
    tried = candidates(start)
    names = tried if head is None or head in tried else [head]
    for rel in names:
        data = read(rel)
        if data is not None:
            return BaseConfig(load_bytes(data, root / rel, catalogue), rel)
    return BaseConfig(Config(), None)


def pin(head: Config, base: Config) -> tuple[Config, list[str]]:
    """``head`` with the base's value of every :data:`PINNED_AT_BASE` key the change sets
    differently, and a note for each."""
    notes: list[str] = []
    checks = head.checks
    for section, name, key in PINNED_AT_BASE:
        assert section == "checks"
        before = base.checks.get(name, {}).get(key)
        after = head.checks.get(name, {}).get(key)
        if before == after:
            continue
        if checks is head.checks:
            checks = {k: dict(v) for k, v in head.checks.items()}
        part = checks.setdefault(name, {})
        if before is None:
            part.pop(key, None)
        else:
            part[key] = before
        notes.append(f"{section}.{name}.{key}: this change sets another value, which takes effect once it is in "
                     "the base (the base's value was used: a change under review cannot choose where the "
                     "repository's objects are sent)")
    return (head if checks is head.checks else replace(head, checks=checks)), notes


__all__ = ["PINNED_AT_BASE", "BaseConfig", "ConfigError", "at_base", "candidates", "pin", "start_dir"]
