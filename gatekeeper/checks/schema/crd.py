"""Schemas for custom resources: from CustomResourceDefinitions in the tree and schema dirs.

A CRD's ``openAPIV3Schema`` is OpenAPI, not JSON Schema: ``nullable``,
``x-kubernetes-int-or-string`` and ``x-kubernetes-preserve-unknown-fields`` are translated,
and strict mode closes objects the way the API server's strict field validation does.
Schema dirs use the CRDs-catalog layout ``{group}/{kind}_{version}.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gatekeeper.checks.base import CheckLoadError
from gatekeeper.model import Resource, valid_type

_ROOT_FIELDS = {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                "metadata": {"type": "object"}, "status": {}}


def openapi_to_jsonschema(node: Any, strict: bool) -> Any:
    """Translate an OpenAPI v3 structural schema node into JSON Schema."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(n, strict) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties", "definitions", "$defs"):
            out[key] = {k: openapi_to_jsonschema(v, strict) for k, v in value.items()} \
                if isinstance(value, dict) else value
        elif key in ("items", "additionalProperties", "not") or key in ("allOf", "anyOf", "oneOf"):
            out[key] = openapi_to_jsonschema(value, strict)
        elif key.startswith("x-kubernetes-") or key in ("nullable", "description", "example",
                                                        "externalDocs", "default"):
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    preserve = node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-embedded-resource")
    if (strict and not preserve and "properties" in out and "additionalProperties" not in out
            and out.get("type") in ("object", ["object", "null"])):
        out["additionalProperties"] = False
    return out


def crd_schemas(crd: dict[str, Any], strict: bool) -> Iterable[tuple[str, str, dict[str, Any]]]:
    """(apiVersion, kind, schema) for every served version of a CRD object that has a schema."""
    for api_version, kind, raw, _path in raw_schemas(crd):
        yield api_version, kind, root_schema(openapi_to_jsonschema(raw, strict), strict)


def raw_schemas(crd: dict[str, Any]) -> Iterable[tuple[str, str, dict[str, Any], tuple[str | int, ...]]]:
    """(apiVersion, kind, openAPIV3Schema, its path in the CRD) for every served version with a schema."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    group = spec.get("group")
    names = spec.get("names")
    kind = names.get("kind") if isinstance(names, dict) else None
    if not isinstance(group, str) or not isinstance(kind, str):
        return
    versions = spec.get("versions")
    shared = spec.get("validation", {}).get("openAPIV3Schema") if isinstance(spec.get("validation"), dict) \
        else None
    shared_path: tuple[str | int, ...] = ("spec", "validation", "openAPIV3Schema")
    if not isinstance(versions, list):
        versions = [{"name": spec.get("version"), "served": True}] if spec.get("version") else []
    for i, entry in enumerate(versions):
        if not isinstance(entry, dict) or entry.get("served") is False or not isinstance(entry.get("name"), str):
            continue
        own = entry.get("schema", {}).get("openAPIV3Schema") if isinstance(entry.get("schema"), dict) else None
        raw, path = (own, ("spec", "versions", i, "schema", "openAPIV3Schema")) if own is not None \
            else (shared, shared_path)
        if not isinstance(raw, dict):
            continue
        yield f"{group}/{entry['name']}", kind, raw, path


def root_schema(schema: dict[str, Any], strict: bool) -> dict[str, Any]:
    """Make sure the object's own envelope fields are accepted by a closed root schema."""
    props = schema.setdefault("properties", {})
    for key, value in _ROOT_FIELDS.items():
        props.setdefault(key, value)
    if strict and not schema.get("additionalProperties") and "type" not in schema:
        schema["type"] = "object"
    return schema


def crds_in(resources: Iterable[Resource]) -> list[Resource]:
    """The CustomResourceDefinition objects among the resources."""
    return [r for r in resources if r.kind == "CustomResourceDefinition"
            and r.group == "apiextensions.k8s.io"]


def load_schema_dir(directory: Path, api_version: str, kind: str) -> dict[str, Any] | None:
    """Read ``{group}/{kind}_{version}.json`` (kind lower-cased) from a schema dir, if present."""
    if not valid_type(api_version, kind):
        return None  # never a file name outside the Kubernetes name grammar
    group, _, version = api_version.rpartition("/")
    for name in (f"{kind.lower()}_{version}.json", f"{kind}_{version}.json"):
        path = directory / (group or "core") / name
        if path.is_file():
            try:
                with open(path, encoding="utf-8") as fh:
                    loaded = json.load(fh)
            except (OSError, ValueError) as exc:  # a schema that cannot be read fails the run closed
                raise CheckLoadError(f"schema {path} cannot be read as JSON: {exc.__class__.__name__}") from None
            return loaded if isinstance(loaded, dict) else None
    return None
