"""Deterministic manifests: stable order, normalised YAML, the same bytes from either emitter."""

from __future__ import annotations

import pytest
import yaml

from gatekeeper.sync.manifest import dump_with, object_key, parse_manifest, render_manifest

AWKWARD = {
    "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "odd", "namespace": "a"},
    "data": {"multi": "line one\nline two\n", "unicode": "ünïcödé ✓ 日本", "long": "x" * 5000,
             "yes": "yes", "octal": "0123", "float": "1e3", "lead": " space", "tab": "a\tb",
             "null": "null", "tilde": "~", "dash": "- x", "colon": "a: b", "sep": "line\u2028sep",
             "empty": "", "quote": "'\"", "hash": "# not a comment", "bool": "true", "date": "2026-11-26"},
    "binaryData": None,
}


def test_order_is_by_group_kind_namespace_name_not_input_order() -> None:
    objs = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "b", "namespace": "x"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "y"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "z", "namespace": "a"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "a"}},
    ]
    out = render_manifest(objs)
    assert out == render_manifest(list(reversed(objs)))
    names = [obj["metadata"]["name"] for obj in yaml.safe_load_all(out)]
    assert names == ["c", "z", "a", "b"]  # core group first: ConfigMap a/c, a/z, Service; then apps
    assert str(object_key(objs[0])) == "Deployment.apps x/b"


def test_awkward_values_round_trip_exactly() -> None:
    out = render_manifest([AWKWARD])
    assert list(parse_manifest(out).values()) == [AWKWARD]


@pytest.mark.skipif(not hasattr(yaml, "CSafeDumper"), reason="PyYAML without libyaml")
def test_libyaml_and_pure_emitters_write_identical_bytes() -> None:
    assert dump_with(AWKWARD, yaml.CSafeDumper) == dump_with(AWKWARD, yaml.SafeDumper)
