"""Shared fixtures: write manifests into temp dirs, run the real CLI, locate ../shared."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import settings

from gatekeeper.cli import cli

# Every hypothesis test draws the same examples on every run (CI and locally): a failure is reproducible
# and never intermittent. ``HYPOTHESIS_PROFILE=explore`` draws fresh examples (a deep run before a release).
settings.register_profile("fixed", derandomize=True, database=None)
settings.register_profile("explore")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))

PROJECT = Path(__file__).resolve().parent.parent
SHARED = PROJECT.parent / "shared"


def shared_dir(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared corpus is only beside the project checkout)")
    return path


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """write('apps/x.yaml', '''yaml''') -> the file, dedented, under tmp_path."""
    def _write(rel: str, text: str) -> Path:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path
    return _write


def run_cli(*args: str, cwd: Path | None = None) -> tuple[int, str]:
    """Run the CLI in-process (CliRunner); returns (exit code, stdout)."""
    runner = CliRunner()
    old = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        result = runner.invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)
    return result.exit_code, result.output


def run_json(*args: str, cwd: Path | None = None) -> tuple[int, dict[str, Any]]:
    """Run ``gatekeeper check --format json ...`` in-process and parse the report."""
    code, out = run_cli("check", "--format", "json", *args, cwd=cwd)
    return code, json.loads(out)


def run_subprocess(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                   timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python -m gatekeeper ...`` as a real process (a guard ``timeout`` fails a hang)."""
    return subprocess.run([sys.executable, "-m", "gatekeeper", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
