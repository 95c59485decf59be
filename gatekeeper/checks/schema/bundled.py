"""Kubernetes JSON schemas from kubernetes-validate's package data, compiled by the gate.

kubernetes-validate ships per-kind schemas for every supported Kubernetes minor version
that reference one big ``_definitions.json``. The gate reads them once, inlines only the
definitions a kind reaches, and compiles one validator per (version, strictness, kind).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from gatekeeper.model import valid_type

_REF_PREFIX = "/api/_definitions.json#/$defs/"
_DIR_RE = re.compile(r"^v(\d+)\.(\d+)\.\d+-local$")


class VersionError(ValueError):
    """The requested Kubernetes version is not bundled."""


@cache
def schema_root() -> Path:
    """Directory holding kubernetes-validate's per-version schema folders."""
    import kubernetes_validate

    return Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"


@cache
def bundled_versions() -> tuple[str, ...]:
    """Bundled Kubernetes minor versions, oldest first (e.g. ``('1.25', ..., '1.37')``)."""
    found = []
    for entry in schema_root().iterdir():
        m = _DIR_RE.match(entry.name)
        if m:
            found.append((int(m.group(1)), int(m.group(2))))
    return tuple(f"{a}.{b}" for a, b in sorted(found))


def version_tuple(version: str) -> tuple[int, int]:
    """Parse ``1.30``, ``v1.30`` or ``1.30.2`` into (1, 30)."""
    m = re.match(r"^v?(\d+)\.(\d+)(?:\.\d+)?$", version.strip())
    if not m:
        raise VersionError(f"invalid Kubernetes version {version!r} (expected MAJOR.MINOR, e.g. 1.31)")
    return int(m.group(1)), int(m.group(2))


def resolve_version(requested: str | None) -> str:
    """Normalise a requested version to a bundled minor version; newest when None."""
    versions = bundled_versions()
    if not versions:
        raise VersionError("no Kubernetes schemas found in the kubernetes-validate package")
    if requested is None:
        return versions[-1]
    wanted = version_tuple(requested)
    norm = f"{wanted[0]}.{wanted[1]}"
    if norm not in versions:
        raise VersionError(
            f"Kubernetes version {requested} has no bundled schemas "
            f"(bundled: {versions[0]} to {versions[-1]})")
    return norm


class BundledSchemas:
    """Schemas for one Kubernetes version and strictness; compiled validators are cached."""

    def __init__(self, version: str, strict: bool) -> None:
        self.version = version
        self.strict = strict
        major, minor = version_tuple(version)
        self.directory = schema_root() / f"v{major}.{minor}.0-local{'-strict' if strict else ''}"
        self._defs: dict[str, Any] | None = None
        self._cache: dict[tuple[str, str], Any] = {}

    def _definitions(self) -> dict[str, Any]:
        if self._defs is None:
            with open(self.directory / "_definitions.json", encoding="utf-8") as fh:
                self._defs = json.load(fh)["$defs"]
        return self._defs

    def schema_for(self, api_version: str, kind: str) -> dict[str, Any] | None:
        """A self-contained JSON schema for a built-in kind, or None when it is not built in."""
        if not valid_type(api_version, kind):
            return None  # never a file name outside the Kubernetes name grammar
        group, _, version = api_version.rpartition("/")
        prefix = group.split(".", 1)[0]
        name = f"{kind.lower()}-{prefix}-{version}.json" if group else f"{kind.lower()}-{version}.json"
        path = self.directory / name
        if not path.is_file():
            return None
        with open(path, encoding="utf-8") as fh:
            schema = json.load(fh)
        gvks = schema.get("x-kubernetes-group-version-kind") or []
        if not any(g.get("group", "") == group and g.get("version") == version and g.get("kind") == kind
                   for g in gvks):
            return None
        return self._inline(schema)

    def _inline(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Rewrite refs to local ``#/$defs`` and embed only the reachable definitions."""
        defs = self._definitions()
        text = json.dumps(schema).replace(f'"{_REF_PREFIX}', '"#/$defs/')
        out = json.loads(text)
        out.pop("$id", None)
        needed: dict[str, Any] = {}
        pending = _refs(out)
        while pending:
            name = pending.pop()
            if name in needed or name not in defs:
                continue
            needed[name] = defs[name]
            pending.extend(_refs(defs[name]))
        out["$defs"] = needed
        return out  # type: ignore[no-any-return]

    def validator(self, api_version: str, kind: str) -> Any:
        """A compiled validator for a built-in kind (cached), or None."""
        key = (api_version, kind)
        if key not in self._cache:
            schema = self.schema_for(api_version, kind)
            self._cache[key] = compile_schema(schema) if schema is not None else None
        return self._cache[key]


@cache
def bundled(version: str, strict: bool) -> BundledSchemas:
    """The shared schema set for a version and strictness, so validators compile once per process."""
    return BundledSchemas(version, strict)


def _refs(node: Any) -> list[str]:
    """Names of every ``#/$defs/NAME`` reference under a schema node."""
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                found.append(ref[len("#/$defs/"):])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def compile_schema(schema: dict[str, Any]) -> Any:
    """Compile a JSON schema with the fast validator (formats are not asserted, as in Kubernetes)."""
    import jsonschema_rs

    return jsonschema_rs.validator_for(schema, validate_formats=False)
