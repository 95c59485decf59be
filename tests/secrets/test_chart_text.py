"""Credentials committed in files no parser reads are found at their lines: a Helm chart's templates
(a Secret under a condition that is false by default), helpers (a token in an unused define) and
files/ (read through .Files.Get), and YAML with an upper-case extension that no GitOps agent deploys.
Before, only what a render produced was scanned, so these passed with exit 0."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli, run_json
from tests.pr.conftest import Repo
from tests.secrets.fakes import aws_key_id, github_token, password

CHART = "apiVersion: v2\nname: c\nversion: 0.1.0\n"


def _chart(root: Path, token: str, key_id: str, secret: str) -> None:
    (root / "chart" / "templates").mkdir(parents=True)
    (root / "chart" / "files").mkdir()
    (root / "chart" / "Chart.yaml").write_text(CHART)
    (root / "chart" / "values.yaml").write_text("enabled: false\npassword: ''\n")
    (root / "chart" / "templates" / "secret.yaml").write_text(
        "{{- if .Values.enabled }}\napiVersion: v1\nkind: Secret\nmetadata: {name: hidden, namespace: shop}\n"
        f"stringData:\n  password: \"{secret}\"\n  aws_access_key_id: \"{key_id}\"\n"
        "  from_values: {{ .Values.password | quote }}\n{{- end }}\n")
    (root / "chart" / "templates" / "_helpers.tpl").write_text(
        f'{{{{/* helpers */}}}}\n{{{{- define "c.token" -}}}}{token}{{{{- end }}}}\n')
    (root / "chart" / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: shop}\ndata: {a: b}\n")
    (root / "chart" / "files" / "app.ini").write_text(f"[db]\nuser = app\npassword = {secret}\n")


def test_chart_templates_helpers_and_files_are_scanned_as_text(tmp_path: Path) -> None:
    token, key_id, secret = github_token(), aws_key_id(), password()
    _chart(tmp_path, token, key_id, secret)
    code, report = run_json(str(tmp_path), "--checks", "secrets")
    assert code == 1, report
    found = sorted((f["path"], f["line"], f["rule"], f["field"]) for f in report["findings"])
    assert found == [("chart/files/app.ini", 3, "secret-keyword-entropy", "password"),
                     ("chart/templates/_helpers.tpl", 2, "secret-github-token", ""),
                     ("chart/templates/secret.yaml", 6, "secret-keyword-entropy", "password"),
                     ("chart/templates/secret.yaml", 7, "secret-aws-access-key", "aws_access_key_id")]
    helper = next(f for f in report["findings"] if f["rule"] == "secret-github-token")
    assert helper["column"] == len('{{- define "c.token" -}}') + 1
    assert "a Helm chart file, scanned whether or not a render uses it" in helper["message"]
    _, out = run_cli("check", str(tmp_path), "--checks", "secrets", "--format", "sarif")
    assert token not in out and key_id not in out and secret not in out


def test_an_upper_case_yaml_file_is_searched_for_credentials(tmp_path: Path) -> None:
    token = github_token()
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    (tmp_path / "app" / "Stray.YAML").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: b}}\ndata:\n  note: x\n  api: {token}\n")
    code, report = run_json(str(tmp_path), "--checks", "secrets")
    assert code == 1, report
    assert [(f["path"], f["line"], f["rule"]) for f in report["findings"]] == [
        ("app/Stray.YAML", 6, "secret-github-token")]
    assert any("not checked as manifests, only searched for credentials as text (app/Stray.YAML)" in n
               for n in report["notes"])


def test_a_pull_request_changing_a_helper_reports_it_and_not_the_unchanged_templates(tmp_path: Path) -> None:
    token, key_id, secret = github_token(), aws_key_id(), password()
    repo = Repo(tmp_path / "repo")
    _chart(repo.path, github_token(), key_id, secret)
    repo.commit("chart with old credentials")
    helpers = repo.path / "chart" / "templates" / "_helpers.tpl"
    helpers.write_text(helpers.read_text() + f'{{{{- define "c.other" -}}}}\ntoken: {token}\n{{{{- end }}}}\n')
    repo.commit("a new helper")
    code, report = run_json("--base", "HEAD~1", "--checks", "secrets", cwd=repo.path)
    assert code == 1, report
    assert [(f["path"], f["line"], f["rule"]) for f in report["findings"]] == [
        ("chart/templates/_helpers.tpl", 2, "secret-github-token"),
        ("chart/templates/_helpers.tpl", 4, "secret-github-token")]
    assert not any("unchanged files are caused by this change" in n for n in report["notes"])
