"""The git modes read the same files as ``check DIR``: chart templates are chart inputs (never parsed
as manifests), files with an upper-case extension are searched for credentials as text, and a
submodule the change adds (whose files are never read) is a finding (real git, real CLI)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.pr.conftest import GIT_ENV, GOOD_CM, Repo
from tests.secrets.fakes import github_token

TEMPLATE = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cm
  namespace: default
data:
  {{- range $k, $v := .Values }}
  {{ $k }}: {{ $v | quote }}
  {{- end }}
"""


def _json(*args: str, cwd: Path) -> tuple[int, dict[str, Any]]:
    code, out = run_cli("check", "--format", "json", *args, cwd=cwd)
    return code, json.loads(out)


def _found(report: dict[str, Any]) -> list[tuple[str, int, str]]:
    return sorted((f["path"], f["line"], f["rule"]) for f in report["findings"])


def _chart(repo: Repo) -> None:
    repo.write("chart/Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\n")
    repo.write("chart/values.yaml", "image: nginx\n")
    repo.write("chart/templates/cm.yaml", TEMPLATE)


@pytest.mark.parametrize("mode", [("--base", "HEAD~1"), ("--staged",), ("--changed",)])
def test_a_changed_chart_template_is_a_chart_input_in_every_git_mode(repo: Repo, mode: tuple[str, ...]) -> None:
    _chart(repo)
    repo.commit("base")
    (repo.path / "chart/templates/cm.yaml").write_text(TEMPLATE.lstrip() + "  # touched\n", encoding="utf-8")
    if mode[0] != "--changed":
        repo.git("add", "-A")
    if mode[0] == "--base":
        repo.commit("change")
    code, report = _json("--checks", "schema,secrets", *mode, cwd=repo.path)
    assert _found(report) == []
    assert code == 0
    assert report["summary"]["resources"] == 1  # the rendered ConfigMap, not the template as written


@pytest.mark.parametrize("mode", [("--base", "HEAD~1"), ("--staged",), ("--changed",)])
def test_a_credential_in_an_upper_case_extension_is_reported_in_every_git_mode(
        repo: Repo, mode: tuple[str, ...]) -> None:
    repo.write("app/a.yaml", GOOD_CM.format(name="a"))
    repo.commit("base")
    repo.write("app/cm.YAML", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n"
                              f"  token: {github_token()}\n")
    repo.write("app/creds.Json", f'{{"auth": "{github_token()}"}}\n')
    if mode[0] != "--changed":
        repo.git("add", "-A")
    if mode[0] == "--base":
        repo.commit("change")
    code, report = _json("--checks", "secrets", *mode, cwd=repo.path)
    assert _found(report) == [("app/cm.YAML", 5, "secret-github-token"), ("app/creds.Json", 1, "secret-github-token")]
    assert code == 1


def test_an_upper_case_file_a_kustomization_names_is_a_manifest_in_a_pr(repo: Repo) -> None:
    repo.write("app/kustomization.yaml", "resources: [pod.YAML]\n")
    repo.write("app/pod.YAML", GOOD_CM.format(name="a"))
    repo.commit("base")
    repo.write("app/pod.YAML", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostPID: true\n"
               "  containers: [{name: c, image: 'nginx:1.2.3'}]\n")
    repo.commit("change")
    code, report = _json("--checks", "lint", "--base", "HEAD~1", cwd=repo.path)
    assert ("app/pod.YAML", 5, "host-pid") in _found(report)
    assert code == 1


def _submodule(tmp_path: Path, repo: Repo) -> None:
    sub = Repo(tmp_path / "sub")
    sub.write("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: s}\nspec:\n  hostPID: true\n"
              "  containers: [{name: c, image: 'nginx:1.2.3'}]\n")
    sub.commit("sub")
    repo.write("app/a.yaml", GOOD_CM.format(name="a"))
    repo.commit("base")
    subprocess.run(["git", "-c", "protocol.file.allow=always", "submodule", "-q", "add", str(sub.path), "app/vendor"],
                   cwd=repo.path, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


@pytest.mark.parametrize("mode", [("--base", "HEAD~1"), ("--staged",)])
def test_a_submodule_the_change_adds_is_a_finding(tmp_path: Path, repo: Repo, mode: tuple[str, ...]) -> None:
    _submodule(tmp_path, repo)
    if mode[0] == "--base":
        repo.commit("add submodule")
    code, report = _json("--checks", "lint", *mode, cwd=repo.path)
    assert _found(report) == [(".gitmodules", 2, "submodule-unchecked")]
    assert code == 1


def test_the_submodule_finding_can_be_switched_off_in_the_base(tmp_path: Path, repo: Repo) -> None:
    repo.write(".gatekeeper.yaml", "version: 1\nrules:\n  submodule-unchecked: {enabled: false}\n")
    _submodule(tmp_path, repo)
    repo.commit("add submodule")
    code, report = _json("--checks", "lint", "--base", "HEAD~1", cwd=repo.path)
    assert _found(report) == []
    assert code == 0


def test_a_chart_template_named_on_the_command_line_is_searched_as_text(tmp_path: Path) -> None:
    """The secrets hook passes staged chart templates by name: a Go template was a parse-error."""
    (tmp_path / "chart" / "templates").mkdir(parents=True)
    (tmp_path / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (tmp_path / "chart" / "templates" / "cm.yaml").write_text(TEMPLATE.lstrip())
    (tmp_path / "chart" / "templates" / "_h.tpl").write_text(f'{{{{- define "x" }}}}{github_token()}{{{{ end }}}}\n')
    code, report = _json("--checks", "secrets", "chart/templates/cm.yaml", cwd=tmp_path)
    assert (code, _found(report)) == (0, [])
    code, report = _json("--checks", "secrets", "chart/templates/cm.yaml", "chart/templates/_h.tpl", cwd=tmp_path)
    assert (code, _found(report)) == (1, [("chart/templates/_h.tpl", 1, "secret-github-token")])
