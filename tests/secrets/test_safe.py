"""Safe by construction: encrypted, referenced, templated and public values are never reported."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from gatekeeper.checks.secrets.keys import KeyKind, classify
from gatekeeper.checks.secrets.values import is_identifier_hash, looks_random, safe_value
from tests.secrets.fakes import chars, password, scan, secret_findings


def put(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text, encoding="utf-8")


def _b64(n: int) -> str:
    return base64.b64encode(bytes(range(256))[:n] * 2).decode()


def test_sealed_sops_external_and_reference_documents(tmp_path: Path) -> None:
    recipient = chars("qpzry9x8gf2tvdw0s3jn54khce6mua7l", 58)
    enc = f"ENC[AES256_GCM,data:{_b64(24)},iv:{_b64(32)},tag:{_b64(16)},type:str]"
    put(tmp_path, "sealed.yaml", "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: db\n"
                                 f"spec:\n  encryptedData:\n    password: AgB{_b64(200)}\n"
                                 "  template:\n    metadata:\n      name: db\n")
    put(tmp_path, "sops.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n"
                               f"stringData:\n  password: {enc}\n"
                               f"sops:\n  mac: {enc}\n  age:\n    - recipient: age1{recipient}\n"
                               "      enc: |\n        -----BEGIN AGE ENCRYPTED FILE-----\n"
                               f"        {_b64(60)}\n        -----END AGE ENCRYPTED FILE-----\n"
                               "  version: 3.8.1\n")
    put(tmp_path, "values.sops.yaml", f"db:\n  password: {enc}\nsops:\n  mac: {enc}\n")
    put(tmp_path, "external.yaml", """apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata:
  name: db
spec:
  secretStoreRef: {name: vault, kind: ClusterSecretStore}
  target: {name: db-credentials}
  data:
    - secretKey: password
      remoteRef: {key: secret/data/db, property: password}
""")
    put(tmp_path, "sa-token.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: build-robot\n"
                                   "  annotations:\n    kubernetes.io/service-account.name: build-robot\n"
                                   "type: kubernetes.io/service-account-token\n")
    put(tmp_path, "empty.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: e\ndata:\n"
                                "  password: \"\"\n  username: \"\"\n")
    put(tmp_path, "tls.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ca\nstringData:\n"
                              "  ca.crt: |\n    -----BEGIN CERTIFICATE-----\n    MIIBszCCAVmgAwIBAgIU\n"
                              "    -----END CERTIFICATE-----\n")
    assert secret_findings(scan(tmp_path)) == []


@pytest.mark.parametrize("value", [
    "${DB_PASSWORD}", "$(DB_PASSWORD)", "{{ .Values.password }}", "{{ required \"x\" .Values.pw }}",
    "<path:secret/data/db#password>", "vault:secret/data/db#password", "ref+vault://secret/db#/password",
    "<your-password>", "INSERT_ETCD_DISCOVERY_TOKEN", "GOOGLE_API_KEY_VAL", "yourpassword", "********",
    "", "true", "12345", "/run/secrets/db-password", "changeme",
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
])
def test_placeholders_and_references_are_safe(value: str) -> None:
    assert safe_value(value, "DB_PASSWORD")


@pytest.mark.parametrize("value", ["sha256:" + "ab" * 32, "0f8fad5b-d9cb-469f-a165-70867728950e",
                                   "a" * 40, "my-application-name", "Hello world, a sentence"])
def test_identifiers_do_not_look_random(value: str) -> None:
    assert not looks_random(value) or is_identifier_hash(value)


@pytest.mark.parametrize(("name", "kind"), [
    ("DB_PASSWORD", KeyKind.CREDENTIAL), ("API_TOKEN", KeyKind.CREDENTIAL), ("SECRET_KEY", KeyKind.CREDENTIAL),
    ("AWS_SECRET_ACCESS_KEY", KeyKind.CREDENTIAL), ("client-secret", KeyKind.CREDENTIAL),
    ("existingSecret", KeyKind.REFERENCE), ("secretName", KeyKind.REFERENCE),
    ("existingSecretPasswordKey", KeyKind.REFERENCE), ("adminPasswordSecretKey", KeyKind.OTHER),
    ("passwordKey", KeyKind.OTHER), ("DB_PASSWORD_FILE", KeyKind.REFERENCE),
    ("PASSWORD_MIN_LENGTH", KeyKind.REFERENCE), ("TOKEN_URL", KeyKind.REFERENCE),
    ("username", KeyKind.PUBLIC), ("ca.crt", KeyKind.PUBLIC), ("tls.crt", KeyKind.PUBLIC),
])
def test_key_names(name: str, kind: KeyKind) -> None:
    assert classify(name) is kind


def test_keys_that_only_name_a_secret_are_not_flagged(tmp_path: Path) -> None:
    put(tmp_path, "values.yaml", "auth:\n  existingSecret: db-credentials\n  secretKeys:\n"
                                 "    adminPasswordKey: postgres-password\n  passwordKey: Password-Key-2024\n"
                                 f"image:\n  digest: sha256:{'ab' * 32}\n")
    assert secret_findings(scan(tmp_path)) == []


def test_weak_or_word_values_under_credential_keys_in_config_are_not_entropy_findings(tmp_path: Path) -> None:
    put(tmp_path, "values.yaml", "password: correcthorse\nadminPassword: this is not a password at all\n"
                                 f"token: \"{password()}\"\n")
    found = secret_findings(scan(tmp_path))
    assert [(f.line, f.rule) for f in found] == [(3, "secret-keyword-entropy")]
