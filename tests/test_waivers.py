"""Waivers: object annotations and config entries, with reasons, owners and expiry on a fixed clock."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from gatekeeper import config as config_mod
from gatekeeper.checks import catalogue
from gatekeeper.model import Rule, Severity
from gatekeeper.pipeline import Run, execute
from gatekeeper.waivers import WAIVER_RULES
from tests.conftest import run_json
from tests.lint.helpers import line_of, of_rule, run

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  annotations:
    gatekeeper.io/ignore: "image-latest, host-network"
    gatekeeper.io/ignore-reason: "vendor demo image, replaced in Q3"
{extra}spec:
  hostNetwork: true
  containers:
    - name: web
      image: nginx:latest
"""
DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
      annotations:
        gatekeeper.io/ignore: privileged-container
        gatekeeper.io/ignore-reason: "needs raw device access"
    spec:
      containers:
        - name: api
          image: registry.example.com/api:1.0.0
          securityContext: {privileged: true}
"""


def test_object_annotation_waives_listed_rules_only(tmp_path: Path) -> None:
    text = POD.format(extra="")
    report = run(tmp_path, {"pod.yaml": text})
    for rule in ("image-latest", "host-network"):
        [f] = of_rule(report, rule)
        assert f.waived is not None and f.waived.reason == "vendor demo image, replaced in Q3"
        assert f.waived.source == f"annotation gatekeeper.io/ignore (pod.yaml:{line_of(text, 'ignore:')})"
    assert all(f.waived is None for f in of_rule(report, "cpu-requests"))
    assert report.passed and report.exit_code == 0  # every error is waived, the rest are warnings


def test_pod_template_annotation_waives_the_workload(tmp_path: Path) -> None:
    [f] = of_rule(run(tmp_path, {"d.yaml": DEPLOY}), "privileged-container")
    assert f.waived is not None and f.waived.reason == "needs raw device access"


def test_annotation_without_reason_is_a_finding_and_waives_nothing(tmp_path: Path) -> None:
    reason = '    gatekeeper.io/ignore-reason: "vendor demo image, replaced in Q3"\n'
    text = POD.format(extra="").replace(reason, "")
    report = run(tmp_path, {"pod.yaml": text})
    [missing] = of_rule(report, "waiver-missing-reason")
    assert (missing.path, missing.line) == ("pod.yaml", line_of(text, "ignore:"))
    assert missing.severity == Severity.ERROR
    assert missing.resource is not None and missing.resource.name == "web"
    assert of_rule(report, "image-latest")[0].waived is None
    assert report.exit_code == 1


def test_annotation_expiry_on_a_fixed_clock(tmp_path: Path) -> None:
    text = POD.format(extra='    gatekeeper.io/ignore-expires: "2026-03-31"\n'
                            "    gatekeeper.io/ignore-owner: team-shop\n")
    last_day = run(tmp_path / "a", {"pod.yaml": text}, today=dt.date(2026, 3, 31))
    [f] = of_rule(last_day, "image-latest")
    assert f.waived is not None and f.waived.expires == "2026-03-31" and f.waived.owner == "team-shop"
    assert of_rule(last_day, "waiver-expired") == []
    after = run(tmp_path / "b", {"pod.yaml": text}, today=dt.date(2026, 4, 1))
    [expired] = of_rule(after, "waiver-expired")
    assert expired.line == line_of(text, "ignore-expires")
    assert "expired on 2026-03-31" in expired.message and "owner: team-shop" in expired.message
    assert of_rule(after, "image-latest")[0].waived is None and after.exit_code == 1


def test_unreadable_annotation_expiry_waives_nothing(tmp_path: Path) -> None:
    text = POD.format(extra='    gatekeeper.io/ignore-expires: "next spring"\n')
    report = run(tmp_path, {"pod.yaml": text})
    [invalid] = of_rule(report, "waiver-invalid")
    assert invalid.line == line_of(text, "ignore-expires")
    assert of_rule(report, "image-latest")[0].waived is None


def _config(tmp_path: Path, body: str) -> config_mod.Config:
    path = tmp_path / ".gatekeeper.yaml"
    path.write_text(textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
    return config_mod.load(path, catalogue())


CONFIG = """
waivers:
  - rule: image-latest
    match: {path: "apps/**", kind: Pod, namespace: shop, name: "we*"}
    reason: "pinned by the vendor's chart"
    owner: platform-team
    expires: "2026-06-30"
  - rule: [host-network, privileged-container]
    match: {name: nothing-is-called-this}
    reason: "left over"
    owner: team-old
  - rule: cpu-requests
    reason: "old waiver"
    owner: team-x
    expires: "2026-01-01"
"""


def _execute(root: Path, cfg: config_mod.Config, today: dt.date, checks: list[str] | None = None) -> Run:
    return Run(root=root, paths=[root], config=cfg, checks=checks or ["lint"], today=today)


def test_config_waivers_match_expire_and_go_unused(tmp_path: Path) -> None:
    text = POD.format(extra="").replace("    gatekeeper.io/ignore:", "    x-ignore:")
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "pod.yaml").write_text(textwrap.dedent(text).lstrip("\n"))
    cfg = _config(tmp_path, CONFIG)
    report = execute(_execute(tmp_path, cfg, dt.date(2026, 5, 1)))
    [latest] = of_rule(report, "image-latest")
    assert latest.waived is not None and latest.waived.source == ".gatekeeper.yaml:2 (waivers[0])"
    assert latest.waived.expires == "2026-06-30" and latest.waived.owner == "platform-team"
    [expired] = of_rule(report, "waiver-expired")
    assert (expired.path, expired.line) == (".gatekeeper.yaml", line_of(CONFIG, "- rule: cpu-requests"))
    assert "owner: team-x" in expired.message
    assert all(f.waived is None for f in of_rule(report, "cpu-requests"))
    [unused] = of_rule(report, "waiver-unused")
    assert (unused.line, unused.severity) == (line_of(CONFIG, "- rule: [host-network"), Severity.WARNING)
    assert of_rule(report, "host-network")[0].waived is None


def test_config_waiver_match_fields_narrow_it(tmp_path: Path) -> None:
    text = POD.format(extra="").replace("    gatekeeper.io/ignore:", "    x-ignore:")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "pod.yaml").write_text(textwrap.dedent(text).lstrip("\n"))
    cfg = _config(tmp_path, CONFIG)
    report = execute(_execute(tmp_path, cfg, dt.date(2026, 5, 1)))
    assert of_rule(report, "image-latest")[0].waived is None  # path glob apps/** does not match
    assert len(of_rule(report, "waiver-unused")) == 2


def test_waiver_after_expiry_stops_waiving(tmp_path: Path) -> None:
    text = POD.format(extra="").replace("    gatekeeper.io/ignore:", "    x-ignore:")
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "pod.yaml").write_text(textwrap.dedent(text).lstrip("\n"))
    cfg = _config(tmp_path, CONFIG)
    report = execute(_execute(tmp_path, cfg, dt.date(2026, 7, 1)))
    assert of_rule(report, "image-latest")[0].waived is None
    assert {"owner: platform-team" in f.message for f in of_rule(report, "waiver-expired")} == {True, False}


def test_config_path_globs_follow_include_semantics(tmp_path: Path) -> None:
    text = POD.format(extra="").replace("    gatekeeper.io/ignore:", "    x-ignore:")
    (tmp_path / "apps" / "deep").mkdir(parents=True)
    (tmp_path / "apps" / "deep" / "pod.yaml").write_text(textwrap.dedent(text).lstrip("\n"))
    cfg = _config(tmp_path, """
        waivers:
          - rule: "*"
            match: {path: "pod.yaml"}
            reason: "a bare file name matches at any depth"
        """)
    report = execute(_execute(tmp_path, cfg, dt.date(2026, 5, 1)))
    lint = [f for f in report.findings if f.check == "lint"]
    assert lint and all(f.waived is not None for f in lint) and report.exit_code == 0


def test_config_waiver_with_an_unknown_rule_id_is_invalid(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    body = """
        waivers:
          - rule: [image-latst, policy/main/deny]
            reason: "typo"
        """
    report = execute(_execute(tmp_path, _config(tmp_path, body), dt.date(2026, 5, 1)))
    [invalid] = of_rule(report, "waiver-invalid")
    assert (invalid.path, invalid.line) == (".gatekeeper.yaml", 2) and "image-latst" in invalid.message
    assert "policy/main/deny" not in invalid.message and report.exit_code == 1


def test_unused_is_not_reported_for_checks_that_did_not_run(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    cfg = _config(tmp_path, CONFIG)
    report = execute(_execute(tmp_path, cfg, dt.date(2026, 5, 1), checks=["schema"]))
    assert of_rule(report, "waiver-unused") == []


def test_waivers_apply_to_schema_findings(tmp_path: Path) -> None:
    text = """
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: settings
      labell: {}
      annotations:
        gatekeeper.io/ignore: schema-unknown-field
        gatekeeper.io/ignore-reason: "read by an in-house controller"
    data: {a: b}
    """
    report = run(tmp_path, {"cm.yaml": text}, checks=("schema",))
    [f] = of_rule(report, "schema-unknown-field")
    assert f.line == line_of(text, "labell") and f.waived is not None and report.exit_code == 0


def test_waiver_rule_severity_can_be_configured(tmp_path: Path) -> None:
    text = POD.format(extra='    gatekeeper.io/ignore-expires: "2020-01-01"\n')
    report = run(tmp_path, {"pod.yaml": text}, rules={"waiver-expired": {"severity": "warning"}},
                 today=dt.date(2026, 1, 1))
    assert [f.severity for f in of_rule(report, "waiver-expired")] == [Severity.WARNING]


def test_json_report_shows_waived_findings(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(textwrap.dedent(POD.format(extra="")).lstrip("\n"))
    code, data = run_json(str(tmp_path), "--checks", "lint")
    assert code == 0
    [latest] = [f for f in data["findings"] if f["rule"] == "image-latest"]
    assert latest["waived"] == {"reason": "vendor demo image, replaced in Q3",
                                "source": "annotation gatekeeper.io/ignore (pod.yaml:7)", "expires": None}
    assert data["summary"]["waived"] == 2


@pytest.mark.parametrize("rule", [r for r in WAIVER_RULES if r.bad_example])
def test_waiver_rule_examples(rule: Rule, tmp_path: Path) -> None:
    checks = ("lint", "secrets")  # secrets: a wildcard waiver of a credential is refused
    bad = run(tmp_path / "bad", {"pod.yaml": rule.bad_example}, today=dt.date(2026, 11, 26), checks=checks)
    assert len(of_rule(bad, rule.id)) == 1 and of_rule(bad, "image-latest")[0].waived is None
    good = run(tmp_path / "good", {"pod.yaml": rule.good_example}, today=dt.date(2026, 11, 26), checks=checks)
    assert of_rule(good, rule.id) == [] and of_rule(good, "image-latest")[0].waived is not None


def test_list_items_are_waived_one_by_one(tmp_path: Path) -> None:
    text = """
    apiVersion: v1
    kind: List
    items:
      - apiVersion: v1
        kind: Pod
        metadata:
          name: a
          annotations: {gatekeeper.io/ignore: image-latest, gatekeeper.io/ignore-reason: pinned upstream}
        spec:
          containers: [{name: a, image: "nginx:latest"}]
      - apiVersion: v1
        kind: Pod
        metadata: {name: b}
        spec:
          containers: [{name: b, image: "nginx:latest"}]
    """
    found = {f.resource.name: f for f in of_rule(run(tmp_path, {"list.yaml": text}), "image-latest") if f.resource}
    assert found["a"].waived is not None and found["b"].waived is None
    assert found["a"].line == line_of(text, 'name: a, image') and found["b"].line == line_of(text, 'name: b, image')


def test_waivers_apply_to_secrets_findings(tmp_path: Path) -> None:
    text = """
    apiVersion: v1
    kind: Secret
    metadata:
      name: db
      namespace: shop
      annotations:
        gatekeeper.io/ignore: "secret-k8s-secret"
        gatekeeper.io/ignore-reason: "test fixture credentials, used by no environment"
    stringData:
      password: "Zq8#vL2!pW9@xR4$tK7&"
    """
    report = run(tmp_path, {"secret.yaml": text}, checks=("secrets",))
    found = [f for f in report.findings if f.check == "secrets"]
    assert found and all(f.waived is not None for f in found) and report.exit_code == 0
    assert "Zq8#vL2" not in repr([f.waived for f in found])
    # a wildcard never waives a credential: it waives nothing and is an error at its line
    report = run(tmp_path / "wild", {"secret.yaml": text.replace('"secret-k8s-secret"', '"*"')}, checks=("secrets",))
    assert [(f.rule, f.line) for f in report.findings if f.waived is None] == [
        ("waiver-wildcard-secret", 7), ("secret-k8s-secret", 10)] and report.exit_code == 1
