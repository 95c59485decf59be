"""Container image references as Kyverno reads them (the ``images`` variable, image_normalize)."""

from __future__ import annotations

import re
from typing import Any

DEFAULT_REGISTRY = "docker.io"
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")


def parse(image: str) -> dict[str, Any]:
    """``registry``, ``name``, ``path``, ``tag`` and ``digest`` of an image reference; ValueError when
    it cannot be one."""
    if not isinstance(image, str) or image.split() != [image]:  # empty, or holding whitespace
        raise ValueError(f"invalid image reference {image!r}")
    rest, digest = image, ""
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.match(digest):
            raise ValueError(f"invalid digest in {image!r}")
    registry = DEFAULT_REGISTRY
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, rest = first, remainder
    tag = ""
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
    if not rest or (not tag and colon > slash):
        raise ValueError(f"invalid image reference {image!r}")
    if not tag and not digest:
        tag = "latest"
    return {"registry": registry, "name": rest.rsplit("/", 1)[-1], "path": rest, "tag": tag, "digest": digest,
            "reference": image}


def normalize(image: str) -> str:
    info = parse(image)
    out = f"{info['registry']}/{info['path']}"
    if info["tag"]:
        out += f":{info['tag']}"
    if info["digest"]:
        out += f"@{info['digest']}"
    return out


_CONTAINER_LISTS = (("containers", "containers"), ("initContainers", "initContainers"),
                    ("ephemeralContainers", "ephemeralContainers"))


def images_variable(pod_spec: Any) -> dict[str, dict[str, Any]]:
    """The ``images`` variable: ``images.containers.<name>.tag`` and so on, from a Pod spec."""
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(pod_spec, dict):
        return out
    for field, key in _CONTAINER_LISTS:
        entries = pod_spec.get(field)
        if not isinstance(entries, list):
            continue
        found: dict[str, Any] = {}
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("image"), str):
                try:
                    found[entry["name"]] = parse(entry["image"])
                except ValueError:
                    continue
        if found:
            out[key] = found
    return out
