"""Provenance through kustomize: base, patch forms and transformer lines; one finding for a shared base."""

from __future__ import annotations

from pathlib import Path

from gatekeeper.sources import kustomize as kz
from gatekeeper.sources.render import Renderer
from gatekeeper.sources.render import kustomize as kz_render
from gatekeeper.sources.tree import DiskTree
from gatekeeper.sources.units import KUSTOMIZE, Unit
from tests.conftest import run_json
from tests.render.conftest import CLEAN_DEPLOY, needs_kustomize, put

pytestmark = needs_kustomize

PORTS = "image: nginx:1.2.3\n          ports: [{containerPort: 8080}]"
BASE = {"base/deploy.yaml": CLEAN_DEPLOY.replace("image: nginx:1.2.3", PORTS),
        "base/kustomization.yaml": "resources: [deploy.yaml]\n"}


def _found(report: dict, rule: str) -> list[tuple[str, int, int, list[str]]]:
    return [(f["path"], f["line"], f["column"], sorted(f["unit"])) for f in report["findings"] if f["rule"] == rule]


def test_one_base_line_through_three_overlays_is_one_finding(tmp_path: Path) -> None:
    files = dict(BASE)
    files["base/deploy.yaml"] = files["base/deploy.yaml"].replace("runAsNonRoot: true", "runAsNonRoot: true\n"
                                                                  "            privileged: true")
    for env in ("dev", "staging", "prod"):
        files[f"overlays/{env}/kustomization.yaml"] = f"resources: [../../base]\nnamespace: {env}\n"
    put(tmp_path, files)
    code, report = run_json(str(tmp_path))
    assert code == 1
    assert _found(report, "privileged-container") == [
        ("base/deploy.yaml", 25, 13, ["overlays/dev", "overlays/prod", "overlays/staging"])]


def test_transformer_lines(tmp_path: Path) -> None:
    put(tmp_path, {**BASE, "overlays/prod/kustomization.yaml": """
        namespace: kube-system
        namePrefix: prod-
        resources: [../../base]
        images:
          - name: nginx
            newTag: latest
        replicas:
          - name: web
            count: 1
        commonLabels:
          tier: "7"
        patches:
          - path: ops.yaml
            target: {kind: Deployment, name: web}
        configMapGenerator:
          - name: settings
            literals: [mode=fast]
        """,
        "overlays/prod/ops.yaml": """
        - op: add
          path: /spec/template/spec/hostIPC
          value: true
        """})
    code, report = run_json(str(tmp_path))
    assert code == 1
    k = "overlays/prod/kustomization.yaml"
    assert _found(report, "image-latest") == [(k, 6, 5, ["overlays/prod"])]  # the images entry's newTag
    assert _found(report, "host-ipc") == [("overlays/prod/ops.yaml", 3, 3, ["overlays/prod"])]
    # a Deployment in kube-system: the namespace transformer's line
    system = [f for f in report["findings"] if f["field"] == "metadata.namespace"]
    assert {(f["path"], f["line"]) for f in system} <= {(k, 1)}
    generated = [f for f in report["findings"] if f["resource"] and f["resource"]["kind"] == "ConfigMap"]
    assert all((f["path"], f["line"]) == (k, 16) for f in generated)


def test_strategic_merge_patch_maps_containers_by_name(tmp_path: Path) -> None:
    files = dict(BASE)
    files["base/deploy.yaml"] = files["base/deploy.yaml"].replace("      containers:\n", """      containers:
        - name: sidecar
          image: envoy:1.30.0
          resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {cpu: 20m, memory: 32Mi}}
          readinessProbe: {httpGet: {path: /, port: 9901}}
          livenessProbe: {httpGet: {path: /, port: 9901}}
          securityContext: {runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
                            capabilities: {drop: [ALL]}}
""")
    put(tmp_path, {**files, "overlays/prod/kustomization.yaml": "resources: [../../base]\n"
                                                                "patchesStrategicMerge: [patch.yaml]\n",
                   "overlays/prod/patch.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          template:
            spec:
              containers:
                - name: web
                  securityContext:
                    runAsUser: 0
        """})
    _, report = run_json(str(tmp_path))
    assert _found(report, "run-as-root") == [("overlays/prod/patch.yaml", 10, 13, ["overlays/prod"])]


def test_a_batch_renders_what_each_unit_renders_alone(tmp_path: Path) -> None:
    files = dict(BASE)
    for env in ("dev", "prod"):
        files[f"overlays/{env}/kustomization.yaml"] = f"resources: [../../base]\nnamespace: {env}\n"
    files["other/kustomization.yaml"] = "resources: [cm.yaml]\nconfigMapGenerator: [{name: g, literals: [a=b]}]\n"
    files["other/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
    put(tmp_path, files)
    tree = DiskTree(tmp_path)
    from gatekeeper.sources.files import SourceFile
    from gatekeeper.sources.yamlload import parse

    docs = [d for rel in files for d in parse(SourceFile(rel, (tmp_path / rel).read_bytes())).documents]
    kusts = kz.find(docs, tree.kind)
    units = [Unit(KUSTOMIZE, p) for p in ("overlays/dev", "overlays/prod", "other")]
    renderer = Renderer(tree, docs, kusts)
    try:
        together = renderer.render_many(units)
        alone = []
        for unit in units:
            unit_plan = kz_render.plan(unit.path, renderer.kustomization, tree)
            with renderer._workdir() as workdir:
                text = kz_render.run(unit_plan, tree, renderer._exe(), workdir, 30, 1 << 20)
            assert isinstance(text, bytes)
            alone.append([obj for obj, _ in kz_render.objects(text, unit_plan, renderer.docs_of).objects])
    finally:
        renderer.close()
    assert [[obj for obj, _ in r.objects] for r in together] == alone
    assert [len(objs) for objs in alone] == [1, 1, 2]
