"""Helm values as the GitOps agents apply them, rendered for real: Argo CD parameters and Flux
targetPath with Helm's --set typing, every values layer applied or reported, findings at the lines
that set the values."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from tests.conftest import run_json
from tests.render.conftest import needs_helm, put

pytestmark = needs_helm

CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: api\nversion: 0.1.0\n",
    "chart/values.yaml": "safe: true\nreplicas: 1\nhostNetwork: false\n",
    "chart/templates/deploy.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}
          namespace: shop
        spec:
          replicas: {{ .Values.replicas | toJson }}
          selector:
            matchLabels: {app: api}
          template:
            metadata:
              labels: {app: api}
            spec:
              hostNetwork: {{ .Values.hostNetwork | toJson }}
              containers:
                - name: api
                  image: "nginx:1.2.3"
                  {{- if not .Values.safe }}
                  securityContext:
                    privileged: true
                  {{- end }}
        """,
}
TEMPLATE = "chart/templates/deploy.yaml"


def _app(name: str, helm: str) -> str:
    body = "\n".join("    " + line for line in helm.strip("\n").splitlines())
    return (f"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}, namespace: argocd}}\n"
            "spec:\n  project: default\n  source:\n    repoURL: https://example.com/repo.git\n    path: chart\n"
            f"    helm:\n{body}\n"
            "  destination: {server: https://kubernetes.default.svc, namespace: shop}\n")


def _where(report: dict[str, Any], rule: str) -> list[tuple[str, int]]:
    return sorted({(f["path"], f["line"]) for f in report["findings"] if f["rule"] == rule})


def test_argo_cd_parameters_are_set_with_helm_typing_at_their_lines(tmp_path: Path) -> None:
    put(tmp_path, {**CHART, "apps/app.yaml": _app("api", """
        parameters:
          - name: safe
            value: "false"
          - name: hostNetwork
            value: "TRUE"
          - name: replicas
            value: "3"
            forceString: true
          - name: bad[x]
            value: "1"
        fileParameters:
          - name: notes
            path: missing.txt
        """)})
    code, report = run_json(str(tmp_path))
    assert code == 1
    # safe=false is the boolean false: the conditional renders the privileged container
    assert _where(report, "privileged-container") == [(TEMPLATE, 20)]
    # hostNetwork=TRUE is the boolean true, set by the parameter's value line
    assert _where(report, "host-network") == [("apps/app.yaml", 14)]
    # forceString keeps "3" a string: Kubernetes refuses it, located at the parameter
    assert ("apps/app.yaml", 16) in _where(report, "schema-type")
    # a parameter Helm refuses, and a file parameter that is not there: findings at their lines
    assert _where(report, "render-error") == [("apps/app.yaml", 19), ("apps/app.yaml", 22)]


def test_argo_cd_file_parameters_are_set_as_strings(tmp_path: Path) -> None:
    put(tmp_path, {**CHART, "chart/files/hn.txt": "true", "apps/app.yaml": _app("api", """
        fileParameters:
          - name: hostNetwork
            path: files/hn.txt
        """)})
    code, report = run_json(str(tmp_path))
    assert code == 1
    found = [f for f in report["findings"] if f["rule"] == "schema-type"]  # "true" the string
    assert [(f["path"], f["line"]) for f in found] == [("apps/app.yaml", 12)]


def test_flux_values_from_target_path_is_typed_and_read_from_the_release_namespace(tmp_path: Path) -> None:
    secret_value = base64.b64encode(b"true").decode()
    put(tmp_path, {**CHART, "apps/hr.yaml": f"""
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: GitRepository
        metadata: {{name: repo, namespace: flux}}
        spec: {{interval: 1m, url: "https://example.com/repo.git", ref: {{branch: main}}}}
        ---
        apiVersion: helm.toolkit.fluxcd.io/v2
        kind: HelmRelease
        metadata: {{name: api, namespace: flux}}
        spec:
          interval: 5m
          targetNamespace: shop
          chart:
            spec:
              chart: ./chart
              sourceRef: {{kind: GitRepository, name: repo}}
          valuesFrom:
            - {{kind: ConfigMap, name: api-values, valuesKey: safe, targetPath: safe}}
            - {{kind: Secret, name: api-secret, valuesKey: hn, targetPath: hostNetwork}}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: api-values, namespace: flux}}
        data:
          safe: "false"
        ---
        apiVersion: v1
        kind: Secret
        metadata: {{name: api-secret, namespace: flux}}
        data:
          hn: {secret_value}
        """})
    code, report = run_json(str(tmp_path))
    assert code == 1
    assert _where(report, "render-error") == []  # the ConfigMap is found beside the HelmRelease
    assert _where(report, "privileged-container") == [(TEMPLATE, 20)]
    assert _where(report, "host-network") == [("apps/hr.yaml", 30)]  # the Secret key that set it


def test_inline_values_are_parsed_as_helm_does_or_reported(tmp_path: Path) -> None:
    put(tmp_path, {**CHART, "chart/values-list.yaml": "- a\n- b\n", "apps/app.yaml": _app("api", """
        values: |
          safe: true
          replicas: 2
          safe: false
        """), "apps/broken.yaml": _app("broken", """
        valueFiles: [values-list.yaml]
        values: |
          replicas: [2
        """)})
    code, report = run_json(str(tmp_path))
    assert code == 1
    # the duplicate key is reported at its line, and the last one wins, as in Helm
    assert _where(report, "duplicate-key") == [("apps/app.yaml", 13)]
    assert _where(report, "privileged-container") == [(TEMPLATE, 20)]
    # values Helm cannot read are findings at their lines, never dropped silently
    assert _where(report, "render-error") == [("apps/broken.yaml", 12), ("chart/values-list.yaml", 1)]
