"""Structural detection: each secret-bearing place, with exact lines and field paths."""

from __future__ import annotations

import json
from pathlib import Path

from gatekeeper.model import Severity
from tests.secrets.fakes import b64, github_token, password, pem_private_key, scan, secret_findings, where


def put(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_secret_data_is_decoded_and_string_data_read(tmp_path: Path) -> None:
    pw = password()
    put(tmp_path, "s.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: app\ntype: Opaque\n"
        f"data:\n  username: {b64('app')}\n  password: {b64(pw)}\n"
        f"stringData:\n  api-key: \"{password()}\"\n  host: db.internal\n")
    found = secret_findings(scan(tmp_path))
    assert where(found) == [("s.yaml", 9, "secret-k8s-secret", "data.password"),
                            ("s.yaml", 11, "secret-k8s-secret", "stringData.api-key")]
    assert all(f.severity is Severity.ERROR and f.resource is not None and f.resource.key == "Secret/app/db"
               for f in found)


def test_only_v1_secret_is_a_secret(tmp_path: Path) -> None:
    put(tmp_path, "s.yaml", "apiVersion: example.com/v1\nkind: Secret\nmetadata:\n  name: x\n"
                            f"data:\n  blob: {b64('just some words here')}\n")
    assert secret_findings(scan(tmp_path)) == []


def test_docker_config_auth_and_password(tmp_path: Path) -> None:
    config = {"auths": {"registry.example.com": {"auth": b64("robot:" + password())},
                        "ghcr.io": {"username": "bot", "password": password()},
                        "anon.example.com": {"auth": b64("robot:")}}}
    put(tmp_path, "pull.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: pull\n"
                               "type: kubernetes.io/dockerconfigjson\n"
                               f"data:\n  .dockerconfigjson: {b64(json.dumps(config))}\n")
    found = secret_findings(scan(tmp_path))
    assert where(found) == [("pull.yaml", 7, "secret-docker-config", "data['.dockerconfigjson']")] * 2


def test_env_literals_in_every_pod_template(tmp_path: Path) -> None:
    put(tmp_path, "cron.yaml", f"""apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 1 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          initContainers:
            - name: init
              image: busybox:1.36
              env:
                - name: ADMIN_PASSWORD
                  value: "{password()}"
          containers:
            - name: job
              image: busybox:1.36
              env:
                - name: PASSWORD_MIN_LENGTH
                  value: "12345678"
                - name: DB_PASSWORD
                  valueFrom:
                    secretKeyRef: {{name: db, key: password}}
                - name: API_TOKEN
                  value: "${{API_TOKEN}}"
                - name: DB_PASSWORD_FILE
                  value: /run/secrets/db-password
                - name: SMTP_PASSWORD
                  value: "{password()}"
""")
    found = secret_findings(scan(tmp_path))
    assert where(found) == [
        ("cron.yaml", 16, "secret-env-literal", "spec.jobTemplate.spec.template.spec.initContainers[0].env[0].value"),
        ("cron.yaml", 31, "secret-env-literal", "spec.jobTemplate.spec.template.spec.containers[0].env[4].value"),
    ]


CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_kubeconfig_credentials(tmp_path: Path) -> None:
    key_data = b64(pem_private_key())
    ca_data = b64(CERT)
    put(tmp_path, "kubeconfig.yaml", f"""apiVersion: v1
kind: Config
clusters:
  - name: prod
    cluster:
      server: https://k8s.example.com
      certificate-authority-data: {ca_data}
users:
  - name: admin
    user:
      client-key-data: {key_data}
  - name: ci
    user:
      token: "{password()}"
  - name: oidc
    user:
      auth-provider:
        name: oidc
        config:
          client-id: kubernetes
          client-secret: "{password()}"
""")
    found = secret_findings(scan(tmp_path))
    assert where(found) == [
        ("kubeconfig.yaml", 11, "secret-private-key", "users[0].user.client-key-data"),
        ("kubeconfig.yaml", 14, "secret-kubeconfig", "users[1].user.token"),
        ("kubeconfig.yaml", 21, "secret-kubeconfig", "users[2].user.auth-provider.config.client-secret"),
    ]
    assert all(f.resource is None for f in found)


def test_kustomize_secret_generator_literals_envs_and_files(tmp_path: Path) -> None:
    put(tmp_path, "app/kustomization.yaml", f"""apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
secretGenerator:
  - name: db
    literals:
      - username=app
      - password={password()}
    envs:
      - db.env
    files:
      - tls.key=certs/server.key
      - certs/ca.crt
      - ../../outside.env
configMapGenerator:
  - name: settings
    literals:
      - LOG_LEVEL=info
""")
    put(tmp_path, "app/db.env", f"# database\nDB_HOST=db.internal\nDB_PASSWORD={password()}\n")
    put(tmp_path, "app/certs/server.key", pem_private_key("PRIVATE KEY"))
    put(tmp_path, "app/certs/ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    put(tmp_path.parent, "outside.env", f"TOKEN={password()}\n")
    found = secret_findings(scan(tmp_path))
    assert where(found) == [
        ("app/certs/server.key", 1, "secret-private-key", "['tls.key']"),
        ("app/db.env", 3, "secret-kustomize-generator", "DB_PASSWORD"),
        ("app/kustomization.yaml", 7, "secret-kustomize-generator", "secretGenerator[0].literals[1]"),
    ]


def test_config_map_keyword_entropy_and_embedded_files(tmp_path: Path) -> None:
    put(tmp_path, "cm.yaml", f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: app
data:
  DB_PASSWORD: "{password()}"
  LOG_LEVEL: debug
  application.yaml: |
    spring:
      datasource:
        url: jdbc:postgresql://pg:5432/main
        password: "{password()}"
  settings.ini: |
    [auth]
    client_secret = {password()}
  app.env: |
    MODE=prod
    export API_TOKEN={password()}
""")
    found = secret_findings(scan(tmp_path))
    assert where(found) == [
        ("cm.yaml", 6, "secret-keyword-entropy", "data.DB_PASSWORD"),
        ("cm.yaml", 12, "secret-keyword-entropy", "data['application.yaml'].spring.datasource.password"),
        ("cm.yaml", 15, "secret-keyword-entropy", "data['settings.ini'].auth.client_secret"),
        ("cm.yaml", 18, "secret-keyword-entropy", "data['app.env'].API_TOKEN"),
    ]
    assert {f.severity for f in found} == {Severity.WARNING}


def test_helm_values_and_argo_application_values(tmp_path: Path) -> None:
    put(tmp_path, "values.yaml", f"replicaCount: 2\nauth:\n  existingSecret: db-credentials\n"
                                 f"  postgresPassword: \"{password()}\"\n")
    put(tmp_path, "app.yaml", f"""apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: db
spec:
  project: default
  source:
    repoURL: https://charts.example.com
    chart: postgresql
    targetRevision: 1.2.3
    helm:
      values: |
        primary:
          persistence:
            size: 20Gi
        auth:
          password: "{password()}"
  destination:
    server: https://kubernetes.default.svc
""")
    found = secret_findings(scan(tmp_path))
    assert where(found) == [
        ("app.yaml", 17, "secret-keyword-entropy", "spec.source.helm.values.auth.password"),
        ("values.yaml", 4, "secret-keyword-entropy", "auth.postgresPassword"),
    ]


def test_json_manifest_and_token_in_any_file(tmp_path: Path) -> None:
    token = github_token()
    put(tmp_path, "deploy.json", json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:1",
                                                        "env": [{"name": "GH", "value": token}]}]}}}},
        indent=2))
    found = secret_findings(scan(tmp_path))
    assert where(found) == [("deploy.json", 17, "secret-github-token", "spec.template.spec.containers[0].env[0].value")]


def test_gcp_service_account_key_file(tmp_path: Path) -> None:
    put(tmp_path, "sa.json", json.dumps({"type": "service_account", "project_id": "demo",
                                         "private_key_id": "abc", "private_key": pem_private_key("PRIVATE KEY"),
                                         "client_email": "x@demo.iam.gserviceaccount.com"}, indent=2))
    found = secret_findings(scan(tmp_path))
    assert where(found) == [("sa.json", 5, "secret-gcp-service-account", "private_key")]
