"""``gatekeeper verify``: Rego unit tests and Gatekeeper Suites, text and JSON, exit codes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from gatekeeper.cli import cli
from gatekeeper.rego.library import library_path
from tests.conftest import PROJECT, run_subprocess

Write = Callable[[str, str], Path]


def verify(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["verify", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_starter_library_is_green() -> None:
    code, out, _ = verify(str(library_path()))
    assert code == 0, out
    # 28 Rego tests and Suite cases, the rest kyverno test results (a mutate rule's result is skipped)
    assert out.splitlines()[-1] == "PASS: 234 passed, 0 failed, 1 skipped"
    assert "ok    " in out


def test_top_level_policies_link_is_the_library() -> None:
    link = PROJECT / "policies"
    assert link.is_symlink() and link.resolve() == library_path()
    proc = run_subprocess("verify", "policies/", "--format", "json", cwd=PROJECT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["failed"] == 0


POLICY = 'package main\nimport rego.v1\ndeny contains "x" if input.kind == "Pod"\n'
TESTS = """package main
import rego.v1

test_pod_denied if {
  deny == {"x"} with input as {"kind": "Pod"}
}

test_wrong if {
  count(deny) == 1 with input as {"kind": "Service"}
}

todo_test_later if false
"""


def test_failing_rego_test_is_named_with_its_location(write: Write, tmp_path: Path) -> None:
    write("pol/main.rego", POLICY)
    write("pol/main_test.rego", TESTS)
    code, out, _ = verify(str(tmp_path / "pol"))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("ok    ") and lines[0].endswith(":4  main.test_pod_denied")
    assert lines[1].startswith("FAIL  ") and lines[1].endswith("main_test.rego:8  main.test_wrong")
    assert "test is undefined" in lines[2]
    assert lines[3].startswith("skip  ")
    assert lines[-1] == "FAIL: 1 passed, 1 failed, 1 skipped"


def test_json_format_and_run_filter(write: Write, tmp_path: Path) -> None:
    write("pol/main.rego", POLICY)
    write("pol/main_test.rego", TESTS)
    code, out, _ = verify(str(tmp_path / "pol"), "--format", "json", "--run", "pod")
    assert code == 0
    doc = json.loads(out)
    assert (doc["passed"], doc["failed"], doc["skipped"]) == (1, 0, 0)
    assert doc["cases"][0]["test"] == "main.test_pod_denied"
    assert set(doc["cases"][0]) == {"suite", "test", "case", "passed", "skipped", "message"}


def test_suite_assertion_failure_and_skip(tmp_path: Path) -> None:
    pol = tmp_path / "pol"
    shutil.copytree(library_path() / "gatekeeper" / "required-labels", pol)
    suite = (pol / "suite.yaml").read_text()
    suite = suite.replace("""      - name: all-labels
        object: samples/labelled.yaml
        assertions:
          - violations: no""", """      - name: all-labels
        object: samples/labelled.yaml
        assertions:
          - violations: 1""")
    suite = suite.replace("      - name: not-a-workload\n", "      - name: not-a-workload\n        skip: true\n")
    (pol / "suite.yaml").write_text(suite)
    code, out, _ = verify(str(pol), "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert (doc["passed"], doc["failed"], doc["skipped"]) == (2, 1, 1)
    failed = next(c for c in doc["cases"] if not c["passed"])
    assert (failed["test"], failed["case"]) == ("workloads-have-owner", "all-labels")
    assert failed["message"].startswith("assertion 0: want 1 violation(s), got 0")


def test_load_errors_exit_2(write: Write, tmp_path: Path) -> None:
    write("pol/main.rego", "package main\nimport rego.v1\ndeny contains m if {\n")
    write("pol/main_test.rego", TESTS)
    code, _, err = verify(str(tmp_path / "pol"))
    assert code == 2
    assert "main.rego:4: expecting expression" in err  # the unclosed body, reported at the end
    write("pol2/suite.yaml", "apiVersion: test.gatekeeper.sh/v1alpha1\nkind: Suite\ntests:\n"
                             "  - name: t\n    template: missing.yaml\n    constraint: c.yaml\n"
                             "    cases: [{name: c, object: o.yaml, assertions: [{violations: no}]}]\n")
    code, _, err = verify(str(tmp_path / "pol2"))
    assert code == 2
    assert "template 'missing.yaml' is not a regular file" in err


def test_no_tests_is_an_error(write: Write, tmp_path: Path) -> None:
    write("pol/main.rego", POLICY)
    code, _, err = verify(str(tmp_path / "pol"))
    assert code == 2
    assert "no tests found" in err
