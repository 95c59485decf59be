"""The shipped schemas for common GitOps custom resources (sealed-secrets, cert-manager, External
Secrets, Flux Helm/OCI sources, Prometheus Operator): realistic objects validate cleanly, and a
misspelt field, wrong type or disallowed value is reported at its exact line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import run_json, shared_dir

SHIPPED = Path(__file__).resolve().parents[1] / "gatekeeper" / "schemas" / "crds"

SEALED_SECRET = """
apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  creationTimestamp: null
  name: db-credentials
  namespace: shop
spec:
  encryptedData:
    password: AgBy3i4OJSWK+PiTySYZZA9rO43cGDEq
    username: AgAKAoiQm7QDs2nBSt3F/gk1R7YHKpTm
  template:
    metadata:
      creationTimestamp: null
      name: db-credentials
      namespace: shop
    type: Opaque
"""

CERTIFICATE = """
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: shop-tls
  namespace: shop
spec:
  secretName: shop-tls
  duration: 2160h
  renewBefore: 360h
  commonName: shop.example.com
  dnsNames:
    - shop.example.com
    - www.shop.example.com
  usages:
    - server auth
    - digital signature
  privateKey:
    algorithm: ECDSA
    size: 256
    rotationPolicy: Always
  secretTemplate:
    labels: {app: shop}
  issuerRef:
    name: letsencrypt-prod
    kind: ClusterIssuer
    group: cert-manager.io
  keystores:
    pkcs12:
      create: true
      profile: Modern2023
      passwordSecretRef: {name: shop-tls-keystore, key: password}
"""

CLUSTER_ISSUER = """
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: letsencrypt-prod
spec:
  acme:
    server: https://acme-v02.api.letsencrypt.org/directory
    email: platform@example.com
    privateKeySecretRef:
      name: letsencrypt-prod-account
    solvers:
      - http01:
          ingress:
            ingressClassName: nginx
      - selector:
          dnsZones: [example.com]
        dns01:
          route53: {region: eu-west-1}
"""

ISSUER = """
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: shop-ca
  namespace: shop
spec:
  ca:
    secretName: shop-ca-key-pair
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: bootstrap
  namespace: shop
spec:
  selfSigned: {}
"""

EXTERNAL_SECRET = """
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: db-credentials
  namespace: shop
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: vault-backend
    kind: ClusterSecretStore
  target:
    name: db-credentials
    creationPolicy: Owner
    template:
      type: Opaque
      data:
        DATABASE_URL: "postgres://{{ .username }}:{{ .password }}@db:5432/shop"
  data:
    - secretKey: username
      remoteRef:
        key: shop/db
        property: username
    - secretKey: password
      remoteRef:
        key: shop/db
        property: password
  dataFrom:
    - extract:
        key: shop/config
"""

SECRET_STORE = """
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: vault-backend
  namespace: shop
spec:
  provider:
    vault:
      server: https://vault.example.com
      path: secret
      version: v2
      auth:
        kubernetes:
          mountPath: kubernetes
          role: shop
"""

CLUSTER_SECRET_STORE = """
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata:
  name: aws-secrets
spec:
  provider:
    aws:
      service: SecretsManager
      region: eu-west-1
      auth:
        jwt:
          serviceAccountRef: {name: external-secrets, namespace: external-secrets}
  conditions:
    - namespaceSelector:
        matchLabels: {secrets: aws}
  refreshInterval: 300
"""

HELM_RELEASE = """
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: ingress-nginx
  namespace: ingress-nginx
spec:
  interval: 30m
  releaseName: ingress-nginx
  chart:
    spec:
      chart: ingress-nginx
      version: 4.11.x
      sourceRef:
        kind: HelmRepository
        name: ingress-nginx
        namespace: flux-system
      interval: 12h
  install:
    crds: CreateReplace
    remediation: {retries: 3}
  upgrade:
    cleanupOnFail: true
  driftDetection:
    mode: enabled
  dependsOn:
    - name: cert-manager
  valuesFrom:
    - kind: ConfigMap
      name: ingress-nginx-values
      valuesKey: values.yaml
  values:
    controller:
      replicaCount: 2
  waitStrategy:
    name: poller
  healthCheckExprs:
    - apiVersion: bitnami.com/v1alpha1
      kind: SealedSecret
      current: status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'True')
"""

HELM_REPOSITORY = """
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: ingress-nginx
  namespace: flux-system
spec:
  interval: 24h
  url: https://kubernetes.github.io/ingress-nginx
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  type: oci
  provider: generic
  url: oci://ghcr.io/stefanprodan/charts
"""

OCI_REPOSITORY = """
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: cert-manager
  namespace: cert-manager
spec:
  interval: 24h
  url: oci://quay.io/jetstack/charts/cert-manager
  layerSelector:
    mediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
    operation: copy
  ref:
    semver: "1.x"
  verify:
    provider: cosign
"""

SERVICE_MONITOR = """
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: shop
  namespace: monitoring
  labels: {release: prometheus}
spec:
  jobLabel: app.kubernetes.io/name
  selector:
    matchLabels:
      app.kubernetes.io/name: shop
  namespaceSelector:
    matchNames: [shop]
  endpoints:
    - port: metrics
      interval: 30s
      scrapeTimeout: 10s
      path: /metrics
      scheme: https
      tlsConfig:
        insecureSkipVerify: true
      relabelings:
        - action: replace
          sourceLabels: [__meta_kubernetes_pod_node_name]
          targetLabel: node
      metricRelabelings:
        - action: drop
          regex: go_gc_.*
          sourceLabels: [__name__]
"""

POD_MONITOR = """
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata:
  name: shop-workers
  namespace: monitoring
spec:
  selector:
    matchExpressions:
      - {key: app.kubernetes.io/component, operator: In, values: [worker]}
  namespaceSelector:
    any: true
  podMetricsEndpoints:
    - port: metrics
      interval: 1m
      honorLabels: true
"""

PROMETHEUS_RULE = """
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: shop-rules
  namespace: monitoring
spec:
  groups:
    - name: shop.rules
      interval: 1m
      rules:
        - record: shop:http_requests:rate5m
          expr: sum(rate(http_requests_total{job="shop"}[5m]))
        - alert: ShopDown
          expr: up{job="shop"} == 0
          for: 5m
          labels: {severity: critical}
          annotations:
            summary: The shop is down.
"""

VALID = {
    "sealedsecret": SEALED_SECRET,
    "certificate": CERTIFICATE,
    "clusterissuer": CLUSTER_ISSUER,
    "issuer": ISSUER,
    "externalsecret-v1": EXTERNAL_SECRET,
    "externalsecret-v1beta1": EXTERNAL_SECRET.replace("external-secrets.io/v1\n", "external-secrets.io/v1beta1\n"),
    "secretstore-v1": SECRET_STORE,
    "secretstore-v1beta1": SECRET_STORE.replace("external-secrets.io/v1\n", "external-secrets.io/v1beta1\n"),
    "clustersecretstore-v1": CLUSTER_SECRET_STORE,
    "clustersecretstore-v1beta1": CLUSTER_SECRET_STORE.replace("external-secrets.io/v1\n",
                                                               "external-secrets.io/v1beta1\n"),
    "helmrelease": HELM_RELEASE,
    "helmrepository-v1": HELM_REPOSITORY,
    "helmrepository-v1beta2": HELM_REPOSITORY.replace("fluxcd.io/v1\n", "fluxcd.io/v1beta2\n"),
    "ocirepository-v1": OCI_REPOSITORY,
    "ocirepository-v1beta2": OCI_REPOSITORY.replace("fluxcd.io/v1\n", "fluxcd.io/v1beta2\n"),
    "servicemonitor": SERVICE_MONITOR,
    "podmonitor": POD_MONITOR,
    "prometheusrule": PROMETHEUS_RULE,
}

Finding = tuple[str, int, str]


def _findings(write: Callable[[str, str], Path], tmp_path: Path, text: str, *extra: str) -> list[Finding]:
    write("obj.yaml", text)
    _, report = run_json(str(tmp_path), "--checks", "schema", *extra)
    return sorted((f["rule"], f["line"], f["field"]) for f in report["findings"]
                  if f["check"] == "schema" and f["rule"] not in LIFECYCLE)


# Flux's v1beta2 source APIs are past their removal (tests/test_deprecations.py); their shipped schemas
# still validate them for repositories on an older Flux.
LIFECYCLE = ("removed-api", "deprecated-api")


@pytest.mark.parametrize("text", list(VALID.values()), ids=list(VALID))
def test_realistic_objects_validate_with_no_findings(write: Callable[[str, str], Path], tmp_path: Path,
                                                     text: str) -> None:
    write("obj.yaml", text)
    code, report = run_json(str(tmp_path), "--checks", "schema")
    # a HelmRelease of a chart repository cannot be rendered offline (a render-remote warning)
    assert [f for f in report["findings"] if f["rule"] not in LIFECYCLE and f["rule"] != "render-remote"] == []
    assert code == (1 if any(f["severity"] == "error" for f in report["findings"]) else 0)
    assert report["summary"]["resources"] == text.count("\nkind: ")


def _swap(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


BAD: dict[str, tuple[str, list[Finding]]] = {
    "sealedsecret-misspelt": (
        _swap(SEALED_SECRET, "  encryptedData:", "  encrytedData:"),
        [("schema-required", 7, "spec.encryptedData"), ("schema-unknown-field", 8, "spec.encrytedData")]),
    "sealedsecret-template-type": (
        _swap(SEALED_SECRET, "    type: Opaque", "    type: [Opaque]"),
        [("schema-type", 16, "spec.template.type")]),
    "certificate-misspelt": (
        _swap(CERTIFICATE, "  dnsNames:", "  dnsName:"),
        [("schema-unknown-field", 11, "spec.dnsName")]),
    "certificate-enum": (
        _swap(CERTIFICATE, "algorithm: ECDSA", "algorithm: EC"),
        [("schema-value", 18, "spec.privateKey.algorithm")]),
    "certificate-usage": (
        _swap(CERTIFICATE, "    - server auth", "    - serverAuth"),
        [("schema-value", 15, "spec.usages[0]")]),
    "certificate-keystore-enum": (
        _swap(CERTIFICATE, "profile: Modern2023", "profile: Modern2024"),
        [("schema-value", 30, "spec.keystores.pkcs12.profile")]),
    "certificate-required": (
        _swap(CERTIFICATE, "    name: letsencrypt-prod\n", ""),
        [("schema-required", 23, "spec.issuerRef.name")]),
    "clusterissuer-misspelt": (
        _swap(CLUSTER_ISSUER, "  acme:", "  acmee:"),
        [("schema-unknown-field", 6, "spec.acmee")]),
    "clusterissuer-required": (
        _swap(CLUSTER_ISSUER, "    server: https://acme-v02.api.letsencrypt.org/directory\n", ""),
        [("schema-required", 6, "spec.acme.server")]),
    "issuer-misspelt": (
        _swap(ISSUER, "  selfSigned: {}", "  selfsigned: {}"),
        [("schema-unknown-field", 16, "spec.selfsigned")]),
    "externalsecret-enum": (
        _swap(EXTERNAL_SECRET, "kind: ClusterSecretStore", "kind: ClusterSecretStores"),
        [("schema-value", 10, "spec.secretStoreRef.kind")]),
    "externalsecret-misspelt": (
        _swap(EXTERNAL_SECRET, "      remoteRef:\n        key: shop/db\n        property: password",
              "      remoteref:\n        key: shop/db\n        property: password"),
        [("schema-required", 23, "spec.data[1].remoteRef"), ("schema-unknown-field", 24, "spec.data[1].remoteref")]),
    "externalsecret-v1beta1-misspelt": (
        _swap(VALID["externalsecret-v1beta1"], "  refreshInterval: 1h", "  refreshIntervall: 1h"),
        [("schema-unknown-field", 7, "spec.refreshIntervall")]),
    "secretstore-misspelt": (
        _swap(SECRET_STORE, "  provider:", "  providers:"),
        [("schema-required", 6, "spec.provider"), ("schema-unknown-field", 7, "spec.providers")]),
    "clustersecretstore-type": (
        _swap(CLUSTER_SECRET_STORE, "refreshInterval: 300", "refreshInterval: 5m"),
        [("schema-type", 16, "spec.refreshInterval")]),
    "helmrelease-misspelt": (
        _swap(HELM_RELEASE, "      valuesKey: values.yaml", "      valueKey: values.yaml"),
        [("schema-unknown-field", 30, "spec.valuesFrom[0].valueKey")]),
    "helmrelease-enum-and-pattern": (
        _swap(_swap(HELM_RELEASE, "    - kind: ConfigMap", "    - kind: Configmap"),
              "  interval: 30m", "  interval: 30 minutes"),
        [("schema-value", 7, "spec.interval"), ("schema-value", 28, "spec.valuesFrom[0].kind")]),
    "helmrelease-chart-sourceref": (
        _swap(HELM_RELEASE, "        kind: HelmRepository", "        kind: HelmRepo"),
        [("schema-value", 14, "spec.chart.spec.sourceRef.kind")]),
    "helmrepository-enum": (
        _swap(HELM_REPOSITORY, "  type: oci", "  type: OCI"),
        [("schema-value", 16, "spec.type")]),
    "helmrepository-v1beta2-type": (
        _swap(VALID["helmrepository-v1beta2"], "  interval: 24h", "  interval: 24"),
        [("schema-type", 7, "spec.interval")]),
    "ocirepository-misspelt": (
        _swap(OCI_REPOSITORY, "    semver: \"1.x\"", "    semVer: \"1.x\""),
        [("schema-unknown-field", 13, "spec.ref.semVer")]),
    "ocirepository-v1beta2-required": (
        _swap(VALID["ocirepository-v1beta2"], "  interval: 24h\n", ""),
        [("schema-required", 6, "spec.interval")]),
    "servicemonitor-type": (
        _swap(SERVICE_MONITOR, "      interval: 30s", "      interval: 30"),
        [("schema-type", 16, "spec.endpoints[0].interval")]),
    "servicemonitor-misspelt": (
        _swap(SERVICE_MONITOR, "          targetLabel: node", "          target_label: node"),
        [("schema-unknown-field", 25, "spec.endpoints[0].relabelings[0].target_label")]),
    "podmonitor-misspelt": (
        _swap(POD_MONITOR, "      honorLabels: true", "      honourLabels: true"),
        [("schema-unknown-field", 15, "spec.podMetricsEndpoints[0].honourLabels")]),
    "prometheusrule-misspelt": (
        _swap(PROMETHEUS_RULE, "          annotations:", "          annotation:"),
        [("schema-unknown-field", 17, "spec.groups[0].rules[1].annotation")]),
    "prometheusrule-type": (
        _swap(PROMETHEUS_RULE, "labels: {severity: critical}", "labels: {severity: [critical]}"),
        [("schema-type", 16, "spec.groups[0].rules[1].labels.severity")]),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_mistakes_are_reported_at_their_line(write: Callable[[str, str], Path], tmp_path: Path,
                                             case: str) -> None:
    text, expected = BAD[case]
    assert _findings(write, tmp_path, text) == expected


def test_no_strict_opens_the_shipped_schemas(write: Callable[[str, str], Path], tmp_path: Path) -> None:
    text, expected = BAD["helmrelease-enum-and-pattern"]
    assert _findings(write, tmp_path, text, "--no-strict") == expected  # values are still checked
    assert _findings(write, tmp_path, BAD["certificate-misspelt"][0], "--no-strict") == []


def test_a_crd_in_the_tree_takes_precedence(write: Callable[[str, str], Path], tmp_path: Path) -> None:
    """A repository's own CRD (say a newer operator with a field the shipped schema lacks) wins."""
    write("crd.yaml", """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: certificates.cert-manager.io
        spec:
          group: cert-manager.io
          names: {kind: Certificate, plural: certificates}
          scope: Namespaced
          versions:
            - name: v1
              served: true
              storage: true
              schema:
                openAPIV3Schema:
                  type: object
                  properties:
                    spec:
                      type: object
                      x-kubernetes-preserve-unknown-fields: true
        """)
    assert _findings(write, tmp_path, CERTIFICATE.replace("  dnsNames:", "  futureField: true\n  dnsNames:")) == []


def test_shipped_files_are_valid_json_schema_named_for_their_kind() -> None:
    import jsonschema

    for path in sorted(SHIPPED.rglob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        group, version = schema["properties"]["apiVersion"]["const"].rsplit("/", 1)
        kind = schema["properties"]["kind"]["const"]
        assert path.relative_to(SHIPPED).as_posix() == f"{group}/{kind.lower()}_{version}.json"


def _closed_levels(mine: dict[str, Any], theirs: dict[str, Any], path: str) -> list[str]:
    """Disagreements between a shipped schema and the upstream CRD schema at every level the
    shipped schema closes: a field the CRD has but the shipped schema rejects, a field the CRD
    does not have, an enum value the CRD lacks or misses, a requirement the CRD does not make."""
    problems: list[str] = []
    if "items" in mine:
        return _closed_levels(mine["items"], theirs.get("items", {}), f"{path}[]")
    ours = mine.get("properties", {})
    upstream = theirs.get("properties", {})
    if mine.get("additionalProperties") is False and not theirs.get("x-kubernetes-preserve-unknown-fields"):
        problems += [f"{path}.{k}: in the CRD, rejected by the shipped schema"
                     for k in sorted(set(upstream) - set(ours))]
    problems += [f"{path}.{k}: not in the CRD" for k in sorted(set(ours) - set(upstream))]
    problems += [f"{path}: requires {k!r}, the CRD does not" for k in mine.get("required", [])
                 if k not in theirs.get("required", [])]
    if "enum" in mine and set(mine["enum"]) != set(theirs.get("enum", [])):
        problems.append(f"{path}: enum differs from the CRD's")
    for key in sorted(set(ours) & set(upstream)):
        problems += _closed_levels(ours[key], upstream[key], f"{path}.{key}")
    return problems


@pytest.mark.parametrize("kind", ["servicemonitor", "podmonitor", "prometheusrule"])
def test_prometheus_operator_schemas_agree_with_the_upstream_crds(kind: str) -> None:
    """kube-prometheus ships the monitoring.coreos.com CRDs: every level the shipped schema closes
    has exactly the CRD's fields, and no enum or requirement is stricter than the CRD's."""
    setup = shared_dir("corpus", "real", "prometheus-operator__kube-prometheus", "manifests", "setup")
    crd = yaml.safe_load((setup / f"0{kind}CustomResourceDefinition.yaml").read_text(encoding="utf-8"))
    upstream = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    mine = json.loads((SHIPPED / "monitoring.coreos.com" / f"{kind}_v1.json").read_text(encoding="utf-8"))
    assert _closed_levels(mine["properties"]["spec"], upstream, "spec") == []


def test_real_prometheus_operator_objects_validate_without_their_crds(tmp_path: Path) -> None:
    """The ServiceMonitor and PrometheusRule objects of kube-prometheus, scanned without the CRDs
    (so the shipped schemas apply), get no finding."""
    manifests = shared_dir("corpus", "real", "prometheus-operator__kube-prometheus", "manifests")
    copied = 0
    for path in sorted(manifests.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if "\nkind: ServiceMonitor\n" in text or "\nkind: PrometheusRule\n" in text:
            (tmp_path / path.name).write_text(text, encoding="utf-8")
            copied += 1
    assert copied >= 10
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert report["findings"] == []
    assert report["summary"]["resources"] == copied
    assert code == 0
