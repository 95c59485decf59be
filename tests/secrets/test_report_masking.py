"""No report shows a credential, whichever check quotes it: the manifest fuzzer found tokens written
as an object's name, as a port name, as a waiver reason and in a field a Service's schema does not
have reaching the output (through the resource reference, lint's message, the waiver and a policy
that prints its input)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import run_cli
from tests.fuzz.seeds import planted

FORMATS = ("text", "json", "sarif", "junit", "github", "markdown")


def test_tokens_anywhere_in_a_manifest_never_reach_any_report(tmp_path: Path,
                                                              write: Callable[[str, str], Path]) -> None:
    as_name, as_port, as_reason, in_service = (planted(n) for n in range(4))
    write("m/a.yaml", f"""
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: {as_name}}}
        data: {{a: b}}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: p
          annotations:
            gatekeeper.io/ignore: image-latest
            gatekeeper.io/ignore-reason: {as_reason}
        spec:
          containers:
          - name: c
            image: nginx:latest
            ports: [{{containerPort: 80, name: http}}]
            readinessProbe: {{httpGet: {{port: {as_port}}}}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {{name: web}}
        spec: {{ports: [{{port: 80}}]}}
        password: {in_service}
        """)
    write("pol/echo.rego", 'package main\nimport rego.v1\n'
          'deny contains msg if { input.kind; msg := sprintf("object %v", [input]) }\n')
    for fmt in FORMATS:
        code, out = run_cli("check", str(tmp_path / "m"), "--policy", str(tmp_path / "pol"), "--format", fmt,
                            "--show-waived")
        assert code == 1, out
        for token in (as_name, as_port, as_reason, in_service):
            assert token not in out, (fmt, token[:8])
