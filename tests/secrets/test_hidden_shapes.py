"""Credential shapes a parsed manifest can hide that no value scan sees: a token in a YAML comment, a
token written as a mapping key, a Secret's plaintext inside ``kubectl.kubernetes.io/last-applied-
configuration`` (the annotation was skipped outright), and, in files read as text, a token after the
first 64 KiB of a long line. Each was committed and passed with exit 0."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli, run_json
from tests.secrets.fakes import github_token, password


def _found(report: dict) -> list[tuple[str, int, str]]:  # type: ignore[type-arg]
    return sorted((f["path"], f["line"], f["rule"]) for f in report["findings"])


def test_a_token_in_a_comment_is_reported_at_its_line(tmp_path: Path) -> None:
    token = github_token()
    (tmp_path / "cm.yaml").write_text(
        f"# old token: {token}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c  # {token[::-1]}\n"
        f"data:\n  note: \"not # a comment {github_token()[:8]}\"\n  script: |\n    # {github_token()}\n")
    code, report = run_json(str(tmp_path), "--checks", "secrets")
    # the comment's token; the block scalar's line is a value (reported once, as such); a reversed token is none
    assert _found(report) == [("cm.yaml", 1, "secret-github-token"), ("cm.yaml", 9, "secret-github-token")]
    first = next(f for f in report["findings"] if f["line"] == 1)
    assert first["column"] == 14 and "in a comment" in first["message"]
    assert token not in json.dumps(report)
    assert code == 1


def test_a_token_as_a_mapping_key_is_reported_and_masked(tmp_path: Path) -> None:
    token = github_token()
    (tmp_path / "cm.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n"
                                      f"data:\n  {token}: '1'\n")
    code, out = run_cli("check", "--checks", "secrets", "--format", "json", str(tmp_path))
    report = json.loads(out)
    assert _found(report) == [("cm.yaml", 5, "secret-github-token")]
    assert token not in out
    assert code == 1


def test_a_secret_in_the_last_applied_configuration_is_read_as_its_object(tmp_path: Path) -> None:
    secret = password()
    applied = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                          "stringData": {"password": secret}})
    (tmp_path / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n"
        f"    kubectl.kubernetes.io/last-applied-configuration: '{applied}'\ndata: {{a: b}}\n")
    code, out = run_cli("check", "--checks", "secrets", "--format", "json", str(tmp_path))
    report = json.loads(out)
    assert _found(report) == [("cm.yaml", 6, "secret-k8s-secret")]
    assert report["findings"][0]["field"].endswith(".stringData.password")
    assert secret not in out
    assert code == 1


def test_a_token_after_the_first_64_kib_of_a_text_line_is_reported(tmp_path: Path) -> None:
    (tmp_path / "chart" / "templates").mkdir(parents=True)
    (tmp_path / "chart" / "files").mkdir()
    (tmp_path / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (tmp_path / "chart" / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\ndata: {a: b}\n")
    pad = "x" * 70_000
    (tmp_path / "chart" / "files" / "blob.txt").write_text(f'{{"pad": "{pad}", "t": "{github_token()}"}}\n')
    code, report = run_json(str(tmp_path), "--checks", "secrets")
    assert _found(report) == [("chart/files/blob.txt", 1, "secret-github-token")]
    assert report["findings"][0]["column"] == len(pad) + 19
    assert code == 1
