"""The pre-commit hooks through the real ``pre-commit`` tool and a real ``git commit``.

The hook config points at this project's checkout at its committed HEAD, so pre-commit
builds its own environment exactly as a user's would (``pip install`` of the repository).
That first build takes about half a minute; pre-commit caches it per commit in
``$PRE_COMMIT_HOME`` (default ``~/.cache/pre-commit``), so later runs are quick.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess

import pytest

from tests.conftest import PROJECT
from tests.pr.conftest import BAD_CM, CRD, GIT_ENV, GOOD_CM, Repo


@functools.cache
def _project_head() -> str:
    """The project's HEAD, read once per session so both tests share one pre-commit environment."""
    if shutil.which("pre-commit") is None:
        pytest.skip("the pre-commit tool is not installed")
    proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip("the project checkout is not a git repository, so pre-commit cannot install from it")
    return proc.stdout.strip()


def _install(repo: Repo, hook: str) -> None:
    config = (f"repos:\n  - repo: {PROJECT}\n    rev: {_project_head()}\n"
              f"    hooks:\n      - id: {hook}\n")
    repo.write(".pre-commit-config.yaml", config)
    repo.git("add", ".pre-commit-config.yaml")
    subprocess.run(["pre-commit", "install"], cwd=repo.path, check=True, capture_output=True)


def _commit(repo: Repo, message: str) -> tuple[int, str]:
    """``git commit`` (running the installed hook); returns the exit code and all output."""
    env = {**os.environ, **GIT_ENV}
    proc = subprocess.run(["git", "commit", "-m", message], cwd=repo.path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600)
    return proc.returncode, proc.stdout


def test_hook_blocks_a_bad_manifest_and_passes_a_good_one(repo: Repo) -> None:
    _install(repo, "gatekeeper")
    repo.write("crds/widget.yaml", CRD)
    repo.write("apps/good.yaml", GOOD_CM.format(name="good"))
    repo.git("add", "-A")
    code, out = _commit(repo, "base")
    assert code == 0, out
    assert re.search(r"gatekeeper \(policy gate on staged manifests\)\.+Passed", out)

    repo.write("apps/bad.yaml", BAD_CM.format(name="bad"))
    repo.git("add", "apps/bad.yaml")
    code, out = _commit(repo, "bad")
    assert code != 0
    assert re.search(r"gatekeeper \(policy gate on staged manifests\)\.+Failed", out)
    assert "apps/bad.yaml:5:3 error   schema-unknown-field" in out
    assert repo.git("rev-list", "--count", "HEAD") == "1"  # nothing was committed

    # A Widget checked against the CRD committed earlier: the hook sees the whole index.
    repo.write("apps/bad.yaml", GOOD_CM.format(name="bad"))
    repo.write("apps/widget.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
                                   "spec:\n  size: large\n")
    repo.git("add", "-A")
    code, out = _commit(repo, "widget")
    assert code != 0
    assert "apps/widget.yaml:6:3 error   schema-type" in out

    (repo.path / "apps/widget.yaml").write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n"
                                                "  name: w\nspec:\n  size: 3\n")
    repo.git("add", "-A")
    code, out = _commit(repo, "fixed")
    assert code == 0, out
    assert repo.git("rev-list", "--count", "HEAD") == "2"


def test_secrets_hook_blocks_a_plaintext_secret(repo: Repo) -> None:
    _install(repo, "gatekeeper-secrets")
    repo.write("secret.yaml", """
        apiVersion: v1
        kind: Secret
        metadata:
          name: db
        stringData:
          password: "Zx8!qP2#vL9@mK4$wR7^"
        """)
    repo.git("add", "-A")
    code, out = _commit(repo, "secret")
    assert code != 0
    assert "secret.yaml:6:" in out
    assert "Zx8!qP2#vL9@mK4$wR7^" not in out
