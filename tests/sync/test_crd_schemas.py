"""The shipped Argo CD and Flux CRD schemas: real objects validate, misspelt fields are caught."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_json

APPLICATION = """
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: shop-prod
  namespace: argocd
  finalizers: [resources-finalizer.argocd.argoproj.io]
spec:
  project: default
  source:
    repoURL: https://github.com/example/deploy.git
    targetRevision: environments/prod
    path: clusters/prod
    directory:
      recurse: false
  destination:
    server: https://kubernetes.default.svc
    namespace: shop
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    syncOptions: [CreateNamespace=true]
    retry:
      limit: 5
      backoff: {duration: 5s, factor: 2, maxDuration: 3m}
  ignoreDifferences:
    - group: apps
      kind: Deployment
      jsonPointers: [/spec/replicas]
"""

HYDRATOR_APP = """
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: shop-hydrated
spec:
  project: default
  sourceHydrator:
    drySource: {repoURL: https://github.com/example/dry.git, targetRevision: main, path: apps/shop}
    syncSource: {targetBranch: environments/prod, path: apps/shop}
    hydrateTo: {targetBranch: environments/prod-next}
  destination: {name: in-cluster, namespace: shop}
"""

APPSET = """
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: envs
spec:
  goTemplate: true
  generators:
    - list:
        elements:
          - env: prod
          - env: staging
  template:
    metadata:
      name: 'shop-{{.env}}'
    spec:
      project: default
      source:
        repoURL: https://github.com/example/deploy.git
        targetRevision: 'environments/{{.env}}'
        path: 'clusters/{{.env}}'
      destination: {server: https://kubernetes.default.svc, namespace: shop}
"""

PROJECT = """
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: shop
spec:
  sourceRepos: [https://github.com/example/deploy.git]
  destinations:
    - {server: https://kubernetes.default.svc, namespace: shop}
  clusterResourceWhitelist:
    - {group: '', kind: Namespace}
"""

FLUX = """
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: deploy
  namespace: flux-system
spec:
  interval: 1m
  url: https://github.com/example/deploy.git
  ref:
    branch: environments/prod
  verify:
    mode: HEAD
    secretRef: {name: deploy-signers}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: shop
  namespace: flux-system
spec:
  interval: 10m
  path: ./clusters/prod
  prune: true
  sourceRef:
    kind: GitRepository
    name: deploy
"""


@pytest.mark.parametrize("text", [APPLICATION, HYDRATOR_APP, APPSET, PROJECT, FLUX],
                         ids=["application", "hydrator", "applicationset", "appproject", "flux"])
def test_real_objects_validate_with_no_findings(write: Callable[[str, str], Path], tmp_path: Path,
                                                text: str) -> None:
    write("obj.yaml", text)
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 0, report["findings"]
    assert report["findings"] == []


def _findings(write: Callable[[str, str], Path], tmp_path: Path, text: str,
              *extra: str) -> list[tuple[str, int, str]]:
    write("obj.yaml", text)
    _, report = run_json(str(tmp_path), "--checks", "schema", *extra)
    return [(f["rule"], f["line"], f["field"]) for f in report["findings"]]


def test_misspelt_application_field_is_caught_at_its_line(write: Callable[[str, str], Path],
                                                          tmp_path: Path) -> None:
    bad = APPLICATION.replace("    automated: {prune: true, selfHeal: true}", "    automatic: {prune: true}")
    assert _findings(write, tmp_path, bad) == [("schema-unknown-field", 19, "spec.syncPolicy.automatic")]
    assert _findings(write, tmp_path, bad, "--no-strict") == []


def test_wrong_types_and_missing_required_fields(write: Callable[[str, str], Path], tmp_path: Path) -> None:
    bad = FLUX.replace("  interval: 1m\n", "  interval: one minute\n").replace("  prune: true\n", "")
    found = _findings(write, tmp_path, bad)
    assert found == [("schema-value", 7, "spec.interval"), ("schema-required", 20, "spec.prune")]
    bad_app = APPLICATION.replace("  project: default\n", "").replace("limit: 5", "limit: five")
    found = _findings(write, tmp_path, bad_app)
    assert found == [("schema-required", 7, "spec.project"), ("schema-type", 21, "spec.syncPolicy.retry.limit")]


def test_shipped_schemas_are_valid_json_schema_in_catalog_layout() -> None:
    import jsonschema

    root = Path(__file__).resolve().parents[2] / "gatekeeper" / "schemas" / "crds"
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.json"))
    assert {"argoproj.io/application_v1alpha1.json", "argoproj.io/applicationset_v1alpha1.json",
            "argoproj.io/appproject_v1alpha1.json",
            "kustomize.toolkit.fluxcd.io/kustomization_v1.json",
            "source.toolkit.fluxcd.io/gitrepository_v1.json"} <= set(names)  # others: tests/test_crd_schemas.py
    for name in names:
        jsonschema.Draft202012Validator.check_schema(json.loads((root / name).read_text()))
