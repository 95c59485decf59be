"""A Secret's data and stringData: every literal is a committed credential except references filled
in at deploy time and empty values; placeholder-looking values are weak credentials
(``secret-weak-placeholder``, a warning) rather than silently dropped."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import run_json

Write = Callable[[str, str], Path]

SECRET = """
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: shop
stringData:
  password: password
  admin-password: mypassword
  root-password: changeme
  api-token: <your-token>
  masked-password: "********"
  from-env: ${DB_PASSWORD}
  from-vault: <path:secret/data/db#password>
  bank-vaults: vault:secret/data/db#password
  vals: ref+vault://secret/db#/password
  empty-password: ""
  weak-literal: hunter2
  pin-password: "1234"
  replicas: "3"
  tls-enabled: "true"
data:
  encoded-password: {encoded}
"""


def test_every_literal_counts_and_placeholders_are_weak(write: Write, tmp_path: Path) -> None:
    write("secret.yaml", SECRET.replace("{encoded}", base64.b64encode(b"changeme").decode()))
    code, report = run_json(str(tmp_path), "--checks", "secrets")
    found = sorted((f["line"], f["rule"], f["severity"]) for f in report["findings"])
    weak, error = ("secret-weak-placeholder", "warning"), ("secret-k8s-secret", "error")
    assert found == [(7, *weak), (8, *weak), (9, *weak), (10, *weak), (11, *weak),
                     (17, *error), (18, *error), (22, *weak)]
    assert code == 1
    text = json.dumps(report)
    for value in ("hunter2", "mypassword", "changeme"):
        assert value not in text


def test_weak_placeholders_alone_are_warnings(write: Write, tmp_path: Path) -> None:
    write("secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: changeme\n")
    code, report = run_json(str(tmp_path), "--checks", "secrets")
    assert [(f["rule"], f["line"]) for f in report["findings"]] == [("secret-weak-placeholder", 6)]
    assert code == 0
    code, _ = run_json(str(tmp_path), "--checks", "secrets", "--fail-on", "warning")
    assert code == 1


def test_secret_generator_literals_follow_the_same_rule(write: Write, tmp_path: Path) -> None:
    write("kustomization.yaml", """
        secretGenerator:
          - name: db
            literals:
              - password=changeme
              - url=${DB_URL}
              - token=s3cr3t-t0ken
        """)
    code, report = run_json(str(tmp_path), "--checks", "secrets")
    found = sorted((f["rule"], f["line"]) for f in report["findings"])
    assert found == [("secret-kustomize-generator", 6), ("secret-weak-placeholder", 4)] and code == 1
