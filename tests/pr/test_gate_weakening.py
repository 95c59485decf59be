"""A run that checked nothing does not pass, and a change that makes the gate check less is
reported: a pull request could otherwise switch the gate off in the same change (found by an
audit through the real CLI and real git)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gatekeeper.checks import names
from tests.conftest import run_cli, run_json
from tests.pr.conftest import BAD_CM, GOOD_CM, Repo

ALL_OFF = "checks:\n" + "".join(f"  {c}: {{enabled: false}}\n" for c in names())


@pytest.mark.parametrize(("config", "why"), [
    ('exclude: ["**"]\n', "no file was read"),
    (ALL_OFF, "no check ran"),
])
def test_a_run_that_checked_nothing_exits_2_unless_allowed(tmp_path: Path, config: str, why: str) -> None:
    (tmp_path / ".gatekeeper.yaml").write_text(config)
    (tmp_path / "cm.yaml").write_text(BAD_CM.format(name="a"))
    code, report = run_json(str(tmp_path))
    assert code == 2 and report["findings"] == []
    (error,) = report["errors"]
    assert error["check"] == "pipeline" and error["message"].startswith(f"nothing was checked: {why}")
    assert "--allow-empty" in error["message"]
    code, report = run_json(str(tmp_path), "--allow-empty")
    assert code == 0 and report["errors"] == []


def test_an_empty_directory_is_nothing_checked(tmp_path: Path) -> None:
    code, out = run_cli("check", str(tmp_path))
    assert code == 2 and "nothing was checked: no file was read" in out


def test_a_change_that_weakens_the_configuration_is_an_error_at_its_lines(repo: Repo) -> None:
    repo.write(".gatekeeper.yaml", "fail_on: warning\nchecks:\n  secrets: {enabled: true}\n")
    repo.write("apps/a.yaml", GOOD_CM.format(name="a"))
    repo.commit("base")
    repo.write(".gatekeeper.yaml", """
        fail_on: error
        checks:
          secrets: {enabled: false}
        rules:
          image-latest: {enabled: false}
          privileged-container: {severity: info}
        exclude: [apps/legacy/**]
        waivers:
          - {rule: schema-type, reason: later}
        """)
    repo.write("apps/b.yaml", BAD_CM.format(name="b"))
    repo.commit("head")
    code, out = run_cli("check", "--base", "HEAD~1", "--format", "json", str(repo.path))
    report = json.loads(out)
    weakened = sorted((f["path"], f["line"], f["field"], f["severity"]) for f in report["findings"]
                      if f["rule"] == "config-weakened")
    assert weakened == [(".gatekeeper.yaml", 1, "fail_on", "error"),
                        (".gatekeeper.yaml", 3, "checks.secrets.enabled", "error"),
                        (".gatekeeper.yaml", 5, "rules.image-latest.enabled", "error"),
                        (".gatekeeper.yaml", 6, "rules.privileged-container.severity", "error"),
                        (".gatekeeper.yaml", 7, "exclude[0]", "error"),
                        (".gatekeeper.yaml", 9, "waivers[0]", "error")]
    messages = " | ".join(f["message"] for f in report["findings"] if f["rule"] == "config-weakened")
    assert "switches the secrets check off" in messages and "adds a waiver for schema-type" in messages
    assert code == 1  # an error in a pull request, whatever the change does to fail_on


def test_an_unchanged_or_stricter_configuration_says_nothing(repo: Repo) -> None:
    repo.write(".gatekeeper.yaml", "checks:\n  secrets: {enabled: false}\n")
    repo.write("apps/a.yaml", GOOD_CM.format(name="a"))
    repo.commit("base")
    repo.write(".gatekeeper.yaml", "fail_on: warning\nchecks:\n  secrets: {enabled: true}\n")
    repo.write("apps/b.yaml", GOOD_CM.format(name="b"))
    repo.commit("head")
    code, report = run_json("--base", "HEAD~1", str(repo.path))
    assert [f for f in report["findings"] if f["rule"] == "config-weakened"] == []
    assert code == 0


def test_disabling_every_check_in_a_pull_request_does_not_pass(repo: Repo) -> None:
    repo.write("apps/a.yaml", GOOD_CM.format(name="a"))
    repo.commit("base")
    repo.write(".gatekeeper.yaml", ALL_OFF)
    repo.write("apps/b.yaml", BAD_CM.format(name="b"))
    repo.commit("head")
    code, report = run_json("--base", "HEAD~1", str(repo.path))
    assert code == 2 and "nothing was checked: no check ran" in report["errors"][0]["message"]
    fields = {f["field"] for f in report["findings"] if f["rule"] == "config-weakened"}
    assert {"checks.schema.enabled", "checks.lint.enabled", "checks.secrets.enabled"} <= fields
