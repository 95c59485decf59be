"""An Argo CD source's kustomize block and multi-source values, applied as Argo CD applies them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli, run_json
from tests.render.conftest import CLEAN_DEPLOY, at, copy_fixture, needs_helm, needs_kustomize, put

# lines: images 12, commonLabels 13, replicas count 14, the patch's value 21, components 22
APP = """
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  project: default
  source:
    repoURL: https://git.example.com/shop.git
    path: apps/web
    kustomize:
      namePrefix: eu-
      namespace: shop-eu
      images: ["nginx=nginx:latest"]
      commonLabels: {tier: frontend}
      replicas: [{name: web, count: 5}]
      patches:
        - target: {kind: Deployment}
          patch: |-
            - op: replace
              path: /spec/template/spec/automountServiceAccountToken
              value: true
            - {op: add, path: /spec/template/spec/hostIPC, value: true}
      components: [../../components/debug]
  destination: {server: https://kubernetes.default.svc, namespace: shop-eu}
"""
FILES = {
    "apps/web/kustomization.yaml": "resources: [deploy.yaml]\n",
    "apps/web/deploy.yaml": CLEAN_DEPLOY,
    "components/debug/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
                                           "patches: [{path: pid.yaml}]\n",
    "components/debug/pid.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
                                 "spec:\n  template:\n    spec:\n      hostPID: true\n",
}
SHOW = """
package main

deny contains msg if {
  input.kind == "Deployment"
  msg := sprintf("name=%v ns=%v replicas=%v labels=%v selector=%v", [input.metadata.name,
    input.metadata.namespace, input.spec.replicas, input.metadata.labels, input.spec.selector.matchLabels])
}
"""


@needs_kustomize
def test_argo_kustomize_block_is_applied_at_its_lines(tmp_path: Path) -> None:
    put(tmp_path, {**FILES, "argo/web.yaml": APP, "policy/show.rego": SHOW})
    code, report = run_json(str(tmp_path))
    assert code == 1
    assert at(report, "image-latest") == [("argo/web.yaml", 12)]
    assert at(report, "host-ipc") == [("argo/web.yaml", 21)]
    assert at(report, "host-pid") == [("components/debug/pid.yaml", 7)]
    assert not at(report, "render-unapplied")
    shown = "\n".join(f["message"] for f in report["findings"] if f["check"] == "policy")
    # commonLabels are kustomize commonLabels (selectors too), as kustomize edit add label writes them
    assert 'name=eu-web ns=shop-eu replicas=5 labels={"tier": "frontend"} ' \
           'selector={"app": "web", "tier": "frontend"}' in shown
    found = next(f for f in report["findings"] if f["rule"] == "image-latest")
    assert found["unit"] == ["apps/web (Argo CD Application at argo/web.yaml:6)"]
    code, out = run_cli("units", str(tmp_path), "--format", "json")
    units = json.loads(out)["units"]
    assert [u["path"] for u in units] == ["apps/web"]
    assert "components/debug/pid.yaml" in units[0]["inputs"]


@needs_kustomize
def test_argo_bad_overrides_are_findings(tmp_path: Path) -> None:
    bad = APP.replace('images: ["nginx=nginx:latest"]', 'images: ["=:"]').replace(
        "[{name: web, count: 5}]", "[{name: web, count: many}]").replace(
        "components: [../../components/debug]", "components: [../../components/none]")
    bad = bad.replace("    kustomize:\n", "    plugin: {name: cmp}\n    kustomize:\n")
    put(tmp_path, {**FILES, "argo/web.yaml": bad})
    code, report = run_json(str(tmp_path))
    assert code == 1
    assert at(report, "render-error") == [("argo/web.yaml", 13), ("argo/web.yaml", 15), ("argo/web.yaml", 23)]
    assert at(report, "render-unapplied") == [("argo/web.yaml", 9)]  # a plugin source stays unapplied


VALUES_APP = """
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  project: default
  sources:
    - repoURL: https://git.example.com/shop.git
      path: web
      helm:
        valueFiles: [$values/envs/prod/values.yaml, $values/envs/missing.yaml, $other/x.yaml]
    - repoURL: https://git.example.com/shop.git
      ref: values
    - repoURL: https://git.example.com/other.git
      ref: other
  destination: {server: https://kubernetes.default.svc, namespace: web}
"""


@needs_helm
def test_argo_multi_source_values_from_this_repository(tmp_path: Path) -> None:
    copy_fixture("chart", tmp_path)
    put(tmp_path, {"argo/web.yaml": VALUES_APP,
                   "envs/prod/values.yaml": "securityContext:\n  privileged: true\n"})
    code, report = run_json(str(tmp_path))
    assert code == 1
    found = [f for f in report["findings"] if f["rule"] == "privileged-container"]
    assert [(f["path"], f["line"]) for f in found] == [("envs/prod/values.yaml", 2)]
    assert found[0]["unit"] == ["web (Argo CD Application at argo/web.yaml:7)"]
    # a file of the same repository that is missing is an error; another repository's is unapplied
    assert at(report, "render-error") == [("argo/web.yaml", 10)]
    assert at(report, "render-unapplied") == [("argo/web.yaml", 10)]
    messages = {f["rule"]: f["message"] for f in report["findings"] if f["path"] == "argo/web.yaml"}
    assert "envs/missing.yaml" in messages["render-error"] and "$other/x.yaml" in messages["render-unapplied"]


@needs_kustomize
def test_argo_labels_without_selector_patch_files_and_refused_overwrites(tmp_path: Path) -> None:
    app = APP.replace("      commonLabels: {tier: frontend}\n",
                      "      commonLabels: {tier: frontend, app: shop}\n      labelWithoutSelector: true\n"
                      "      ignoreMissingComponents: true\n").replace(
        "      patches:\n", "      patches:\n        - path: net.yaml\n").replace(
        "../../components/debug", "../../components/none")
    put(tmp_path, {**FILES, "argo/web.yaml": app, "policy/show.rego": SHOW,
                   "apps/web/kustomization.yaml": "resources: [deploy.yaml]\ncommonLabels: {app: web}\n",
                   "apps/web/net.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
                                        "spec:\n  template:\n    spec:\n      hostNetwork: true\n"})
    code, report = run_json(str(tmp_path))
    assert code == 1
    # the patch file is read from the unit's directory and located there; the missing component is ignored
    assert at(report, "host-network") == [("apps/web/net.yaml", 7)]
    assert not at(report, "host-pid")
    shown = "\n".join(f["message"] for f in report["findings"] if f["check"] == "policy")
    # labels without selectors: the label reaches the object's metadata, not the selector
    assert '"tier": "frontend"} selector={"app": "web"}' in shown
    # commonLabels of the kustomization itself are only overwritten with forceCommonLabels
    assert at(report, "render-error") == [("argo/web.yaml", 13)]
    put(tmp_path, {"argo/web.yaml": app.replace("labelWithoutSelector: true\n",
                                                "labelWithoutSelector: true\n      forceCommonLabels: true\n")})
    code, report = run_json(str(tmp_path))
    assert not at(report, "render-error")
