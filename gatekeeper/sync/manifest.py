"""Deterministic manifest files: every object normalised and sorted by a stable key.

The same objects always give the same bytes (keys sorted, one document per object, no line
folding), which is what lets the step detect "nothing changed" and make no commit. libyaml's
emitter is used where present (about 20 times faster); PyYAML's pure emitter is a port of it
and a test keeps the two byte-identical on awkward values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

MANIFEST = "manifest.yaml"
_Dumper: type[Any] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True, slots=True, order=True)
class ObjectKey:
    """Identity of a published object: group, kind, namespace, name."""

    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{kind} {where}"


def object_key(obj: dict[str, Any]) -> ObjectKey:
    """The stable identity of an object (empty strings for missing parts)."""
    api = obj.get("apiVersion")
    kind = obj.get("kind")
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    ns = meta.get("namespace") if isinstance(meta, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    group = api.rpartition("/")[0] if isinstance(api, str) else ""
    return ObjectKey(group, kind if isinstance(kind, str) else "",
                     ns if isinstance(ns, str) else "", name if isinstance(name, str) else "")


def dump_object(obj: Any) -> str:
    """One object as normalised YAML."""
    return dump_with(obj, _Dumper)


def dump_with(obj: Any, dumper: type[Any]) -> str:
    """``obj`` as normalised YAML through the given PyYAML dumper class."""
    text: str = yaml.dump(obj, Dumper=dumper, sort_keys=True, default_flow_style=False,
                          allow_unicode=True, width=1 << 20, explicit_start=False)
    return text


def render_manifest(objects: list[dict[str, Any]]) -> bytes:
    """All objects as one multi-document YAML file, sorted by identity (then content)."""
    dumped = sorted(((object_key(o), dump_object(o)) for o in objects), key=lambda item: item)
    return "".join(f"---\n{text}" for _, text in dumped).encode("utf-8")


def parse_manifest(data: bytes) -> dict[ObjectKey, dict[str, Any]]:
    """Objects of a published manifest by identity (for the drift report)."""
    from gatekeeper.sources.files import SourceFile
    from gatekeeper.sources.yamlload import parse

    out: dict[ObjectKey, dict[str, Any]] = {}
    for doc in parse(SourceFile(MANIFEST, data)).documents:
        if isinstance(doc.obj, dict):
            out[object_key(doc.obj)] = doc.obj
    return out
