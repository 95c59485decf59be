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
    assert report["summary"]["resources"] == 19  # 12 files' objects, the overlay's 2, the charts' 2 + 2 + 1 App


def test_demo_errors_of_every_check_at_their_lines() -> None:
    code, report = run_json(str(DEMO))
    assert code == 1 and report["errors"] == []
    assert report["summary"]["checks"] == ["schema", "lint", "secrets", "policy"]
    errors = sorted((f["path"], f["line"], f["check"], f["rule"]) for f in report["findings"]
                    if f["severity"] == "error")
    assert errors == [
        ("apps/billing/cronjob.yaml", 2, "schema", "removed-api"),
        ("apps/billing/cronjob.yaml", 18, "policy", "policy/K8sAllowedRepos/images-from-our-registry"),
        ("apps/billing/deployment.yaml", 28, "secrets", "secret-env-literal"),
        ("apps/billing/deployment.yaml", 30, "lint", "privileged-container"),
        ("apps/payments/overlays/prod/debug-patch.yaml", 12, "lint", "privileged-container"),
        ("apps/payments/overlays/prod/kustomization.yaml", 8, "lint", "image-latest"),
        ("apps/shop/cart/deployment.yaml", 11, "schema", "schema-type"),
        ("apps/shop/cart/deployment.yaml", 26, "lint", "image-latest"),
        ("apps/shop/cart/deployment.yaml", 27, "schema", "schema-unknown-field"),
        ("apps/shop/cart/deployment.yaml", 32, "schema", "schema-required"),
        ("apps/shop/frontend/lb.yaml", 2, "policy", "policy/main/deny"),
        ("apps/shop/frontend/lb.yaml", 4, "policy", "policy/K8sRequiredLabels/every-object-has-a-team"),
        ("apps/shop/widgets.yaml", 17, "schema", "schema-value"),
        ("apps/shop/widgets.yaml", 18, "schema", "schema-value"),
        ("apps/shop/widgets.yaml", 19, "schema", "schema-unknown-field"),
        ("charts/api/values-prod.yaml", 4, "lint", "privileged-container"),
    ]
    text = (DEMO / "apps" / "billing" / "deployment.yaml").read_text()
    password = text.split("DB_PASSWORD")[1].split('"')[1]
    assert password not in str(report)


def test_demo_rendered_findings_point_at_source_lines() -> None:
    """The overlay and the chart: findings in what they render, at the lines that set the values."""
    _, report = run_json(str(DEMO))
    rendered = {(f["path"], f["line"], f["rule"]): f for f in report["findings"] if f["unit"]}
    patch = rendered[("apps/payments/overlays/prod/debug-patch.yaml", 12, "privileged-container")]
    assert patch["unit"] == ["apps/payments/overlays/prod"]
    assert {"path": "apps/payments/base/deployment.yaml", "line": 2, "role": "base"} in patch["origin"]
    chart = rendered[("charts/api/values-prod.yaml", 4, "privileged-container")]
    assert {"path": "charts/api/templates/deployment.yaml", "line": 29, "role": "template"} in chart["origin"]
    assert any("rendered 3 of 3 deployment unit(s)" in n for n in report["notes"])


def test_demo_clean_workload_has_no_error() -> None:
    _, report = run_json(str(DEMO))
    assert [f for f in report["findings"] if f["path"].startswith("apps/shop/frontend/deployment")
            and f["severity"] == "error"] == []


def test_demo_through_the_real_command_exits_1() -> None:
    proc = run_subprocess("check", str(DEMO))
    assert proc.returncode == 1, proc.stderr
    assert "apps/shop/cart/deployment.yaml:11:3 error" in proc.stdout
    assert "FAILED" in proc.stdout.splitlines()[-1]
