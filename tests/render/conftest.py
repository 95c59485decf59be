"""Fixtures for rendering: real kubectl kustomize, a real Helm render, real git repositories."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.sources.render import kustomize_executable
from gatekeeper.sources.render.helm import backend

FIXTURES = Path(__file__).parent / "fixtures"

needs_kustomize = pytest.mark.skipif(kustomize_executable() is None,
                                     reason="kubectl is not installed (pip install 'gitops-gatekeeper[kustomize]')")
needs_helm = pytest.mark.skipif(backend() is None,
                                reason="the Helm SDK is not installed (pip install 'gitops-gatekeeper[helm]')")


def put(root: Path, files: dict[str, str]) -> None:
    """Write files (dedented) under ``root``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def copy_fixture(name: str, dest: Path) -> Path:
    shutil.copytree(FIXTURES / name, dest, dirs_exist_ok=True)
    return dest


def at(report: dict[str, Any], rule: str) -> list[tuple[str, int]]:
    """(path, line) of every finding of a rule."""
    return sorted((f["path"], f["line"]) for f in report["findings"] if f["rule"] == rule)


CLEAN_DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      automountServiceAccountToken: false
      containers:
        - name: web
          image: nginx:1.2.3
          resources:
            requests: {cpu: 100m, memory: 64Mi}
            limits: {cpu: 200m, memory: 128Mi}
          readinessProbe: {httpGet: {path: /, port: 8080}}
          livenessProbe: {httpGet: {path: /, port: 8080}}
          securityContext:
            runAsNonRoot: true
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
"""

BAD_PATCH = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: "3"
  template:
    spec:
      hostNetwork: true
      containers:
        - name: web
          image: nginx:latest
          securityContext:
            privileged: true
"""

OVERLAY = {
    "base/deploy.yaml": CLEAN_DEPLOY,
    "base/kustomization.yaml": "resources: [deploy.yaml]\n",
    "overlays/prod/kustomization.yaml": "resources: [../../base]\nnamespace: prod\npatches: [{path: patch.yaml}]\n",
    "overlays/prod/patch.yaml": BAD_PATCH,
}
