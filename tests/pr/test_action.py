"""The composite GitHub Action: metadata schema, and its gate step run under a simulated runner.

The step's ``run:`` script and ``env:`` come from action.yml itself; ``${{ inputs.* }}`` are
filled in from the test's inputs (and the declared defaults) the way the runner does. The one
stand-in: the venv the install step would create holds a ``python`` that runs this
interpreter, because installing the package from an index is not possible offline here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from gatekeeper.cli.action import event_base, plan
from tests.conftest import PROJECT, shared_dir
from tests.pr.conftest import BAD_CM, GIT_ENV, GOOD_CM, Repo
from tests.pr.test_reporters import parse_outputs

ACTION = PROJECT / "action.yml"
_EXPR = re.compile(r"\$\{\{\s*inputs\.([a-z0-9-]+)\s*\}\}")


def _action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return data


def test_action_metadata_validates_against_the_github_schema() -> None:
    if shutil.which("check-jsonschema") is None:
        pytest.skip("check-jsonschema is not installed")
    proc = subprocess.run(["check-jsonschema", "--builtin-schema", "vendor.github-actions", str(ACTION)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_expression_is_interpolated_inside_run_scripts() -> None:
    steps = _action()["runs"]["steps"]
    assert _action()["runs"]["using"] == "composite"
    for step in steps:
        assert "${{" not in step.get("run", ""), step.get("name")
    install = next(s for s in steps if s.get("name") == "Install gatekeeper")
    assert '"$GITHUB_ACTION_PATH"' in install["run"] and "$RUNNER_TEMP/gatekeeper-venv" in install["run"]


def _gate_step(inputs: dict[str, str]) -> tuple[str, dict[str, str]]:
    action = _action()
    values = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    values.update(inputs)
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "gate")
    env = {k: _EXPR.sub(lambda m: values[m.group(1)], str(v)) for k, v in step["env"].items()}
    return step["run"], env


def _run_gate(repo: Repo, tmp_path: Path, event_name: str, event: dict[str, Any],
              inputs: dict[str, str] | None = None
              ) -> tuple[subprocess.CompletedProcess[str], str, dict[str, str]]:
    runner_temp = tmp_path / "runner-temp"
    python = runner_temp / "gatekeeper-venv" / "bin" / "python"
    python.parent.mkdir(parents=True, exist_ok=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    event_path, summary, output = tmp_path / "event.json", tmp_path / "summary.md", tmp_path / "output.txt"
    event_path.write_text(json.dumps(event))
    script, step_env = _gate_step(inputs or {})
    env = {**os.environ, **GIT_ENV, **step_env, "RUNNER_TEMP": str(runner_temp), "GITHUB_ACTIONS": "true",
           "GITHUB_EVENT_NAME": event_name, "GITHUB_EVENT_PATH": str(event_path),
           "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output),
           "GITHUB_WORKSPACE": str(repo.path),
           "PYTHONPATH": str(PROJECT)}
    proc = subprocess.run(["bash", "-e", "-c", script], cwd=repo.path, env=env, capture_output=True,
                          text=True, timeout=300)
    outputs = parse_outputs(output.read_text()) if output.exists() else {}
    return proc, summary.read_text() if summary.exists() else "", outputs


def _pull_request(repo: Repo) -> dict[str, Any]:
    repo.write("apps/legacy.yaml", BAD_CM.format(name="legacy"))
    repo.write("apps/good.yaml", GOOD_CM.format(name="good"))
    base = repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("apps/new.yaml", BAD_CM.format(name="new"))
    repo.write("apps/ok.yaml", GOOD_CM.format(name="ok"))
    head = repo.commit("pr")
    return {"action": "opened", "number": 7,
            "pull_request": {"number": 7, "base": {"sha": base, "ref": "main"}, "head": {"sha": head}}}


def test_gate_step_on_a_pull_request_event(repo: Repo, tmp_path: Path) -> None:
    event = _pull_request(repo)
    proc, summary, outputs = _run_gate(repo, tmp_path, "pull_request", event,
                                       {"sarif-file": "reports/gate.sarif"})
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("gatekeeper: pull_request: changes since the pull request's base")
    annotations = [line for line in lines if line.startswith("::")]
    assert annotations == [annotation for annotation in annotations if "file=apps/new.yaml" in annotation]
    assert annotations[0].startswith(
        "::error file=apps/new.yaml,line=5,col=3,title=schema-unknown-field (schema)::")
    assert "apps/legacy.yaml" not in proc.stdout  # the unchanged file's old problem is not reported
    assert "## ❌ gatekeeper failed" in summary and "`apps/new.yaml:5`" in summary
    assert outputs["verdict"] == "failed" and int(outputs["errors"]) >= 1
    assert outputs["sarif-file"] == "reports/gate.sarif"
    sarif = json.loads((repo.path / "reports/gate.sarif").read_text())
    jsonschema.Draft4Validator(json.loads(shared_dir("schemas", "sarif-schema-2.1.0.json").read_text())
                               ).validate(sarif)
    results = sarif["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {"apps/new.yaml"}


def test_gate_step_passes_a_clean_push(repo: Repo, tmp_path: Path) -> None:
    repo.write("apps/legacy.yaml", BAD_CM.format(name="legacy"))
    before = repo.commit("base")
    repo.write("apps/ok.yaml", GOOD_CM.format(name="ok"))
    repo.commit("push")
    proc, summary, outputs = _run_gate(repo, tmp_path, "push", {"before": before, "after": "x"},
                                       {"paths": "apps", "policy-dirs": ""})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"push: changes since {before[:12]}" in proc.stdout
    assert "## ✅ gatekeeper passed" in summary
    assert outputs["verdict"] == "passed" and outputs["errors"] == "0"


def test_gate_step_fails_closed_on_a_bad_base(repo: Repo, tmp_path: Path) -> None:
    repo.write("a.yaml", GOOD_CM.format(name="a"))
    repo.commit("base")
    proc, _, _ = _run_gate(repo, tmp_path, "merge_group", {"merge_group": {"base_sha": "f" * 40}})
    assert proc.returncode == 2
    assert "unknown git revision" in proc.stderr


def test_event_bases() -> None:
    assert event_base("merge_group", {"merge_group": {"base_sha": "abc", "head_sha": "def"}})[0] == "abc"
    assert event_base("push", {"before": "0" * 40})[0] == ""
    assert event_base("push", {"before": "123"})[0] == "123"
    assert event_base("pull_request_target", {"pull_request": {"base": {"sha": "b"}, "head": {"sha": "h"}}}
                      )[:2] == ("b", "h")
    assert event_base("workflow_dispatch", {})[0] == ""


def test_inputs_become_arguments_without_a_shell() -> None:
    step = plan({"GITHUB_EVENT_NAME": "workflow_dispatch", "GATEKEEPER_BASE_REF": "origin/main",
                 "GATEKEEPER_NEW_ONLY": "true", "GATEKEEPER_POLICY_DIRS": "policies\n'team policies'",
                 "GATEKEEPER_PATHS": "clusters/prod apps", "GATEKEEPER_FAIL_ON": "warning",
                 "GATEKEEPER_SARIF_FILE": "x.sarif; rm -rf /"})
    assert step.args == ["check", "--github", "--base", "origin/main", "--scope", "changed", "--new-only",
                         "--fail-on", "warning", "--sarif", "x.sarif; rm -rf /", "--policy", "policies",
                         "--policy", "team policies", "--", "clusters/prod", "apps"]


def _cache_steps() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    steps = _action()["runs"]["steps"]
    restore = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache/restore@"))
    save = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache/save@"))
    return restore, save, steps


def test_the_store_is_restored_before_the_gate_and_saved_after_it_even_when_the_gate_fails() -> None:
    restore, save, steps = _cache_steps()
    gate = next(i for i, s in enumerate(steps) if s.get("id") == "gate")
    assert steps.index(restore) < gate < steps.index(save)
    assert restore["with"]["path"] == save["with"]["path"] == "${{ github.workspace }}/.git/gatekeeper"
    assert restore["with"]["key"] == save["with"]["key"]
    assert save["with"]["key"].startswith(restore["with"]["restore-keys"])  # a later run finds this one
    assert restore["if"] == "inputs.cache == 'true'"
    assert save["if"] == "${{ !cancelled() && inputs.cache == 'true' }}"  # a failing gate still saves
    assert _action()["inputs"]["cache"]["default"] == "true"


def test_the_cached_path_is_where_a_gate_run_keeps_its_store(repo: Repo, tmp_path: Path) -> None:
    """The gate step, run as the runner runs it, writes its store under the path the cache steps
    keep (the repository's git directory, never the work tree the checks read)."""
    restore, _, _ = _cache_steps()
    cached = repo.path / restore["with"]["path"].replace("${{ github.workspace }}/", "")
    assert not cached.exists()
    proc, _, outputs = _run_gate(repo, tmp_path, "pull_request", _pull_request(repo))
    assert proc.returncode == 1 and outputs["verdict"] == "failed", proc.stderr
    assert [p.name for p in cached.iterdir() if p.suffix == ".sqlite3"] == ["context-cache.sqlite3"]
    assert not (repo.path / "gatekeeper").exists()
