"""No report shows a credential, whichever check quotes it: the manifest fuzzer found tokens written
as an object's name, as a port name, as a waiver reason and in a field a Service's schema does not
have reaching the output (through the resource reference, lint's message, the waiver and a policy
that prints its input)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, fields, is_dataclass, replace
from pathlib import Path
from types import UnionType
from typing import Any, Union, cast, get_args, get_origin, get_type_hints

from gatekeeper.checks.secrets.masking import Masker
from gatekeeper.model import CheckError, Finding, Report, Severity
from gatekeeper.report import RenderOptions, render
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


def _planted_in_every_field(cls: type[Any], token: str) -> Any:
    """An instance of a report dataclass with the token in every string it holds, however deep
    (resource identity, rule id, origin, units, waiver...): a field added later is planted too."""
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for item in fields(cls):
        values[item.name] = _planted_value(hints[item.name], f"{item.name}:{token}")
    return cls(**values)


def _planted_value(hint: Any, text: str) -> Any:
    args = [a for a in get_args(hint) if a is not type(None)]
    if hint is str:
        return text
    if hint is bool:
        return False
    if hint is int:
        return 3
    if hint is Severity:
        return Severity.ERROR
    if get_origin(hint) is tuple:
        return tuple(_planted_value(a, text) for a in args if a is not Ellipsis)
    if get_origin(hint) in (Union, UnionType):
        return _planted_value(args[0], text)
    if is_dataclass(hint):
        return _planted_in_every_field(cast(type[Any], hint), text)
    raise AssertionError(f"no planted value for {hint!r}: extend the test with the new field type")


def test_every_text_of_a_finding_is_masked_in_every_format() -> None:
    token = planted(7)
    finding = replace(_planted_in_every_field(Finding, token), fingerprint="9f86d081884c7d65")  # a hash
    assert sum(token in str(v) for v in astuple(finding)) >= 10  # the planting reached every text field
    report = Report(findings=[finding], errors=[CheckError("policy", f"failed {token}", f"p/{token}.rego")],
                    notes=[f"note {token}"], subjects=[(f"a/{token}.yaml", f"ConfigMap/{token}")],
                    file_classes=[(f"a/{token}.yaml", "manifest", f"why {token}")], checks=["policy"])
    Masker(()).report(report)
    masked = report.findings[0]
    assert masked.fingerprint == finding.fingerprint  # a hash for tracking, kept
    options = RenderOptions(show_waived=True, verbose=True, explain_files=True)
    for fmt in FORMATS:
        out = render(report, fmt, options)
        assert token not in out and token[4:20] not in out, fmt
        assert "redacted" in out, fmt


def test_a_token_as_kind_or_kyverno_rule_name_is_masked_in_every_format(
        tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    as_kind, as_rule = "xoxb-123456789012-1234567890123-" + planted(1)[4:28], \
        "xoxb-223456789012-2234567890123-" + planted(2)[4:28]
    write("m/a.yaml", f"""
        apiVersion: example.com/v1
        kind: {as_kind}
        metadata: {{name: thing, namespace: shop}}
        ---
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata: {{name: pol}}
        spec:
          validationFailureAction: Enforce
          rules:
            - name: {as_rule}
              match: {{any: [{{resources: {{kinds: [ConfigMap]}}}}]}}
              validate: {{message: "no", pattern: {{metadata: {{labels: {{team: "?*"}}}}}}}}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: c, namespace: shop}}
        data: {{a: b}}
        """)
    for fmt in FORMATS:
        code, out = run_cli("check", str(tmp_path / "m"), "--format", fmt)
        assert code == 1, out
        assert as_kind[32:] not in out and as_rule[32:] not in out, fmt
        if fmt == "text":
            assert "a.yaml:2:" in out and "[<redacted>/shop/thing]" in out, out
            assert "kyverno/pol/<redacted>" in out, out


def test_a_token_as_an_added_capability_is_quoted_as_written_and_masked(
        tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    token = planted(11)
    write("m/pod.yaml", f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: p, namespace: shop}}
        spec:
          containers:
          - name: c
            image: nginx:1.25
            securityContext:
              capabilities:
                drop: [ALL]
                add: [{token}, chown, cap_sys_admin]
        """)
    code, out = run_cli("check", str(tmp_path / "m"), "--checks", "lint,secrets", "--no-hints")
    assert code == 1, out
    assert token.lower() not in out.lower(), out
    assert "pod.yaml:11:" in out and "adds capability <redacted>, which is not in the allowed set" in out, out
    assert "adds capability chown, which is not in the allowed set" in out, out
    assert "adds capability cap_sys_admin" in out, out
