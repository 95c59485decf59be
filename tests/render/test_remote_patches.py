"""Patches of an overlay on a remote base: the unit cannot be rendered offline, but what its
patches set reaches the cluster, so they are checked as partial objects at their own lines."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_json
from tests.render.conftest import at, needs_kustomize, put

pytestmark = needs_kustomize

REMOTE = "resources:\n  - https://github.com/example/platform//apps/web?ref=v1.2.0\n"
PATCH = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  template:
    spec:
      hostNetwork: true
      volumes:
        - name: root
          hostPath: {path: /}
      containers:
        - name: web
          image: nginx:latest
          securityContext:
            privileged: true
"""


def test_what_a_patch_sets_is_checked_at_the_patch_lines(tmp_path: Path) -> None:
    put(tmp_path, {"prod/kustomization.yaml": REMOTE + "patches:\n  - path: priv.yaml\n", "prod/priv.yaml": PATCH})
    code, report = run_json(str(tmp_path))
    assert code == 1
    errors = sorted((f["rule"], f["path"], f["line"]) for f in report["findings"] if f["severity"] == "error")
    assert errors == [("host-network", "prod/priv.yaml", 8), ("host-path", "prod/priv.yaml", 11),
                      ("image-latest", "prod/priv.yaml", 14), ("privileged-container", "prod/priv.yaml", 16)]
    assert at(report, "render-remote") == [("prod/kustomization.yaml", 2)]
    # nothing about what the remote base may set (resources, probes, a non-root user)
    assert {f["rule"] for f in report["findings"]} == {"render-remote", "host-network", "host-path",
                                                       "image-latest", "privileged-container"}


def test_a_harmless_patch_passes_with_the_remote_warning(tmp_path: Path) -> None:
    harmless = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 3\n"
    put(tmp_path, {"prod/kustomization.yaml": REMOTE + "patches:\n  - path: replicas.yaml\n",
                   "prod/replicas.yaml": harmless})
    code, report = run_json(str(tmp_path))
    assert code == 0, report["findings"]
    assert [f["rule"] for f in report["findings"]] == ["render-remote"]


def test_patches_that_are_no_object_fail_the_unit_at_their_entries(tmp_path: Path) -> None:
    inline = "  - patch: |-\n      - op: add\n        path: /spec/template/spec/hostNetwork\n        value: true\n"
    put(tmp_path, {"prod/kustomization.yaml": REMOTE + "patches:\n  - path: ops.yaml\n    target: {kind: Deployment}\n"
                   + inline + "    target: {kind: Deployment}\n",
                   "prod/ops.yaml": "- op: replace\n  path: /spec/template/spec/hostPID\n  value: true\n"})
    code, report = run_json(str(tmp_path))
    assert code == 1
    assert at(report, "render-patch-unchecked") == [("prod/kustomization.yaml", 4), ("prod/kustomization.yaml", 6)]
