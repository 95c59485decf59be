"""The drift report (``gatekeeper sync --diff``): what a sync would change on the branch.

Objects are compared by identity (group, kind, namespace, name); a changed object lists
the field paths that differ, never their values, so a diff of a Secret leaks nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gatekeeper.model import format_field
from gatekeeper.sync.gitcmd import Git
from gatekeeper.sync.manifest import MANIFEST, ObjectKey, parse_manifest
from gatekeeper.sync.metadata import OWNED, parse_owned
from gatekeeper.sync.render import Rendered

MAX_FIELDS = 8


@dataclass(slots=True)
class PathDrift:
    """Differences for one target path."""

    target: str
    added: list[ObjectKey] = field(default_factory=list)
    removed: list[ObjectKey] = field(default_factory=list)
    changed: list[tuple[ObjectKey, list[str]]] = field(default_factory=list)
    gone: bool = False  # the whole path would be removed (no longer published)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.gone)


def changed_fields(old: Any, new: Any, path: tuple[str | int, ...] = ()) -> list[str]:
    """Field paths where two values differ (the shallowest differing path of each branch)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            if old.get(key, _MISSING) != new.get(key, _MISSING):
                if key in old and key in new:
                    out.extend(changed_fields(old[key], new[key], (*path, str(key))))
                else:
                    out.append(format_field((*path, str(key))))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            if a != b:
                out.extend(changed_fields(a, b, (*path, i)))
        return out
    return [format_field(path) if path else "(whole object)"]


_MISSING = object()


def compare(git: Git, base: str | None, rendered: list[Rendered]) -> list[PathDrift]:
    """Drift of every rendered path against the branch tip ``base`` (None: no branch yet)."""
    out = []
    for item in rendered:
        old_data = git.blob_at(base, f"{item.target_path}/{MANIFEST}") if base else None
        old = parse_manifest(old_data) if old_data is not None else {}
        new = parse_manifest(item.manifest)
        drift = PathDrift(item.target_path)
        drift.added = sorted(k for k in new if k not in old)
        drift.removed = sorted(k for k in old if k not in new)
        drift.changed = [(k, changed_fields(old[k], new[k])) for k in sorted(new)
                         if k in old and old[k] != new[k]]
        out.append(drift)
    if base:
        published = {f"{r.target_path}/{MANIFEST}" for r in rendered}
        for path in parse_owned(git.blob_at(base, OWNED)):
            if path.endswith("/" + MANIFEST) and path not in published:
                gone = PathDrift(path[: -len(MANIFEST) - 1], gone=True)
                data = git.blob_at(base, path)
                gone.removed = sorted(parse_manifest(data)) if data is not None else []
                out.append(gone)
    return out


def render_text(branch: str, drifts: list[PathDrift]) -> str:
    """The drift report as text: ``+`` added, ``-`` removed, ``~`` changed (with field paths)."""
    lines = []
    for drift in drifts:
        if drift.empty:
            lines.append(f"{drift.target}: no change")
            continue
        head = f"{drift.target}: would be removed" if drift.gone else (
            f"{drift.target}: {len(drift.added)} added, {len(drift.removed)} removed, "
            f"{len(drift.changed)} changed")
        lines.append(head)
        lines.extend(f"  + {k}" for k in drift.added)
        lines.extend(f"  - {k}" for k in drift.removed)
        for key, fields in drift.changed:
            shown = ", ".join(fields[:MAX_FIELDS]) + (f", ... ({len(fields)} fields)"
                                                      if len(fields) > MAX_FIELDS else "")
            lines.append(f"  ~ {key}: {shown}")
    differs = any(not d.empty for d in drifts)
    lines.append(f"{branch}: {'differs from' if differs else 'matches'} the rendered state")
    return "\n".join(lines) + "\n"
