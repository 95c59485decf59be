"""Publishing to a bare remote: atomic push of branch and notes, stale sources, concurrent syncs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.sync.gitrepo import (
    BRANCH,
    GIT_ENV,
    commit,
    configmap,
    git,
    init,
    note,
    rev,
    show,
    sync,
    trailers,
)


def _setup(tmp_path: Path) -> tuple[Path, Path, str]:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    repo = init(tmp_path / "src")
    sha = commit(repo, {"env/app.yaml": configmap("app", "v0")}, "first")
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    return repo, remote, sha


def test_push_publishes_branch_and_note_to_the_remote(tmp_path: Path) -> None:
    repo, remote, sha = _setup(tmp_path)
    code, out = sync(repo, "--path", "env", "--remote", "origin")
    assert code == 0, out
    tip = rev(remote, f"refs/heads/{BRANCH}")
    assert tip is not None and rev(repo, BRANCH) == tip
    assert trailers(remote, tip)["Gate-Source"] == sha
    assert note(remote, tip)["source"] == sha
    assert json.loads(show(remote, tip, "hydrator.metadata"))["repoURL"] == str(remote)
    # The private fetch refs are cleaned up.
    assert git(repo, "for-each-ref", "refs/gatekeeper") == ""
    code, out = sync(repo, "--path", "env", "--remote", "origin")
    assert code == 0 and "no commit" in out
    assert rev(remote, f"refs/heads/{BRANCH}") == tip


def test_an_older_source_never_overwrites_a_newer_one(tmp_path: Path) -> None:
    repo, remote, first = _setup(tmp_path)
    second = commit(repo, {"env/app.yaml": configmap("app", "v1")}, "second")
    assert sync(repo, "--path", "env", "--remote", "origin")[0] == 0
    tip = rev(remote, f"refs/heads/{BRANCH}")
    code, out = sync(repo, "--path", "env", "--remote", "origin", "--source-ref", first)
    assert code == 0
    assert f"already holds source {second[:12]}" in out
    assert rev(remote, f"refs/heads/{BRANCH}") == tip


def test_a_remote_that_rejects_the_push_is_an_error_not_a_retry(tmp_path: Path) -> None:
    repo, remote, _ = _setup(tmp_path)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'deploy branch is frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    code, out = sync(repo, "--path", "env", "--remote", "origin")
    assert code == 2
    assert "git push origin failed" in out
    assert rev(remote, f"refs/heads/{BRANCH}") is None


def _clone_at(tmp_path: Path, remote: Path, name: str, sha: str) -> Path:
    clone = tmp_path / name
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    git(clone, "checkout", "-q", "--detach", sha)
    return clone


def test_concurrent_local_syncs_of_sibling_sources_lose_no_commit(tmp_path: Path) -> None:
    """Sibling source commits (none newer than another): every sync must land, one after another."""
    repo = init(tmp_path / "src")
    base = commit(repo, {"env/app.yaml": configmap("app", "base")}, "base")
    sources = []
    for i in range(3):
        git(repo, "checkout", "-q", "-B", f"feature{i}", base)
        sources.append(commit(repo, {"env/app.yaml": configmap("app", f"v{i}")}, f"change {i}"))
    procs = [subprocess.Popen([sys.executable, "-m", "gatekeeper", "sync", "--repo", str(repo), "--path", "env",
                               "--target-branch", BRANCH, "--source-ref", sha, "--retries", "30"],
                              cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**dict(__import__("os").environ), **GIT_ENV})
             for sha in sources]
    results = [(p.wait(timeout=120), p.stdout.read() if p.stdout else "") for p in procs]
    assert all(code == 0 and "published" in out for code, out in results), results
    history = git(repo, "rev-list", "--parents", BRANCH).splitlines()
    assert len(history) == 3
    assert all(len(line.split()) <= 2 for line in history)  # linear
    assert sorted(trailers(repo, line.split()[0])["Gate-Source"] for line in history) == sorted(sources)
    for line in history:
        sha = line.split()[0]
        source = trailers(repo, sha)["Gate-Source"]
        assert f"key: v{sources.index(source)}" in show(repo, sha, "env/manifest.yaml")
        assert note(repo, sha)["source"] == source
    assert sync(repo, "--verify-branch")[0] == 0


def test_concurrent_pushes_of_sibling_sources_all_land_through_retries(tmp_path: Path) -> None:
    """Three CI clones publish unrelated sources at once: the losers fetch, rebuild and push again."""
    repo, remote, base = _setup(tmp_path)
    sources = []
    for i in range(3):
        git(repo, "checkout", "-q", "-B", f"feature{i}", base)
        sources.append(commit(repo, {"env/app.yaml": configmap("app", f"s{i}")}, f"sibling {i}"))
        git(repo, "push", "-q", "origin", f"feature{i}")
    clones = [_clone_at(tmp_path, remote, f"ci{i}", sha) for i, sha in enumerate(sources)]
    procs = [subprocess.Popen([sys.executable, "-m", "gatekeeper", "sync", "--repo", str(c), "--path", "env",
                               "--target-branch", BRANCH, "--remote", "origin", "--retries", "30"],
                              cwd=c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**dict(__import__("os").environ), **GIT_ENV})
             for c in clones]
    results = [(p.wait(timeout=120), p.stdout.read() if p.stdout else "") for p in procs]
    assert all(code == 0 and "published" in out for code, out in results), results
    history = git(remote, "rev-list", "--parents", f"refs/heads/{BRANCH}").splitlines()
    assert len(history) == 3 and all(len(line.split()) <= 2 for line in history)
    assert sorted(trailers(remote, line.split()[0])["Gate-Source"] for line in history) == sorted(sources)
    assert all(note(remote, line.split()[0])["summary"]["passed"] for line in history)
    code, out = sync(clones[0], "--verify-branch", "--remote", "origin")
    assert (code, out) == (0, f"origin/{BRANCH}: all 3 commit(s) carry a passing gate verdict\n")


def test_a_failing_state_never_reaches_the_remote(tmp_path: Path) -> None:
    repo, remote, _ = _setup(tmp_path)
    assert sync(repo, "--path", "env", "--remote", "origin")[0] == 0
    tip = rev(remote, f"refs/heads/{BRANCH}")
    notes = rev(remote, "refs/notes/gatekeeper")
    commit(repo, {"env/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  labelz: {}\n"},
           "typo")
    code, out = sync(repo, "--path", "env", "--remote", "origin")
    assert code == 1 and "env/app.yaml:5:3" in out
    assert rev(remote, f"refs/heads/{BRANCH}") == tip
    assert rev(remote, "refs/notes/gatekeeper") == notes
