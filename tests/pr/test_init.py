"""``gatekeeper init``: the files it writes are valid and work, and it never overwrites silently."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from gatekeeper import config
from gatekeeper.checks import catalogue
from tests.conftest import run_cli, run_json


def test_init_writes_a_working_setup(tmp_path: Path) -> None:
    code, out = run_cli("init", str(tmp_path))
    assert code == 0, out
    for rel in (".gatekeeper.yaml", ".github/workflows/gatekeeper.yml", ".pre-commit-config.yaml"):
        assert f"wrote {rel}" in out
    cfg = config.load(tmp_path / ".gatekeeper.yaml", catalogue())  # validates against the config schema
    assert cfg.checks["policy"]["paths"] == ["policies"]
    assert (tmp_path / "policies/gatekeeper").is_dir() and (tmp_path / "policies/conftest/main.rego").is_file()
    pre_commit = yaml.safe_load((tmp_path / ".pre-commit-config.yaml").read_text())
    assert [h["id"] for h in pre_commit["repos"][0]["hooks"]] == ["gatekeeper", "gatekeeper-secrets"]
    workflow = yaml.safe_load((tmp_path / ".github/workflows/gatekeeper.yml").read_text())
    steps = workflow["jobs"]["gate"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    assert steps[2]["uses"].startswith("github/codeql-action/upload-sarif")
    # The copied starter policies run, and their own samples are not checked as manifests.
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps/a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
                                          "  namespace: default\n")
    code, report = run_json(str(tmp_path))
    assert "policy" in report["summary"]["checks"]
    assert all(f["path"] == "apps/a.yaml" for f in report["findings"])
    assert [(f["line"], f["check"]) for f in report["findings"] if f["check"] == "policy"] == [(5, "policy")]


def test_generated_files_validate_against_their_schemas(tmp_path: Path) -> None:
    run_cli("init", str(tmp_path))
    if shutil.which("check-jsonschema") is None:
        pytest.skip("check-jsonschema is not installed")
    proc = subprocess.run(["check-jsonschema", "--builtin-schema", "vendor.github-workflows",
                           str(tmp_path / ".github/workflows/gatekeeper.yml")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run(["pre-commit", "validate-config", str(tmp_path / ".pre-commit-config.yaml")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: []\n")
    code, out = run_cli("init", str(tmp_path))
    assert code == 2
    assert ".pre-commit-config.yaml already exist(s)" in out and "nothing was written" in out
    assert not (tmp_path / ".gatekeeper.yaml").exists()
    assert (tmp_path / ".pre-commit-config.yaml").read_text() == "repos: []\n"
    code, out = run_cli("init", "--print-snippets", "--no-policies", str(tmp_path))
    assert code == 0
    assert "# .github/workflows/gatekeeper.yml" in out and "id: gatekeeper-secrets" in out
    assert (tmp_path / ".pre-commit-config.yaml").read_text() == "repos: []\n"
    assert not (tmp_path / "policies").exists()
    code, out = run_cli("init", "--force", str(tmp_path))
    assert code == 0
    assert "gatekeeper-secrets" in (tmp_path / ".pre-commit-config.yaml").read_text()
