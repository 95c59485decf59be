"""Kubernetes objects written as a top-level list (a JSON array, a YAML sequence): kubectl, kustomize,
Argo CD and Flux refuse the document, and the gate read no object from it, silently (exit 0). Now it
is a missing-kind error at the first object; a list of plain data stays data."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_json

POD = ('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q"}, "spec": {"hostNetwork": true, '
       '"containers": [{"name": "c", "image": "nginx:1.2.3"}]}}')


@pytest.mark.parametrize(("name", "text", "line"), [
    ("list.json", f"[\n  {POD}\n]\n", 2),
    ("list.yaml", "- name: plain\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n", 2),
])
def test_a_top_level_list_of_objects_is_an_error(tmp_path: Path, name: str, text: str, line: int) -> None:
    (tmp_path / name).write_text(text)
    code, report = run_json(str(tmp_path))
    assert [(f["path"], f["line"], f["rule"]) for f in report["findings"]] == [(name, line, "missing-kind")]
    assert code == 1


def test_a_top_level_list_of_data_is_data(tmp_path: Path) -> None:
    (tmp_path / "hosts.yaml").write_text("- name: a\n  ip: 10.0.0.1\n- name: b\n  ip: 10.0.0.2\n")
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n")
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert report["findings"] == []
    assert code == 0
