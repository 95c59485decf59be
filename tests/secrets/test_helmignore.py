"""Chart files searched as text are the files Helm loads: ``.helmignore`` is honoured, so a chart at
the repository root no longer makes docs, fixtures and notes it ignores chart files (they failed
the run with secret findings that the same files outside a chart never get)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.sources.helmignore import HelmIgnore
from tests.conftest import run_json
from tests.secrets.fakes import github_token


@pytest.mark.parametrize(("rules", "path", "ignored"), [
    ("docs/\n", "docs/setup.txt", True),
    ("docs/\n", "docs", False),  # a directory rule applies to directories (their files are below them)
    ("docs/\n", "src/docs", False),
    ("*.md\n", "NOTES.md", True),
    ("*.md\n", "sub/dir/NOTES.md", True),  # no '/': the base name
    ("sub/*.md\n", "sub/NOTES.md", True),
    ("sub/*.md\n", "sub/dir/NOTES.md", False),  # '*' never crosses a '/'
    ("/tests\n", "tests/fixtures/fake.env", True),
    ("*.md\n!KEEP.md\n", "KEEP.md", False),
    ("# comment\n\n", "a.txt", False),
    ("", "templates/.hidden.yaml", True),  # Helm's default rule
    ("", "templates/cm.yaml", False),
    ("[ab].txt\n", "a.txt", True),
    ("[^ab].txt\n", "a.txt", False),
    ("x[.txt\n", "x[.txt", False),  # malformed: Helm refuses it; nothing is ignored by it here
])
def test_helm_ignore_rules(rules: str, path: str, ignored: bool) -> None:
    assert HelmIgnore(rules).ignores(path) is ignored


def test_a_root_chart_searches_only_the_files_helm_loads(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "files").mkdir()
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: root\nversion: 0.1.0\n")
    (tmp_path / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\ndata: {a: b}\n")
    (tmp_path / ".helmignore").write_text("docs/\n*.md\n")
    (tmp_path / "docs" / "setup.txt").write_text(f"export GITHUB_TOKEN={github_token()}\n")
    (tmp_path / "NOTES.md").write_text(f"token {github_token()}\n")
    (tmp_path / "files" / "app.env").write_text(f"TOKEN={github_token()}\n")
    code, report = run_json(str(tmp_path), "--checks", "secrets")
    assert sorted((f["path"], f["line"], f["rule"]) for f in report["findings"]) == [
        ("files/app.env", 1, "secret-github-token")]
    assert code == 1
