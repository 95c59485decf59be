"""Removed and deprecated Kubernetes apiVersions, from the table in ``gatekeeper/data``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from gatekeeper.checks.schema.bundled import version_tuple


@dataclass(frozen=True, slots=True)
class Deprecation:
    """One apiVersion/kind pair's lifecycle."""

    api_version: str
    kind: str
    deprecated: str | None
    removed: str | None
    replacement: str | None
    note: str = ""

    def status(self, target: str) -> str | None:
        """'removed', 'deprecated' or None for the target Kubernetes version."""
        t = version_tuple(target)
        if self.removed and t >= version_tuple(self.removed):
            return "removed"
        if self.deprecated and t >= version_tuple(self.deprecated):
            return "deprecated"
        return None


@cache
def table() -> dict[tuple[str, str], Deprecation]:
    """The deprecation table keyed by (apiVersion, kind)."""
    raw = json.loads(resources.files("gatekeeper").joinpath("data/deprecations.json").read_text("utf-8"))
    out: dict[tuple[str, str], Deprecation] = {}
    for entry in raw["apis"]:
        for kind in entry["kinds"]:
            out[(entry["apiVersion"], kind)] = Deprecation(
                entry["apiVersion"], kind, entry.get("deprecated"), entry.get("removed"),
                entry.get("replacement"), entry.get("note", ""))
    return out


def lookup(api_version: str, kind: str) -> Deprecation | None:
    return table().get((api_version, kind))
