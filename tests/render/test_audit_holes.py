"""Regression tests for the two rendering holes an adversarial audit found, through check and sync.

Whatever is published must be exactly what was checked, and renders see the commit only.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import run_json
from tests.render.conftest import at, needs_kustomize, put
from tests.sync.gitrepo import BRANCH, commit, git, init, rev, show, sync

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: root-shell
spec:
  hostPID: true
  hostNetwork: true
  containers:
    - name: shell
      image: busybox:1.36
      securityContext:
        privileged: true
      volumeMounts: [{name: host, mountPath: /host}]
  volumes:
    - name: host
      hostPath: {path: /}
"""
INERT_KUSTOMIZATION = ("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                       "patchesStrategicMerge:\n  - pod.yaml\n")


@pytest.mark.parametrize("files", [
    {"apps/kust.yaml": INERT_KUSTOMIZATION, "apps/pod.yaml": POD},
    {"apps/pod.yaml": "$patch: merge\n" + POD.lstrip("\n")},
], ids=["kind-Kustomization-elsewhere", "top-level-$patch"])
def test_objects_are_never_skipped_as_patches_by_a_lookalike(tmp_path: Path, files: dict[str, str]) -> None:
    put(tmp_path, files)
    code, report = run_json(str(tmp_path))
    assert code == 1
    offset = 1 if "$patch" in files["apps/pod.yaml"] else 0
    assert at(report, "privileged-container") == [("apps/pod.yaml", 12 + offset)]
    assert at(report, "host-pid") == [("apps/pod.yaml", 6 + offset)]
    assert at(report, "host-path") == [("apps/pod.yaml", 16 + offset)]

    repo = init(tmp_path / "src")
    commit(repo, files, "pod")
    code, out = sync(repo, "--path", "apps", "--render", "plain")
    assert code == 1 and "privileged-container" in out and "apps/pod.yaml:" in out
    assert rev(repo, BRANCH) is None  # nothing published


@needs_kustomize
def test_a_render_never_reads_outside_the_repository(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    put(outside, {"kustomization.yaml": "resources: [cm.yaml]\n",
                  "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: planted}\ndata: {k: v}\n"})
    depth = "../" * 12
    files = {"app/kustomization.yaml": f"resources:\n  - ../{os.path.relpath(outside, tmp_path / 'src')}\n",
             "deep/kustomization.yaml": f"resources:\n  - {depth}{str(outside).lstrip('/')}\n"}
    put(tmp_path / "src", files)
    code, report = run_json(str(tmp_path / "src"))
    assert code == 1
    assert at(report, "render-outside") == [("app/kustomization.yaml", 2), ("deep/kustomization.yaml", 2)]
    assert report["summary"]["resources"] == 0

    repo = tmp_path / "src"
    init(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "escape")
    for path in ("app", "deep"):
        code, out = sync(repo, "--path", path)
        assert code == 1 and "render-outside" in out and f"{path}/kustomization.yaml:2" in out
        assert "planted" not in out
    assert rev(repo, BRANCH) is None


@needs_kustomize
def test_an_outside_symlink_blocks_only_what_it_touches(tmp_path: Path) -> None:
    repo = init(tmp_path / "src")
    commit(repo, {"apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
                  "other/keep.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"}, "files")
    (repo / "other" / "passwd").symlink_to("/etc/passwd")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a link elsewhere")
    code, out = sync(repo, "--path", "apps")
    assert code == 0, out
    assert "name: a" in show(repo, BRANCH, "apps/manifest.yaml")
    (repo / "apps" / "passwd.yaml").symlink_to("/etc/passwd")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a link under the published path")
    code, out = sync(repo, "--path", "apps")
    assert code == 2 and "symlink apps/passwd.yaml points outside the tree" in out
