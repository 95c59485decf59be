"""Configuration errors name the key and its line and say what is wrong, never the value: a salt
that is too short was echoed back (found by an audit through the real CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

SECRET = "S3cr3tV"  # 7 characters: one short of the salt's minimum


@pytest.mark.parametrize(("body", "line", "said"), [
    (f"checks:\n  secrets:\n    salt: {SECRET}\n", 3, "checks.secrets.salt: must be at least 8 characters long"),
    (f"kubernetes_version: {SECRET}\n", 1, "kubernetes_version: must match"),
    (f"max_file_size: {SECRET}\n", 1, "max_file_size: cannot read the size"),
    (f"max_file_size: {{a: {SECRET}}}\n", 1, "max_file_size: matches none of the allowed forms"),
    (f"version: {SECRET}\n", 1, "version: this gatekeeper reads config version 1"),
    (f"waivers:\n  - {{rule: x, reason: r, expires: {SECRET}}}\n", 2, "waivers.0.expires: must match"),
    (f"waivers:\n  - {{rule: x, reason: ''}}\n  - {{rule: {SECRET}}}\n", 2, "waivers.0.reason: must not be blank"),
])
def test_config_errors_never_quote_the_value(tmp_path: Path, body: str, line: int, said: str) -> None:
    (tmp_path / ".gatekeeper.yaml").write_text(body)
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    code, out = run_cli("check", str(tmp_path))
    assert code == 2
    assert f".gatekeeper.yaml:{line}: {said}" in out
    assert SECRET not in out


@pytest.mark.parametrize(("body", "line", "said"), [
    ("checks:\n  policy:\n    timeout: .inf\n", 3, "checks.policy.timeout: must be a finite number"),
    ("checks:\n  policy:\n    timeout: .nan\n", 3, "checks.policy.timeout: must be a finite number"),
    ("checks:\n  policy:\n    opa_timeout: -.inf\n", 3, "checks.policy.opa_timeout: must be a finite number"),
    ("checks:\n  kyverno:\n    budget: .inf\n", 3, "checks.kyverno.budget: must be a finite number"),
    ("rules:\n  replicas-minimum:\n    options: {minimum: .NaN}\n", 3,
     "rules.replicas-minimum.options.minimum: must be a finite number"),
    ("waivers:\n  - {rule: '*', reason: ' '}\n", 2, "waivers.0.reason: must not be blank"),
    ("waivers:\n  - rule: '*'\n    reason: \"\\t\\n\"\n", 3, "waivers.0.reason: must not be blank"),
    ("waivers:\n  - {rule: '*', reason: r, owner: '  '}\n", 2, "waivers.0.owner: must not be blank"),
])
def test_non_finite_limits_and_blank_reasons_are_config_errors(tmp_path: Path, body: str, line: int,
                                                                said: str) -> None:
    (tmp_path / ".gatekeeper.yaml").write_text("version: 1\n" + body)
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: b}\n")
    code, out = run_cli("check", str(tmp_path))
    assert code == 2, out
    assert f".gatekeeper.yaml:{line + 1}: {said}" in out, out


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0"])
def test_the_policy_timeout_option_is_a_finite_positive_number(tmp_path: Path, value: str) -> None:
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: b}\n")
    code, _ = run_cli("check", str(tmp_path), "--policy-timeout", value)
    assert code == 2
