"""Output for people: one line per container location, hints once per rule, --quiet,
--min-severity, --no-hints, --verbose, the Markdown size limit, stdin, and control characters
from manifests never reaching a terminal. Through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from gatekeeper.cli import cli
from tests.conftest import run_cli

Write = Callable[[str, str], Path]

WORKLOAD = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: shop
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: {name}
          image: nginx:1.27
"""
# The lint rules that fire on that container, all warnings, all at its ``- name:`` line (13).
CONTAINER_RULES = ["cpu-requests", "liveness-probe", "memory-limit", "memory-requests", "net-raw-not-dropped",
                   "privilege-escalation", "readiness-probe", "readonly-root-filesystem", "run-as-non-root"]


def _two_workloads(write: Write) -> None:
    write("a.yaml", WORKLOAD.format(name="web"))
    write("b.yaml", WORKLOAD.format(name="api").replace("image: nginx:1.27", "image: nginx"))


def test_findings_of_one_container_are_one_line_and_hints_once_per_run(write: Write, tmp_path: Path) -> None:
    _two_workloads(write)
    _code, out = run_cli("check", str(tmp_path), "--checks", "lint")
    lines = out.splitlines()
    web = [line for line in lines if line.startswith("  a.yaml:")]
    assert web == [f"  a.yaml:13:11 warning container 'web': 9 findings: {', '.join(CONTAINER_RULES)} "
                   "[Deployment/shop/web]"]
    api = [line for line in lines if line.startswith("  b.yaml:")]
    assert api == [f"  b.yaml:13:11 warning container 'api': 9 findings: {', '.join(CONTAINER_RULES)} "
                   "[Deployment/shop/api]",
                   "  b.yaml:14:11 error   image-untagged           container 'api' image nginx has no tag or "
                   "digest [Deployment/shop/api]"]
    for rule in CONTAINER_RULES:  # every hint once, under the first group, labelled with its rule
        assert sum(1 for line in lines if line.startswith(f"      hint ({rule}): ")) == 1
    assert lines.index(next(line for line in lines if line.startswith("      hint (cpu-requests)"))) < \
        lines.index("b.yaml")
    assert "--verbose lists every finding" in out


def test_verbose_lists_every_finding_with_its_hint(write: Write, tmp_path: Path) -> None:
    _two_workloads(write)
    _code, out = run_cli("check", str(tmp_path), "--checks", "lint", "--verbose")
    lines = out.splitlines()
    assert sum(1 for line in lines if line.startswith("  a.yaml:13:11 warning ")) == 9
    assert sum(1 for line in lines if line.startswith("      hint: ")) == 19  # 9 + 9 + image-untagged
    assert "  a.yaml:13:11 warning cpu-requests             container 'web' has no cpu request " \
           "[Deployment/shop/web]" in lines


def test_no_hints(write: Write, tmp_path: Path) -> None:
    _two_workloads(write)
    _code, out = run_cli("check", str(tmp_path), "--checks", "lint", "--no-hints", "--verbose")
    assert "hint" not in out and out.count("a.yaml:13:11") == 9


def test_min_severity_hides_but_keeps_counts_and_exit_code(write: Write, tmp_path: Path) -> None:
    write("a.yaml", WORKLOAD.format(name="web"))
    write("c.yaml", WORKLOAD.format(name="priv").replace("image: nginx:1.27",
                                                          "image: nginx:1.27\n          securityContext:\n"
                                                          "            privileged: true"))
    code, out = run_cli("check", str(tmp_path), "--checks", "lint", "--min-severity", "error",
                        "--fail-on", "warning")
    assert code == 1
    listed = [line for line in out.splitlines() if line.startswith("  ")]
    assert [line.split()[:3] for line in listed if not line.startswith("      hint")] == [
        ["c.yaml:16:13", "error", "privileged-container"]]
    summary = out.splitlines()[-1]
    assert "1 errors, 16 warnings, 0 info; 16 below error not listed (--min-severity) (fail on warning)" in summary
    code_all, _ = run_cli("check", str(tmp_path), "--checks", "lint", "--fail-on", "warning")
    assert code_all == code


def test_quiet_prints_the_summary_and_what_fails(write: Write, tmp_path: Path) -> None:
    _two_workloads(write)
    code, out = run_cli("check", str(tmp_path), "--checks", "lint", "--quiet")
    assert code == 1
    assert out.splitlines() == [
        "b.yaml",
        "  b.yaml:14:11 error   image-untagged           container 'api' image nginx has no tag or digest "
        "[Deployment/shop/api]",
        "",
        "2 files, 2 resources checked by lint: 1 errors, 18 warnings, 0 info; 18 below the fail threshold not "
        "listed (--quiet) (fail on error) -> FAILED"]
    code, out = run_cli("check", str(tmp_path), "--checks", "lint", "-q", "--fail-on", "warning")
    assert code == 1 and "hint" not in out and "note:" not in out
    assert out.count("a.yaml:13:11") == 1 and out.count("b.yaml:1") == 2


def test_markdown_summary_of_1500_findings_stays_under_githubs_limit(write: Write, tmp_path: Path) -> None:
    docs = "\n---\n".join(WORKLOAD.format(name=f"svc-{i:03d}").replace("image: nginx:1.27", "image: nginx")
                          for i in range(150))
    write("apps/all.yaml", docs)
    out_file = tmp_path / "summary.md"
    _code, _ = run_cli("check", str(tmp_path / "apps"), "--checks", "lint", "--format", f"markdown={out_file}",
                      "--format", "json=" + str(tmp_path / "r.json"))
    text = out_file.read_text(encoding="utf-8")
    assert "| 150 | 1350 | 0 | 0 |" in text  # all 1,500 counted in the header
    assert len(text) < 65_536
    assert "| `cpu-requests` | 🟡 warning | 150 |" in text  # counts per rule
    assert "| `all.yaml` | 150 | 1350 | 0 |" in text  # counts per file
    rows = [line for line in text.splitlines() if line.startswith(("| 🟡 warning | `all.yaml:",
                                                                    "| 🔴 error | `all.yaml:"))]
    assert rows[0].startswith("| 🔴 error | `all.yaml:14` |")  # the most severe first
    assert 100 < len(rows) < 1500
    assert f"{1500 - len(rows)} more finding(s) are not listed here" in text
    assert "full report is in the run's SARIF and JSON output" in text


def test_stdin_reads_a_rendered_stream_with_its_own_line_numbers(tmp_path: Path) -> None:
    stream = ("---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n"
              + "---\n# Source: web/templates/deploy.yaml" + WORKLOAD.format(name="web").replace(
                  "image: nginx:1.27", "image: nginx:latest"))
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "gatekeeper", "check", "-", "--stdin-name", "rendered/web.yaml",
                           "--checks", "lint,schema", "--format", "json"], input=stream.encode(),
                          capture_output=True, cwd=tmp_path, env=env, check=False)
    import json

    report = json.loads(proc.stdout)
    assert proc.returncode == 1, proc.stderr  # image-latest is an error
    latest = [f for f in report["findings"] if f["rule"] == "image-latest"]
    assert [(f["path"], f["line"]) for f in latest] == [("rendered/web.yaml", 22)]
    assert stream.splitlines()[21].strip() == "image: nginx:latest"
    assert report["summary"]["resources"] == 2


def test_stdin_usage_errors(tmp_path: Path) -> None:
    code, out = run_cli("check", "-", str(tmp_path))
    assert code == 2 and "cannot be combined with other paths" in out
    code, out = run_cli("check", str(tmp_path), "--stdin-name", "x.yaml")
    assert code == 2 and "--stdin-name applies only" in out


def test_stdin_default_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check", "-", "--checks", "schema"],
                                input=b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: 1}\n")
    assert result.exit_code == 1
    assert "<stdin>:4:" in result.output


CONTROL = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"x\\e]0;pwned\\a\\rOK\\x9b31m\"\n" \
          "data:\n  \"k\\e]8;;http://evil\\e\\\\\": 1\n"


def test_control_characters_from_manifests_never_reach_the_terminal(tmp_path: Path) -> None:
    bad = tmp_path / "odd\nname\x1b[31m.yaml"
    bad.write_text(CONTROL, encoding="utf-8")
    for fmt in ("text", "markdown", "github"):
        code, out = run_cli("check", str(tmp_path), "--checks", "schema", "--format", fmt, "--verbose")
        assert code == 1, fmt
        assert not any(ch in out for ch in ("\x1b", "\x07", "\r", "\x9b")), fmt
        if fmt == "text":
            assert "odd\\nname\\x1b[31m.yaml" in out
            assert "odd\\nname\\x1b[31m.yaml:4:" in out or "odd\\nname\\x1b[31m.yaml:6:" in out
