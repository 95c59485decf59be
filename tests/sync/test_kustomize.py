"""Kustomize overlays rendered with the real ``kubectl kustomize``; findings point at the published file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.sync.gitrepo import BRANCH, commit, git, init, rev, show, sync, sync_process

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None,
                                reason="kubectl is not installed (pip install 'gitops-gatekeeper[kustomize]')")

BASE = {
    "base/kustomization.yaml": "resources:\n  - cm.yaml\n",
    "base/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: base\n",
    "overlays/prod/kustomization.yaml": """
        namespace: prod
        namePrefix: prod-
        resources:
          - ../../base
        patches:
          - target: {kind: ConfigMap, name: settings}
            patch: |
              - op: replace
                path: /data/mode
                value: production
        """,
}


def test_overlay_is_rendered_checked_and_published(tmp_path: Path) -> None:
    repo = init(tmp_path / "src")
    sha = commit(repo, BASE, "overlay")
    code, out = sync(repo, "--path", "overlays/prod", "--target-path", "prod")
    assert code == 0, out
    assert show(repo, BRANCH, "prod/manifest.yaml") == (
        "---\napiVersion: v1\ndata:\n  mode: production\nkind: ConfigMap\nmetadata:\n"
        "  name: prod-settings\n  namespace: prod")
    metadata = show(repo, BRANCH, "prod/hydrator.metadata")
    assert '"kubectl kustomize overlays/prod"' in metadata and sha in metadata


def test_a_bad_patch_is_caught_at_the_published_line(tmp_path: Path) -> None:
    repo = init(tmp_path / "src")
    files = dict(BASE)
    files["overlays/prod/kustomization.yaml"] = BASE["overlays/prod/kustomization.yaml"].replace(
        "path: /data/mode", "path: /metadata/labelz").replace("op: replace", "op: add")
    commit(repo, files, "typo in a patch")
    code, out = sync(repo, "--path", "overlays/prod", "--target-path", "prod")
    assert code == 1
    # The finding points at the source line that wrote the field: the inline patch's value.
    assert "overlays/prod/kustomization.yaml:10:9" in out and "schema-unknown-field" in out
    assert rev(repo, BRANCH) is None


def test_kustomize_build_error_is_a_finding_at_the_entry(tmp_path: Path) -> None:
    repo = init(tmp_path / "src")
    commit(repo, {"app/kustomization.yaml": "resources:\n  - missing.yaml\n"}, "broken")
    code, out = sync(repo, "--path", "app")
    assert code == 1 and "app/kustomization.yaml:2:" in out and "render-error" in out
    assert "'missing.yaml' is not in the repository" in out
    assert "gatekeeper-sync-" not in out  # the temporary export directory is not shown
    assert rev(repo, BRANCH) is None


def test_kustomize_error_reported_by_kustomize_is_a_finding(tmp_path: Path) -> None:
    repo = init(tmp_path / "src")
    commit(repo, {"app/kustomization.yaml": "resources:\n  - cm.yaml\nnamePrefix: x-\n",
                  "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
                                 "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"}, "dup")
    code, out = sync(repo, "--path", "app")
    assert code == 1 and "app/kustomization.yaml:" in out and "kustomize cannot build app" in out
    assert "gatekeeper-render-" not in out and rev(repo, BRANCH) is None


def test_missing_kubectl_is_a_clear_exit_2(tmp_path: Path) -> None:
    repo = init(tmp_path / "src")
    commit(repo, BASE, "overlay")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git_exe = shutil.which("git")
    assert git_exe is not None
    (bin_dir / "git").symlink_to(git_exe)
    proc = sync_process(repo, "--path", "overlays/prod", env={"PATH": str(bin_dir), "GATEKEEPER_KUSTOMIZE": "none"})
    assert proc.returncode == 2, proc.stderr
    assert "rendering kustomize units needs kubectl or kustomize" in proc.stdout + proc.stderr
    assert "pip install 'gitops-gatekeeper[kustomize]'" in proc.stdout + proc.stderr
    assert git(repo, "for-each-ref", "refs/heads/environments") == ""


def test_a_rendered_path_published_where_a_plain_source_lies_keeps_both(tmp_path: Path) -> None:
    repo = init(tmp_path / "src")
    commit(repo, {"a/manifest.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
                  "b/kustomization.yaml": "resources:\n  - cm.yaml\n",
                  "b/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"}, "ab")
    code, out = sync(repo, "--path", "a", "--path", "b", "--target-path", "x", "--target-path", "a")
    assert code == 0, out
    assert "name: a" in show(repo, BRANCH, "x/manifest.yaml") and "name: b" in show(repo, BRANCH, "a/manifest.yaml")
