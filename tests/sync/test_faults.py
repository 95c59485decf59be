"""A sync killed at any stage leaves the branch at its old commit or at a complete new one."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from gatekeeper.sync.faults import FAULT_ENV, STAGES
from tests.sync.gitrepo import BRANCH, commit, configmap, git, init, rev, show, sync, sync_process, trailers


def _assert_intact(repo: Path, ref: str) -> None:
    """The ref points at a complete, verified commit whose objects are all present."""
    git(repo, "fsck", "--no-dangling", "--connectivity-only", "--no-progress")
    assert trailers(repo, ref)["Gate-Verdict"] == "pass"
    assert show(repo, ref, "env/manifest.yaml").startswith("---\napiVersion: v1")


@pytest.mark.parametrize("stage", STAGES)
def test_kill_at_each_stage_leaves_old_or_new_commit(tmp_path: Path, stage: str) -> None:
    repo = init(tmp_path / "src")
    commit(repo, {"env/app.yaml": configmap("app", "v1")}, "first")
    assert sync(repo, "--path", "env")[0] == 0
    old = rev(repo, BRANCH)
    new_source = commit(repo, {"env/app.yaml": configmap("app", "v2")}, "second")
    proc = sync_process(repo, "--path", "env", env={FAULT_ENV: stage})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    tip = rev(repo, BRANCH)
    if stage == "updated":
        assert tip != old and trailers(repo, BRANCH)["Gate-Source"] == new_source
    else:
        assert tip == old
    _assert_intact(repo, BRANCH)
    assert git(repo, "status", "--porcelain") == ""
    # The next run finishes the job (or finds it done).
    code, out = sync(repo, "--path", "env")
    assert code == 0, out
    assert trailers(repo, BRANCH)["Gate-Source"] == new_source
    assert "key: v2" in show(repo, BRANCH, "env/manifest.yaml")
    assert sync(repo, "--verify-branch")[0] == 0


@pytest.mark.parametrize("stage", ["commit", "updated"])
def test_kill_around_the_push_leaves_the_remote_old_or_new(tmp_path: Path, stage: str) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    repo = init(tmp_path / "src")
    commit(repo, {"env/app.yaml": configmap("app", "v1")}, "first")
    git(repo, "remote", "add", "origin", str(remote))
    assert sync(repo, "--path", "env", "--remote", "origin")[0] == 0
    old = rev(remote, f"refs/heads/{BRANCH}")
    commit(repo, {"env/app.yaml": configmap("app", "v2")}, "second")
    proc = sync_process(repo, "--path", "env", "--remote", "origin", env={FAULT_ENV: stage})
    assert proc.returncode == -signal.SIGKILL
    tip = rev(remote, f"refs/heads/{BRANCH}")
    assert (tip != old) if stage == "updated" else (tip == old)
    _assert_intact(remote, f"refs/heads/{BRANCH}")
    code, out = sync(repo, "--path", "env", "--remote", "origin")
    assert code == 0, out
    assert "key: v2" in show(remote, f"refs/heads/{BRANCH}", "env/manifest.yaml")
