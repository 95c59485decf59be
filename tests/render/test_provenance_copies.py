"""Provenance of values kustomize copies, moves or deletes (real kubectl kustomize): findings point at
the line that set the value, never at a base line that holds another value."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_json
from tests.render.conftest import needs_kustomize, put

pytestmark = needs_kustomize

BASE = {
    "base/deploy.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: shop
          labels: {app: web}
        spec:
          replicas: 2
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              securityContext:
                runAsNonRoot: true
                runAsUser: 1000
                seccompProfile: {type: RuntimeDefault}
              containers:
                - name: web
                  image: nginx:1.2.3
                  resources:
                    requests: {cpu: 100m, memory: 64Mi}
                    limits: {memory: 64Mi}
                  livenessProbe: {httpGet: {path: /, port: 80}}
                  readinessProbe: {httpGet: {path: /, port: 80}}
                  securityContext:
                    allowPrivilegeEscalation: false
                    readOnlyRootFilesystem: true
                    capabilities: {drop: [ALL]}
        """,
    "base/kustomization.yaml": "resources: [deploy.yaml]\n",
}


def _first(report: dict, rule: str) -> tuple[str, int]:
    found = sorted((f["path"], f["line"]) for f in report["findings"] if f["rule"] == rule)
    assert found, f"no {rule} finding"
    return found[0]


def test_replacements_locate_at_the_source_field(tmp_path: Path) -> None:
    put(tmp_path, {**BASE, "overlay/cfg.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: cfg
          namespace: shop
        data:
          image: nginx:latest
        """, "overlay/kustomization.yaml": """
        resources: [../base, cfg.yaml]
        replacements:
          - path: replace.yaml
        """, "overlay/replace.yaml": """
        source: {kind: ConfigMap, name: cfg, fieldPath: data.image}
        targets:
          - select: {kind: Deployment, name: web}
            fieldPaths:
              - spec.template.spec.containers.[name=web].image
        """})
    code, report = run_json(str(tmp_path))
    assert code == 1
    found = [f for f in report["findings"] if f["rule"] == "image-latest"]
    assert [(f["path"], f["line"]) for f in found] == [("overlay/cfg.yaml", 7)]
    assert {"path": "overlay/replace.yaml", "line": 1, "role": "replacement"} in found[0]["origin"]


def test_json6902_copy_and_move_locate_at_the_copied_value(tmp_path: Path) -> None:
    put(tmp_path, {**BASE, "overlay/kustomization.yaml": """
        resources: [../base]
        patches:
          - target: {kind: Deployment, name: web}
            path: p.yaml
        """, "overlay/p.yaml": """
        - op: add
          path: /spec/template/spec/initContainers
          value:
            - name: init
              image: busybox:1.36
              securityContext: {privileged: true}
        - op: copy
          from: /spec/template/spec/initContainers/0/securityContext
          path: /spec/template/spec/containers/0/securityContext
        - op: remove
          path: /spec/template/spec/initContainers
        - op: add
          path: /spec/template/metadata/annotations
          value: {x: "true"}
        - op: move
          from: /spec/template/metadata/annotations/x
          path: /spec/template/spec/hostNetwork
        - op: copy
          from: /spec/replicas
          path: /spec/template/spec/terminationGracePeriodSeconds
        """})
    code, report = run_json(str(tmp_path))
    assert code == 1
    assert _first(report, "privileged-container") == ("overlay/p.yaml", 6)  # the copied securityContext
    assert _first(report, "schema-type") == ("overlay/p.yaml", 14)  # the moved "true"


def test_deletions_locate_at_the_patch_line(tmp_path: Path) -> None:
    put(tmp_path, {**BASE, "overlay/kustomization.yaml": "resources: [../base]\npatches: [{path: p.yaml}]\n",
                   "overlay/p.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: shop}
        spec:
          template:
            spec:
              securityContext:
                $patch: delete
        """})
    _, report = run_json(str(tmp_path))
    found = [f for f in report["findings"] if f["rule"] == "run-as-non-root"]
    assert found and {(f["path"], f["line"]) for f in found} == {("overlay/p.yaml", 8)}


def test_a_value_of_unknown_origin_locates_at_the_overlay_entry(tmp_path: Path) -> None:
    put(tmp_path, {**BASE, "overlay/kustomization.yaml": "resources: [../base]\ntransformers: [tag.yaml]\n",
                   "overlay/tag.yaml": """
        apiVersion: builtin
        kind: ImageTagTransformer
        metadata: {name: tag}
        imageTag: {name: nginx, newTag: latest}
        """})
    code, report = run_json(str(tmp_path))
    assert code == 1
    # the base says nginx:1.2.3: the finding goes to the overlay's transformers entry instead
    assert _first(report, "image-latest") == ("overlay/kustomization.yaml", 2)
