"""Sync arguments an audit turned against the tool: option injection into git, publishing into
.git, ref names that are not branch names, message templates with lookups, a stale ref lock
and private refs left by killed syncs. Real repositories, the real CLI."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.sync.gitrepo import BRANCH, commit, configmap, git, init, rev, sync, sync_process


def _repo(tmp_path: Path) -> Path:
    repo = init(tmp_path / "src")
    commit(repo, {"env/app.yaml": configmap("app", "v0")}, "first")
    return repo


@pytest.mark.parametrize("option", ["--remote", "--source-ref"])
def test_option_like_values_never_reach_git(tmp_path: Path, option: str) -> None:
    repo = _repo(tmp_path)
    marker = tmp_path / "pwned"
    code, out = sync(repo, "--path", "env", option, f"--upload-pack=touch {marker}")
    assert code == 2 and f"{option} must not be empty, begin with '-'" in out
    assert not marker.exists() and rev(repo, BRANCH) is None
    assert "touch" not in out


@pytest.mark.parametrize("target", [".git", "a/.git/hooks", "a/.GIT", "x/.Git/y", "-rf", "a\nb"])
def test_a_target_path_into_git_metadata_or_option_like_is_refused(tmp_path: Path, target: str) -> None:
    repo = _repo(tmp_path)
    code, out = sync(repo, "--path", "env", "--target-path", target)
    assert code == 2 and "target path" in out
    assert rev(repo, BRANCH) is None
    assert sorted(p.name for p in (repo / ".git" / "hooks").iterdir() if not p.name.endswith(".sample")) == []


@pytest.mark.parametrize("branch", ["HEAD", "refs/heads/deploy", "-deploy", "a\nb"])
def test_a_target_branch_that_is_not_a_plain_branch_name_is_refused(tmp_path: Path, branch: str) -> None:
    repo = _repo(tmp_path)
    before = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    code, out = sync(repo, "--path", "env", "--target-branch", branch)
    assert code == 2 and "invalid target branch name" in out
    assert git(repo, "for-each-ref", "--format=%(refname) %(objectname)") == before


@pytest.mark.parametrize("template", ["{source.__class__}", "{source[0]}", "{source!r}", "{x}", "{short:{x}}",
                                      "{"])
def test_a_message_template_may_only_name_placeholders(tmp_path: Path, template: str) -> None:
    repo = _repo(tmp_path)
    code, out = sync(repo, "--path", "env", "--message", template)
    assert code == 2 and "bad --message template" in out and "class" not in out
    assert rev(repo, BRANCH) is None
    assert sync(repo, "--path", "env", "--message", "deploy {short} ({{x}})")[0] == 0
    assert git(repo, "log", "-1", "--format=%s", BRANCH).endswith("({x})")


def test_a_stale_ref_lock_is_reported_as_a_lock_with_its_path_and_age(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    assert sync(repo, "--path", "env")[0] == 0
    commit(repo, {"env/app.yaml": configmap("app", "v1")}, "second")
    lock = repo / ".git" / "refs" / "heads" / f"{BRANCH}.lock"
    lock.write_text("")
    hours_ago = time.time() - 7200
    os.utime(lock, (hours_ago, hours_ago))
    code, out = sync(repo, "--path", "env")
    assert code == 2
    assert f".git/refs/heads/{BRANCH}.lock is a ref lock left 2.0 h ago" in out
    assert "another sync moved" not in out
    lock.unlink()
    assert sync(repo, "--path", "env")[0] == 0


def test_private_refs_of_killed_remote_syncs_are_swept(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    repo = _repo(tmp_path)
    git(repo, "remote", "add", "origin", str(remote))
    dead = subprocess.Popen(["true"])
    dead.wait()  # a process id that no longer runs
    head = git(repo, "rev-parse", "HEAD")
    left = f"refs/gatekeeper/sync/{dead.pid}-0badc0de/branch"
    git(repo, "update-ref", left, head)
    live = f"refs/gatekeeper/sync/{os.getpid()}-1234abcd/branch"  # a sync still running (this process)
    git(repo, "update-ref", live, head)
    proc = sync_process(repo, "--path", "env", "--remote", "origin")
    assert proc.returncode == 0, proc.stderr
    assert git(repo, "for-each-ref", "--format=%(refname)", "refs/gatekeeper") == live
