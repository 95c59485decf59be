"""A Flux Kustomization's overrides applied to the unit it builds, located at the manifest's lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import run_cli, run_json
from tests.render.conftest import CLEAN_DEPLOY, at, needs_kustomize, put

HEAD = """
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: web, namespace: flux-system}
spec:
  interval: 10m
  path: ./apps/web
"""
# lines: images newTag 13, the JSON 6902 value 21, the strategic merge privileged 33, the Pod's image 39
FLUX = HEAD + """  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  targetNamespace: prod
  namePrefix: prod-
  images:
    - name: nginx
      newTag: latest
  commonMetadata:
    labels: {team: shop}
  patches:
    - target: {kind: Deployment, name: web}
      patch: |
        - op: add
          path: /spec/template/spec/hostNetwork
          value: true
    - patch: |
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          template:
            spec:
              containers:
                - name: web
                  securityContext:
                    privileged: true
---
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: tools}
spec:
  containers: [{name: debug, image: "busybox:latest"}]
"""
APP = {
    "apps/web/kustomization.yaml": "resources: [deploy.yaml]\n",
    "apps/web/deploy.yaml": CLEAN_DEPLOY,
}
# a conftest policy that shows what the rendered Deployment holds
LABELS_POLICY = """
package main

deny contains msg if {
  input.kind == "Deployment"
  msg := sprintf("labels=%v template=%v selector=%v replicas=%v image=%v env=%v", [
    object.get(input.metadata, "labels", {}), object.get(input.spec.template.metadata, "labels", {}),
    input.spec.selector.matchLabels, input.spec.replicas, input.spec.template.spec.containers[0].image,
    object.get(input.spec.template.spec.containers[0], "env", [])])
}
"""


def _shown(report: dict[str, Any]) -> str:
    return "\n".join(f["message"] for f in report["findings"] if f["check"] == "policy")


@needs_kustomize
def test_flux_overrides_are_applied_and_located_at_the_manifest(tmp_path: Path) -> None:
    put(tmp_path, {**APP, "clusters/prod/web.yaml": FLUX, "policy/show.rego": LABELS_POLICY})
    code, report = run_json(str(tmp_path))
    assert code == 1
    # the images override set the tag; the JSON 6902 and the strategic merge patch set the others
    assert at(report, "image-latest") == [("clusters/prod/web.yaml", 13), ("clusters/prod/web.yaml", 39)]
    assert at(report, "host-network") == [("clusters/prod/web.yaml", 21)]
    assert at(report, "privileged-container") == [("clusters/prod/web.yaml", 33)]
    assert not at(report, "render-unapplied")
    found = next(f for f in report["findings"] if f["rule"] == "host-network")
    assert found["unit"] == ["apps/web (Flux Kustomization at clusters/prod/web.yaml:6)"]
    assert (found["resource"]["namespace"], found["resource"]["name"]) == ("prod", "prod-web")
    # commonMetadata labels the object's metadata only (selectors and pod templates stay as written)
    assert "labels={\"team\": \"shop\"} template={\"app\": \"web\"} selector={\"app\": \"web\"}" in _shown(report)
    code, out = run_cli("units", str(tmp_path), "--format", "json")
    units = json.loads(out)["units"]
    assert [u["path"] for u in units] == ["apps/web"]  # the root as written is not applied by anyone
    assert units[0]["inputs"] == ["apps/web/deploy.yaml", "apps/web/kustomization.yaml", "clusters/prod/web.yaml"]


SUBST_DEPLOY = CLEAN_DEPLOY.replace("replicas: 2", "replicas: ${REPLICAS}").replace(
    "image: nginx:1.2.3", "image: nginx:${TAG}\n          env:\n"
    "            - {name: REGION, value: \"${REGION}\"}\n"
    "            - {name: LEVEL, value: \"${LEVEL:=debug}\"}\n"
    "            - {name: SHELL_HOME, value: \"$${HOME} $HOME\"}\n"
    "            - {name: CLUSTER, value: \"${CLUSTER}\"}\n"
    "            - {name: TOKEN, value: \"${TOKEN}\"}")
FLUX_SUBST = HEAD + """  sourceRef: {kind: GitRepository, name: flux-system}
  postBuild:
    substitute:
      TAG: latest
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
      - kind: Secret
        name: cluster-secrets
      - kind: Secret
        name: not-there
        optional: true
      - kind: ConfigMap
        name: absent-vars
"""
VARS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: cluster-vars, namespace: flux-system}
data:
  REPLICAS: "1"
  CLUSTER: eu-1
  TAG: "1.0.0"
---
apiVersion: v1
kind: Secret
metadata: {name: cluster-secrets, namespace: flux-system}
stringData:
  TOKEN: s3cr3t-t0ken-value-9f8e7d
"""
UNTOUCHED = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: script
  annotations: {kustomize.toolkit.fluxcd.io/substitute: disabled}
data:
  run.sh: echo ${UNSET_IN_SCRIPT}
"""


@needs_kustomize
def test_flux_post_build_substitution(tmp_path: Path) -> None:
    put(tmp_path, {"apps/web/kustomization.yaml": "resources: [deploy.yaml, script.yaml]\n",
                   "apps/web/deploy.yaml": SUBST_DEPLOY, "apps/web/script.yaml": UNTOUCHED,
                   "clusters/prod/web.yaml": FLUX_SUBST, "clusters/prod/vars.yaml": VARS,
                   "policy/show.rego": LABELS_POLICY})
    code, report = run_json(str(tmp_path))
    assert code == 1
    shown = _shown(report)
    # inline substitute wins over substituteFrom; the integer replicas is an integer again
    assert "replicas=1 image=nginx:latest" in shown
    assert '{"name": "LEVEL", "value": "debug"}' in shown  # the default
    assert '{"name": "SHELL_HOME", "value": "${HOME} $HOME"}' in shown  # the escape; $HOME is left alone
    assert '{"name": "CLUSTER", "value": "eu-1"}' in shown
    assert not at(report, "schema-type")  # replicas is no longer the string "${REPLICAS}"
    # the substituted tag is located at the variable's definition, with the line that references it
    latest = next(f for f in report["findings"] if f["rule"] == "image-latest")
    assert (latest["path"], latest["line"]) == ("clusters/prod/web.yaml", 10)
    assert {"path": "apps/web/deploy.yaml", "line": 16, "role": "base"} in latest["origin"]
    # an undefined variable without a default is reported where it is referenced
    assert at(report, "render-substitute") == [("apps/web/deploy.yaml", 18)]
    assert "REGION" in next(f["message"] for f in report["findings"] if f["rule"] == "render-substitute")
    # a substituteFrom object that is not in the repository: an error unless optional
    assert at(report, "render-error") == [("clusters/prod/web.yaml", 19)]
    assert "absent-vars" in next(f["message"] for f in report["findings"] if f["rule"] == "render-error")
    # a Secret's value is substituted but never shown
    assert "s3cr3t-t0ken-value-9f8e7d" not in json.dumps(report)


@needs_kustomize
def test_flux_overrides_that_do_not_apply_are_findings(tmp_path: Path) -> None:
    bad = FLUX.split("  commonMetadata:")[0] + """  components: [../../components/missing]
  patches:
    - patch: |
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: nope}
        spec: {replicas: 1}
  postBuild:
    substitute: {"bad-name": x}
"""
    put(tmp_path, {**APP, "clusters/prod/web.yaml": bad})
    code, report = run_json(str(tmp_path))
    assert code == 1
    # the missing component stops the render (as it stops Flux), at its line; the bad name is reported
    assert at(report, "render-error") == [("clusters/prod/web.yaml", 14), ("clusters/prod/web.yaml", 22)]
    put(tmp_path, {"clusters/prod/web.yaml": bad.replace("  components: [../../components/missing]\n", "")})
    code, report = run_json(str(tmp_path))
    assert code == 1
    # kustomize refuses the patch that matches no object: located at the Flux patch entry
    errors = [f for f in report["findings"] if f["rule"] == "render-error"]
    assert [(f["path"], f["line"]) for f in errors] == [("clusters/prod/web.yaml", 15),
                                                       ("clusters/prod/web.yaml", 21)]
    assert "nope" in errors[0]["message"]


@needs_kustomize
def test_a_changed_override_re_renders_its_unit_in_base_mode(tmp_path: Path) -> None:
    from tests.pr.conftest import Repo

    repo = Repo(tmp_path / "repo")
    clean = FLUX.split("  images:")[0]
    for rel, text in {**APP, "clusters/prod/web.yaml": clean}.items():
        repo.write(rel, text)
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "change")
    repo.write("clusters/prod/web.yaml", clean + "  images: [{name: nginx, newTag: latest}]\n")
    repo.commit("latest image")
    code, out = run_cli("check", str(repo.path), "--base", "main", "--format", "json")
    report = json.loads(out)
    assert code == 1
    assert at(report, "image-latest") == [("clusters/prod/web.yaml", 11)]
    # the cache key holds the manifest: the same unit with the old override renders the old tag
    repo.git("checkout", "-q", "main")
    code, out = run_cli("check", str(repo.path), "--format", "json")
    assert not at(json.loads(out), "image-latest")


@needs_kustomize
def test_a_json_patch_operation_that_does_not_apply_is_located_at_its_entry(tmp_path: Path) -> None:
    flux = FLUX.split("  images:")[0] + """  patches:
    - patch: |
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec: {replicas: 1}
    - target: {kind: Deployment}
      patch: |
        - {op: replace, path: /spec/nothing/here, value: 1}
"""
    put(tmp_path, {**APP, "clusters/prod/web.yaml": flux})
    code, report = run_json(str(tmp_path))
    assert code == 1
    assert at(report, "render-error") == [("clusters/prod/web.yaml", 17)]
    assert "/spec/nothing/here" in next(f["message"] for f in report["findings"] if f["rule"] == "render-error")


@needs_kustomize
def test_v1beta2_patch_fields_are_reported_unapplied_never_ignored(tmp_path: Path) -> None:
    # Flux versions that serve v1beta2 apply these; the gate does not, and says so at their lines
    flux = HEAD.replace("kustomize.toolkit.fluxcd.io/v1", "kustomize.toolkit.fluxcd.io/v1beta2") + """  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  patchesStrategicMerge:
    - {apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {template: {spec: {hostNetwork: true}}}}
  patchesJson6902:
    - target: {group: apps, version: v1, kind: Deployment, name: web}
      patch: [{op: add, path: /spec/template/spec/hostPID, value: true}]
"""
    put(tmp_path, {**APP, "clusters/web.yaml": flux})
    _code, report = run_json(str(tmp_path), "--checks", "schema,lint")
    assert at(report, "render-unapplied") == [("clusters/web.yaml", 9), ("clusters/web.yaml", 11)]
