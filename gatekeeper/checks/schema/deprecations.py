"""Removed and deprecated apiVersions (Kubernetes since 1.7, and the GitOps CRDs: Flux, cert-manager,
Istio) and fields (Argo CD's argocd-cm keys), from the table in ``gatekeeper/data``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from gatekeeper.checks.schema.bundled import version_tuple

KUBERNETES = "Kubernetes"


@dataclass(frozen=True, slots=True)
class Deprecation:
    """One apiVersion/kind pair's lifecycle (or one field's, with ``name`` and ``field``).

    Kubernetes entries are judged against the target Kubernetes version. Entries of another project
    (Flux, cert-manager, Istio, Argo CD) carry that project's versions, which the run does not know:
    removed in a released version is ``removed``, otherwise deprecated is ``deprecated``.
    """

    api_version: str
    kind: str
    deprecated: str | None
    removed: str | None
    replacement: str | None
    note: str = ""
    project: str = KUBERNETES
    name: str | None = None
    field: tuple[str, ...] = ()

    def status(self, target: str) -> str | None:
        """'removed', 'deprecated' or None for the target Kubernetes version."""
        if self.project != KUBERNETES:
            return "removed" if self.removed else ("deprecated" if self.deprecated else None)
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
                entry.get("replacement"), entry.get("note", ""), entry.get("project", KUBERNETES))
    return out


@cache
def fields() -> dict[tuple[str, str], list[Deprecation]]:
    """Deprecated fields of named objects (Argo CD's argocd-cm keys), keyed by (apiVersion, kind)."""
    raw = json.loads(resources.files("gatekeeper").joinpath("data/deprecations.json").read_text("utf-8"))
    out: dict[tuple[str, str], list[Deprecation]] = {}
    for entry in raw.get("fields", []):
        out.setdefault((entry["apiVersion"], entry["kind"]), []).append(Deprecation(
            entry["apiVersion"], entry["kind"], entry.get("deprecated"), entry.get("removed"),
            entry.get("replacement"), entry.get("note", ""), entry.get("project", KUBERNETES),
            entry.get("name"), tuple(entry["field"])))
    return out


def lookup(api_version: str, kind: str) -> Deprecation | None:
    return table().get((api_version, kind))


def field_entries(api_version: str, kind: str, name: str | None) -> list[Deprecation]:
    """The deprecated-field entries that apply to an object of this type and name."""
    return [e for e in fields().get((api_version, kind), []) if e.name is None or e.name == name]
