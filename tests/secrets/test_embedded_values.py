"""Values that hold configuration: a template marker excuses only its own line, and one-line JSON
or ``.env`` values are judged entry by entry (both found by an audit through the real CLI)."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import run_cli, run_json

PASSWORD = "Xk9mQ2vLp8RtZw4NsY7b"
AWS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKZ"


def _secrets(report: dict[str, Any]) -> list[tuple[str, int, str, str]]:
    return sorted((f["path"], f["line"], f["rule"], f["field"]) for f in report["findings"]
                  if f["check"] == "secrets")


def test_a_placeholder_line_does_not_hide_literal_credentials_on_other_lines(
        tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    for kind, field in (("Secret", "stringData"), ("ConfigMap", "data")):
        write(f"{kind}.yaml", f"""
            apiVersion: v1
            kind: {kind}
            metadata: {{name: app}}
            {field}:
              application.properties: |
                spring.datasource.url=${{DB_URL}}
                spring.datasource.password={PASSWORD}
                aws.secret.key={{{{ .Values.unused }}}}
                aws_secret_access_key={AWS_KEY}
            """)
    code, report = run_json(str(tmp_path), "--checks", "secrets")
    assert code == 1 and report["errors"] == []
    found = _secrets(report)
    prop = "['application.properties']"
    assert ("Secret.yaml", 7, "secret-k8s-secret", f"stringData{prop}['spring.datasource.password']") in found
    assert ("Secret.yaml", 9, "secret-k8s-secret", f"stringData{prop}.aws_secret_access_key") in found
    assert ("ConfigMap.yaml", 7, "secret-keyword-entropy", f"data{prop}['spring.datasource.password']") in found
    assert ("ConfigMap.yaml", 9, "secret-aws-secret-key", f"data{prop}.aws_secret_access_key") in found
    assert not [f for f in found if f[1] in (6, 8)], "the template lines themselves are excused"


def test_a_binary_secret_value_whose_base64_contains_ref_plus_is_judged_like_any_other(
        tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    tail = bytes(random.Random(7).randrange(256) for _ in range(54))
    blobs = {name: base64.b64encode(b"\xff\xfe\x00" + group + tail).decode()  # not UTF-8: binary data
             for name, group in (("with", base64.b64decode("ref+")), ("without", base64.b64decode("abc+")))}
    assert "ref+" in blobs["with"] and "ref+" not in blobs["without"]
    for name, blob in blobs.items():
        write(f"{name}.yaml", f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\ndata:\n  keystore: {blob}\n")
    code, report = run_json(str(tmp_path), "--checks", "secrets")
    found = _secrets(report)
    assert code == 1
    assert ("without.yaml", 5, "secret-k8s-secret", "data.keystore") in found
    assert ("with.yaml", 5, "secret-k8s-secret", "data.keystore") in found


def test_one_line_json_and_env_values_are_scanned_as_configuration(
        tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    document = json.dumps({"aws_secret_access_key": AWS_KEY, "region": "eu-west-1"})
    write("m/cm.yaml", f"""
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: app, namespace: default}}
        data:
          config.json: '{document}'
          app.env: 'DB_PASSWORD={PASSWORD}'
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: d, namespace: default}}
        spec:
          template:
            spec:
              containers:
              - name: c
                image: c:1
                env:
                - name: SPRING_APPLICATION_JSON
                  value: '{{"spring.datasource.password": "{PASSWORD[::-1]}"}}'
        """)
    code, report = run_json(str(tmp_path / "m"), "--checks", "secrets")
    assert code == 1 and report["errors"] == []
    assert _secrets(report) == [
        ("cm.yaml", 5, "secret-aws-secret-key", "data['config.json'].aws_secret_access_key"),
        ("cm.yaml", 6, "secret-keyword-entropy", "data['app.env'].DB_PASSWORD"),
        ("cm.yaml", 19, "secret-keyword-entropy",
         "spec.template.spec.containers[0].env[0].value['spring.datasource.password']")]
    # a policy printing its whole input sees the value masked, in every output format
    write("pol/echo.rego", 'package main\nimport rego.v1\n'
          'deny contains msg if { input.kind == "ConfigMap"; msg := sprintf("object %v", [input]) }\n')
    for fmt in ("json", "sarif", "text", "junit", "github", "markdown"):
        code, out = run_cli("check", str(tmp_path / "m"), "--policy", str(tmp_path / "pol"), "--format", fmt)
        assert code == 1 and "policy/main/deny" in out
        assert AWS_KEY not in out and PASSWORD not in out and PASSWORD[::-1] not in out
