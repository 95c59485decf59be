"""The documented ``gatekeeper secrets baseline > .gatekeeper-baseline.json``: the shell creates the
empty file before the command runs, which made the command fail and left a 0-byte baseline that
broke every later check. A real shell and real processes."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_subprocess

SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: Xk9mQ2vLp8RtZw4NsY7b}\n"


def test_the_documented_redirect_writes_a_baseline_that_later_checks_accept(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SECRET)
    gatekeeper = f"{shlex.quote(sys.executable)} -m gatekeeper"
    proc = subprocess.run(["bash", "-c", f"{gatekeeper} secrets baseline > .gatekeeper-baseline.json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    written = json.loads((tmp_path / ".gatekeeper-baseline.json").read_text())
    assert [(e["path"], e["rule"]) for e in written["findings"]] == [("s.yaml", "secret-k8s-secret")]
    check = run_subprocess("check", "--checks", "secrets", "--format", "json", ".", cwd=tmp_path)
    assert check.returncode == 0, check.stdout
    assert [f["baseline"] for f in json.loads(check.stdout)["findings"]] == [True]


def test_an_empty_baseline_is_treated_as_absent_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SECRET)
    (tmp_path / ".gatekeeper-baseline.json").write_text("\n")
    check = run_subprocess("check", "--checks", "secrets", "--format", "json", ".", cwd=tmp_path)
    report = json.loads(check.stdout)
    assert check.returncode == 1 and report["errors"] == []
    assert [(f["rule"], f["line"]) for f in report["findings"]] == [("secret-k8s-secret", 4)]
    assert any("baseline: .gatekeeper-baseline.json is empty and was treated as absent" in n
               for n in report["notes"])
