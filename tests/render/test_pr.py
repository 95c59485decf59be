"""Pull-request modes and the pre-commit hook: a change to any input re-renders the units it feeds."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from tests.conftest import run_cli
from tests.pr.conftest import GIT_ENV, Repo
from tests.render.conftest import CLEAN_DEPLOY, needs_kustomize

pytestmark = needs_kustomize

TREE = {
    "base/deploy.yaml": CLEAN_DEPLOY,
    "base/kustomization.yaml": "resources: [deploy.yaml]\n",
    "overlays/dev/kustomization.yaml": "resources: [../../base]\nnamespace: dev\n",
    "overlays/prod/kustomization.yaml": "resources: [../../base]\nnamespace: prod\npatches: [{path: patch.yaml}]\n",
    "overlays/prod/patch.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
                                "  replicas: 3\n",
    "apps/other.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: x}\n",
}


def _repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "repo")
    for rel, text in TREE.items():
        repo.write(rel, text)
    repo.commit("base")
    return repo


def _base(repo: Repo, *extra: str) -> tuple[int, dict]:
    code, out = run_cli("check", str(repo.path), "--base", "main", "--format", "json", *extra)
    return code, json.loads(out)


def test_a_base_change_reports_for_every_overlay(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    repo.git("checkout", "-q", "-b", "change")
    deploy = repo.path / "base/deploy.yaml"
    deploy.write_text(deploy.read_text().replace("readOnlyRootFilesystem: true", "privileged: true"))
    repo.commit("privileged base")
    code, report = _base(repo)
    assert code == 1
    found = [f for f in report["findings"] if f["rule"] == "privileged-container"]
    assert [(f["path"], f["line"]) for f in found] == [("base/deploy.yaml", 25)]
    assert sorted(found[0]["unit"]) == ["overlays/dev", "overlays/prod"]

    # a warm cache renders nothing again
    code, report = _base(repo)
    assert any("(2 from the render cache)" in n for n in report["notes"]), report["notes"]


def test_an_overlay_change_reports_only_that_overlay(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    repo.git("checkout", "-q", "-b", "change")
    repo.write("overlays/prod/patch.yaml", TREE["overlays/prod/patch.yaml"] + "  template:\n    spec:\n"
                                                                              "      hostNetwork: true\n")
    repo.commit("host network in prod")
    code, report = _base(repo)
    assert code == 1
    assert [(f["rule"], f["path"], f["line"], f["unit"]) for f in report["findings"] if f["severity"] == "error"] \
        == [("host-network", "overlays/prod/patch.yaml", 8, ["overlays/prod"])]


def test_an_unchanged_unit_is_not_reported(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    repo.git("checkout", "-q", "-b", "change")
    deploy = repo.path / "base/deploy.yaml"
    deploy.write_text(deploy.read_text().replace("readOnlyRootFilesystem: true", "privileged: true"))
    repo.commit("privileged base")
    repo.git("checkout", "-q", "-b", "later")
    repo.write("apps/other.yaml", TREE["apps/other.yaml"].replace("other", "other2"))
    repo.commit("unrelated")
    code, out = run_cli("check", str(repo.path), "--base", "change", "--format", "json")
    assert code == 0 and json.loads(out)["findings"] == []


def test_the_pre_commit_hook_reports_a_base_change_for_each_overlay(tmp_path: Path) -> None:
    # the hook environment is the one tests/pr/test_precommit.py builds (same project commit, same hook)
    from tests.pr.test_precommit import _install

    repo = _repo(tmp_path)
    _install(repo, "gatekeeper")
    repo.commit("hook")
    deploy = repo.path / "base/deploy.yaml"
    deploy.write_text(deploy.read_text().replace("readOnlyRootFilesystem: true", "privileged: true"))
    repo.git("add", "-A")
    proc = subprocess.run(["git", "commit", "-m", "privileged"], cwd=repo.path, env={**os.environ, **GIT_ENV},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    assert proc.returncode != 0, proc.stdout
    assert "base/deploy.yaml:25:13 error   privileged-container" in proc.stdout
    assert re.search(r"rendered by overlays/(dev|prod), overlays/(dev|prod)", proc.stdout)


HOOK_TREE = {
    "a/chart/Chart.yaml": "apiVersion: v2\nname: api\nversion: 0.1.0\n",
    "a/chart/values.yaml": "image:\n  repository: nginx\n  tag: \"1.2.3\"\n",
    "a/chart/templates/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\n"
                                     "spec:\n  selector:\n    matchLabels: {app: api}\n  template:\n    metadata:\n"
                                     "      labels: {app: api}\n    spec:\n      containers:\n        - name: api\n"
                                     "          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n",
    "b/base/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n"
                          "  labels: {app: web}\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n"
                          "    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n"
                          "          image: nginx:1.2.3\n"
                          "          securityContext: {allowPrivilegeEscalation: false}\n",
    "b/base/kustomization.yaml": "resources: [deploy.yaml]\n",
    "b/overlay/kustomization.yaml": "resources: [../base]\npatches:\n  - path: p.yaml\n"
                                    "    target: {kind: Deployment, labelSelector: \"tier=debug\"}\n",
    "b/overlay/p.yaml": "- op: add\n  path: /spec/template/spec/containers/0/securityContext/privileged\n"
                        "  value: true\n",
}


def test_the_pre_commit_hook_reports_what_a_staged_input_causes_in_other_files(tmp_path: Path) -> None:
    """The hook passes only the staged files; findings the change causes in a unit they feed are
    reported wherever they locate (a template line, an overlay's patch)."""
    from tests.pr.test_precommit import _install

    repo = Repo(tmp_path / "repo")
    for rel, text in HOOK_TREE.items():
        repo.write(rel, text)
    repo.commit("base")
    _install(repo, "gatekeeper")
    repo.commit("hook")

    def commit() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "commit", "-m", "change"], cwd=repo.path, env={**os.environ, **GIT_ENV},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)

    # a staged values file: the finding is at the template line, in a file that is not staged
    repo.write("a/chart/values.yaml", HOOK_TREE["a/chart/values.yaml"].replace("1.2.3", "latest"))
    repo.git("add", "a/chart/values.yaml")
    proc = commit()
    assert proc.returncode != 0, proc.stdout
    assert re.search(r"a/chart/templates/deploy\.yaml:13:\d+ error +image-latest", proc.stdout), proc.stdout
    repo.git("reset", "-q", "--hard", "HEAD")

    # a staged base label makes an overlay's patch apply: the finding is at the patch's line
    repo.write("b/base/deploy.yaml", HOOK_TREE["b/base/deploy.yaml"].replace(
        "  labels: {app: web}\nspec", "  labels: {app: web, tier: debug}\nspec"))
    repo.git("add", "b/base/deploy.yaml")
    proc = commit()
    assert proc.returncode != 0, proc.stdout
    assert re.search(r"b/overlay/p\.yaml:3:\d+ error +privileged-container", proc.stdout), proc.stdout
