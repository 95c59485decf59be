"""The bundled demo repository: the README's main command and its expected findings."""

from __future__ import annotations

from tests.conftest import PROJECT, run_json, run_subprocess

DEMO = PROJECT / "examples" / "demo-repo"


def test_demo_schema_findings_at_their_lines() -> None:
    code, report = run_json(str(DEMO), "--checks", "schema")
    assert code == 1
    got = sorted((f["path"], f["line"], f["rule"], f["field"]) for f in report["findings"])
    assert got == [
        ("apps/billing/cronjob.yaml", 2, "removed-api", "apiVersion"),
        ("apps/shop/cart/deployment.yaml", 11, "schema-type", "spec.replicas"),
        ("apps/shop/cart/deployment.yaml", 27, "schema-unknown-field",
         "spec.template.spec.containers[0].imagePullPolicyy"),
        ("apps/shop/cart/deployment.yaml", 32, "schema-required", "spec.template.spec.containers[1].name"),
        ("apps/shop/widgets.yaml", 17, "schema-value", "spec.size"),
        ("apps/shop/widgets.yaml", 18, "schema-value", "spec.colour"),
        ("apps/shop/widgets.yaml", 19, "schema-unknown-field", "spec.shape"),
    ]
    assert report["summary"]["resources"] == 11


def test_demo_through_the_real_command_exits_1() -> None:
    proc = run_subprocess("check", str(DEMO))
    assert proc.returncode == 1, proc.stderr
    assert "apps/shop/cart/deployment.yaml:11:3 error" in proc.stdout
    assert "FAILED" in proc.stdout.splitlines()[-1]
