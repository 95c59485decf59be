"""The CLI end to end: exit codes, formats, output files, colour, and failing closed."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from gatekeeper import checks as checks_mod
from gatekeeper.checks.base import Check, Context
from gatekeeper.model import Finding, Resource
from tests.conftest import run_cli, run_json, run_subprocess

Write = Callable[[str, str], Path]
GOOD = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\ndata:\n  k: v\n"
BAD = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  lables: {}\n"


def test_exit_codes_through_a_real_process(write: Write, tmp_path: Path) -> None:
    write("good/cm.yaml", GOOD)
    write("bad/cm.yaml", BAD)
    ok = run_subprocess("check", "--checks", "schema", str(tmp_path / "good"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = run_subprocess("check", "--checks", "schema", str(tmp_path / "bad"))
    assert bad.returncode == 1
    assert "cm.yaml:5:3 error   schema-unknown-field" in bad.stdout
    usage = run_subprocess("check", "--checks", "schema", "--fail-on", "sometimes", str(tmp_path))
    assert usage.returncode == 2
    missing = run_subprocess("check", str(tmp_path / "nope"))
    assert missing.returncode == 2


def test_unknown_check_is_exit_2(write: Write, tmp_path: Path) -> None:
    write("cm.yaml", GOOD)
    code, out = run_cli("check", "--checks", "schema,nosuch", str(tmp_path))
    assert code == 2 and "unknown check(s): nosuch" in out


def test_json_report_shape(write: Write, tmp_path: Path) -> None:
    write("cm.yaml", BAD)
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 1
    assert report["version"] == 1
    assert report["tool"]["name"] == "gitops-gatekeeper"
    assert report["summary"]["files"] == 1 and report["summary"]["resources"] == 1
    assert report["summary"]["findings"] == {"error": 1, "warning": 0, "info": 0}
    assert report["summary"]["passed"] is False
    (f,) = report["findings"]
    assert set(f) >= {"check", "rule", "severity", "message", "path", "line", "column", "end_line",
                      "resource", "field", "hint", "fingerprint", "waived"}
    assert (f["path"], f["line"], f["column"], f["field"], f["waived"]) == ("cm.yaml", 5, 3, "metadata.lables", None)


def test_fingerprint_is_stable_when_lines_move(write: Write, tmp_path: Path) -> None:
    write("cm.yaml", BAD)
    _, first = run_json(str(tmp_path), "--checks", "schema")
    write("cm.yaml", "# a comment\n\n" + BAD)
    _, second = run_json(str(tmp_path), "--checks", "schema")
    assert first["findings"][0]["line"] + 2 == second["findings"][0]["line"]
    assert first["findings"][0]["fingerprint"] == second["findings"][0]["fingerprint"]


def test_several_formats_and_output_file(write: Write, tmp_path: Path) -> None:
    write("m/cm.yaml", BAD)
    out_json = tmp_path / "out" / "r.json"
    code, text = run_cli("check", "--checks", "schema", str(tmp_path / "m"), "-f", "text",
                         "-f", f"json={out_json}")
    assert code == 1 and "schema-unknown-field" in text
    assert json.loads(out_json.read_text())["findings"][0]["rule"] == "schema-unknown-field"
    out_txt = tmp_path / "r.txt"
    code, text = run_cli("check", "--checks", "schema", str(tmp_path / "m"), "--output", str(out_txt))
    assert text == "" and "FAILED" in out_txt.read_text()
    code, text = run_cli("check", str(tmp_path / "m"), "-f", "text", "-f", "json")
    assert code == 2


def test_colour_only_when_asked_or_on_a_terminal(write: Write, tmp_path: Path) -> None:
    write("cm.yaml", BAD)
    _, plain = run_cli("check", "--checks", "schema", str(tmp_path))
    assert "\033[" not in plain
    _, colored = run_cli("check", "--checks", "schema", "--color", str(tmp_path))
    assert "\033[31m" in colored
    env = dict(os.environ, NO_COLOR="1")
    proc = run_subprocess("check", "--checks", "schema", str(tmp_path), env=env)
    assert "\033[" not in proc.stdout


class _Exploding(Check):
    name = "schema"  # stands in for a registered check so selection works unchanged

    def check_resource(self, resource: Resource, ctx: Context) -> Iterable[Finding]:
        raise RuntimeError("boom")


def test_a_crashing_check_fails_closed(write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write("apps/cm.yaml", GOOD)
    monkeypatch.setattr(checks_mod, "get_check", lambda name: _Exploding())
    import gatekeeper.pipeline as pipeline
    monkeypatch.setattr(pipeline, "get_check", lambda name: _Exploding())
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 2
    assert report["summary"]["passed"] is False
    assert report["errors"] == [{"check": "schema", "path": "apps/cm.yaml",
                                 "message": "internal error in apps/cm.yaml: RuntimeError (details withheld: "
                                            "set GATEKEEPER_DEBUG=1 to see them)"}]
    code, text = run_cli("check", "--checks", "schema", str(tmp_path))
    assert code == 2 and "ERROR" in text


def test_parse_errors_fail_the_run(write: Write, tmp_path: Path) -> None:
    write("broken.yaml", "apiVersion: v1\nkind: [\n")
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 1
    assert [(f["rule"], f["line"]) for f in report["findings"]] == [("parse-error", 3)]


def test_rules_and_explain() -> None:
    code, out = run_cli("rules", "--format", "json")
    rules = {r["id"]: r for r in json.loads(out)}
    assert code == 0 and rules["schema-unknown-field"]["check"] == "schema"
    assert rules["parse-error"]["severity"] == "error"
    code, out = run_cli("explain", "removed-api")
    assert code == 0 and "Why:" in out and "batch/v1beta1" in out
    code, out = run_cli("explain", "no-such-rule")
    assert code == 2


def test_python_dash_m_and_version() -> None:
    proc = run_subprocess("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("gatekeeper, version ")
