"""Removed and deprecated APIs from the table in gatekeeper/data: every Kubernetes removal since 1.8
(alpha APIs included), the Flux, cert-manager and Istio CRD versions, Argo CD's removed argocd-cm
keys; each finding at the apiVersion (or the field) line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gatekeeper.checks.schema import deprecations
from gatekeeper.checks.schema.bundled import version_tuple
from tests.conftest import run_json

Write = Callable[[str, str], Path]

OBJECTS = """
apiVersion: admissionregistration.k8s.io/v1alpha1
kind: InitializerConfiguration
metadata:
  name: legacy
---
apiVersion: helm.toolkit.fluxcd.io/v2beta1
kind: HelmRelease
metadata:
  name: podinfo
spec:
  interval: 5m
---
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: HelmRepository
metadata:
  name: podinfo
spec:
  url: https://stefanprodan.github.io/podinfo
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: web
---
apiVersion: cert-manager.io/v1alpha2
kind: ClusterIssuer
metadata:
  name: letsencrypt
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
data:
  url: https://argocd.example.com
  repositories: |
    - url: https://github.com/example/apps
"""


def test_removed_and_deprecated_apis_across_projects(write: Write, tmp_path: Path) -> None:
    write("apps.yaml", OBJECTS)
    code, report = run_json(str(tmp_path), "--checks", "schema", "-k", "1.30")
    found = sorted((f["line"], f["rule"], f["message"]) for f in report["findings"]
                   if f["rule"] in ("removed-api", "deprecated-api"))
    assert found == [
        (1, "removed-api", "admissionregistration.k8s.io/v1alpha1 InitializerConfiguration was removed in "
                           "Kubernetes 1.14 (target 1.30) (the Initializers alpha feature was removed; use "
                           "admission webhooks (admissionregistration.k8s.io/v1))"),
        (6, "removed-api", "helm.toolkit.fluxcd.io/v2beta1 HelmRelease was removed in Flux 2.7; use "
                           "helm.toolkit.fluxcd.io/v2"),
        (13, "removed-api", "source.toolkit.fluxcd.io/v1beta2 HelmRepository was removed in Flux 2.8; use "
                            "source.toolkit.fluxcd.io/v1"),
        (20, "deprecated-api", "image.toolkit.fluxcd.io/v1beta2 ImagePolicy is deprecated since Flux 2.6; use "
                               "image.toolkit.fluxcd.io/v1"),
        (25, "removed-api", "cert-manager.io/v1alpha2 ClusterIssuer was removed in cert-manager 1.6; use "
                            "cert-manager.io/v1"),
        (36, "removed-api", "v1 ConfigMap argocd-cm field data.repositories was removed in Argo CD 3.0; use "
                            "Secrets labelled argocd.argoproj.io/secret-type: repository"),
    ]
    assert code == 1


def test_a_kubernetes_removal_depends_on_the_target_version(write: Write, tmp_path: Path) -> None:
    write("hpa.yaml", "apiVersion: autoscaling/v2beta2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: web\n")
    _, old = run_json(str(tmp_path), "--checks", "schema", "-k", "1.25")
    _, new = run_json(str(tmp_path), "--checks", "schema", "-k", "1.26")
    assert [f["rule"] for f in old["findings"] if f["rule"].endswith("-api")] == ["deprecated-api"]
    assert [f["rule"] for f in new["findings"] if f["rule"].endswith("-api")] == ["removed-api"]


def test_the_table_is_consistent() -> None:
    """Every entry removes after (or when) it deprecates, names a replacement or says why not, and
    no apiVersion/kind pair appears twice."""
    seen: set[tuple[str, str]] = set()
    import json
    from importlib import resources

    raw = json.loads(resources.files("gatekeeper").joinpath("data/deprecations.json").read_text("utf-8"))
    for entry in raw["apis"]:
        for kind in entry["kinds"]:
            assert (entry["apiVersion"], kind) not in seen, (entry["apiVersion"], kind)
            seen.add((entry["apiVersion"], kind))
        assert entry.get("replacement") or entry.get("note") or entry["kinds"] == ["ComponentStatus"], entry
        if entry.get("deprecated") and entry.get("removed"):
            assert version_tuple(entry["removed"]) >= version_tuple(entry["deprecated"]), entry
    table = deprecations.table()
    for removal in (("extensions/v1beta1", "ThirdPartyResource"), ("settings.k8s.io/v1alpha1", "PodPreset"),
                    ("batch/v2alpha1", "CronJob"), ("policy/v1beta1", "PodSecurityPolicy"),
                    ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema"),
                    ("kustomize.toolkit.fluxcd.io/v1beta2", "Kustomization"),
                    ("certmanager.k8s.io/v1alpha1", "Certificate")):
        assert table[removal].removed, removal
