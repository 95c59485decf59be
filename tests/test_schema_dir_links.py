"""A schema dir (configured or named with --schema-dir) is read without following symbolic links out
of it: a schema file linked to a file elsewhere on the machine was loaded and decided validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

WIDGET = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: x}\nspec: {size: 1}\n"


def _tree(tmp_path: Path, link: bool) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "widget.json").write_text('{"not": {}}\n')
    repo = tmp_path / "repo"
    (repo / "schemas" / "example.com").mkdir(parents=True)
    target = repo / "schemas" / "example.com" / "widget_v1.json"
    if link:
        target.symlink_to(outside / "widget.json")
    else:
        target.write_text('{"type": "object"}\n')
    (repo / ".gatekeeper.yaml").write_text("version: 1\nexclude: [schemas/]\nchecks:\n  schema:\n"
                                           "    schema_dirs: [schemas]\n")
    (repo / "w.yaml").write_text(WIDGET)
    return repo


@pytest.mark.parametrize("how", ["config", "option"])
def test_a_schema_file_linked_out_of_its_dir_is_a_load_error(tmp_path: Path, how: str) -> None:
    repo = _tree(tmp_path, link=True)
    args = ["--schema-dir", str(repo / "schemas")] if how == "option" else []
    if how == "option":
        (repo / ".gatekeeper.yaml").write_text("version: 1\nexclude: [schemas/]\n")
    code, out = run_cli("check", "--checks", "schema", *args, str(repo))
    assert "widget_v1.json is a symbolic link out of the schema dir" in out
    assert "violates schema keyword 'not'" not in out
    assert code == 2


def test_a_schema_dir_without_links_out_is_read(tmp_path: Path) -> None:
    code, out = run_cli("check", "--checks", "schema", str(_tree(tmp_path, link=False)))
    assert code == 0, out
