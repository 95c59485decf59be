"""Deployment units discovered from the repository, listed by ``gatekeeper units`` and rendered."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli, run_json
from tests.render.conftest import CLEAN_DEPLOY, at, copy_fixture, needs_helm, needs_kustomize, put

FLUX_KS = """
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 10m
  path: ./clusters/prod/apps
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
"""
HELM_RELEASE = """
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: prod}
spec:
  interval: 10m
  chart:
    spec:
      chart: ./web
      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
  valuesFrom:
    - kind: ConfigMap
      name: web-values
  values:
    replicaCount: 4
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-values, namespace: prod}
data:
  values.yaml: |
    podSecurityContext:
      runAsNonRoot: false
"""
REMOTE_RELEASE = """
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: redis, namespace: cache}
spec:
  interval: 10m
  chart:
    spec:
      chart: redis
      sourceRef: {kind: HelmRepository, name: bitnami}
"""


@needs_kustomize
def test_a_flux_kustomization_names_a_unit(tmp_path: Path) -> None:
    put(tmp_path, {
        "clusters/prod/flux.yaml": FLUX_KS,
        "clusters/prod/apps/kustomization.yaml": "resources: [deploy.yaml]\nnamespace: prod\n"
                                                 "images: [{name: nginx, newTag: latest}]\n",
        "clusters/prod/apps/deploy.yaml": CLEAN_DEPLOY,
        "clusters/kustomization.yaml": "resources: [prod/apps]\n",  # includes it: not a root by itself
    })
    code, out = run_cli("units", str(tmp_path), "--format", "json")
    assert code == 0
    units = {u["path"]: u for u in json.loads(out)["units"]}
    assert units["clusters/prod/apps"]["found_by"] == ["Flux Kustomization at clusters/prod/flux.yaml:6"]
    assert units["clusters/prod/apps"]["inputs"] == ["clusters/prod/apps/deploy.yaml",
                                                   "clusters/prod/apps/kustomization.yaml"]
    code, report = run_json(str(tmp_path))
    # the images transformer's line set the tag; both units (clusters, clusters/prod/apps) render it
    found = [f for f in report["findings"] if f["rule"] == "image-latest"]
    assert [(f["path"], f["line"]) for f in found] == [("clusters/prod/apps/kustomization.yaml", 3)]
    assert sorted(found[0]["unit"]) == ["clusters", "clusters/prod/apps"]


@needs_helm
def test_a_flux_helm_release_of_a_chart_in_the_repository(tmp_path: Path) -> None:
    copy_fixture("chart", tmp_path)
    put(tmp_path, {"releases/web.yaml": HELM_RELEASE, "releases/redis.yaml": REMOTE_RELEASE})
    code, out = run_cli("units", str(tmp_path), "--format", "json")
    listed = json.loads(out)
    release = [u for u in listed["units"] if "HelmRelease" in u["name"]]
    assert len(release) == 1 and release[0]["release"] == "web" and release[0]["namespace"] == "prod"
    assert release[0]["values"] == ["web/values.yaml", "releases/web.yaml#data.values.yaml",
                                    "releases/web.yaml#spec.values"]
    code, report = run_json(str(tmp_path))
    assert code == 0  # warnings only
    # the valuesFrom ConfigMap's line turned runAsNonRoot off; the release is rendered with its values
    found = [f for f in report["findings"] if f["rule"] == "run-as-non-root"]
    assert [(f["path"], f["line"], f["column"]) for f in found] == [("releases/web.yaml", 22, 7)]
    assert {"path": "web/templates/deployment.yaml", "line": 21, "role": "template"} in found[0]["origin"]
    assert found[0]["unit"] == ["web (Flux HelmRelease at releases/web.yaml:1)"]
    assert at(report, "render-remote") == [("releases/redis.yaml", 8)]
    assert [f["severity"] for f in report["findings"] if f["rule"] == "render-remote"] == ["warning"]


@needs_helm
def test_a_configured_unit_renders_with_its_values(tmp_path: Path) -> None:
    copy_fixture("chart", tmp_path)
    put(tmp_path, {".gatekeeper.yaml": "version: 1\nrender:\n  - path: web\n    values: [web/values-prod.yaml]\n"
                                       "    releaseName: web\n    namespace: prod\n"})
    code, report = run_json(str(tmp_path))
    assert code == 1
    found = [f for f in report["findings"] if f["rule"] == "privileged-container"]
    assert [(f["path"], f["line"]) for f in found] == [("web/values-prod.yaml", 7)]
    assert found[0]["unit"] == ["web (.gatekeeper.yaml render entry)"]


def test_render_none_and_no_units(tmp_path: Path) -> None:
    put(tmp_path, {"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"})
    code, out = run_cli("units", str(tmp_path))
    assert code == 0 and "no deployment units found" in out


@needs_kustomize
def test_agent_overrides_the_gate_cannot_apply_are_reported(tmp_path: Path) -> None:
    put(tmp_path, {
        "apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: a}\ndata: {k: v}\n",
        "clusters/flux.yaml": FLUX_KS.replace("./clusters/prod/apps", "./plain") + "  postBuild:\n"
                              "    substitute: {env: prod}\n---\n" + FLUX_KS.replace("./clusters/prod/apps", "../x"),
        "apps/kustomization.yaml": "resources: [cm.yaml]\n",
        "plain/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p, namespace: a}\ndata: {k: v}\n",
        "clusters/argo.yaml": """
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata: {name: apps, namespace: argocd}
            spec:
              project: default
              source:
                repoURL: https://example.com/repo.git
                path: apps
                plugin: {name: cmp}
              destination: {server: https://kubernetes.default.svc, namespace: a}
            """,
    })
    _, report = run_json(str(tmp_path))
    # the Flux path without a kustomization is built as Flux builds it (test_flux_generated.py)
    assert at(report, "render-unapplied") == [("clusters/argo.yaml", 9)]
    assert at(report, "render-outside") == [("clusters/flux.yaml", 18)]


@needs_helm
def test_objects_beside_inline_values_are_still_checked_as_files(tmp_path: Path) -> None:
    # the HelmRelease's file holds values the chart reads, and a Pod: the Pod is applied as written
    copy_fixture("chart", tmp_path)
    pod = "---\napiVersion: v1\nkind: Pod\nmetadata: {name: dbg, namespace: prod}\nspec:\n" \
          "  containers: [{name: d, image: 'busybox:latest'}]\n"
    put(tmp_path, {"releases/web.yaml": HELM_RELEASE + pod})
    code, report = run_json(str(tmp_path))
    assert code == 1
    assert at(report, "image-latest") == [("releases/web.yaml", 28)]
    assert at(report, "run-as-non-root")[0] == ("releases/web.yaml", 22)  # the values line still
