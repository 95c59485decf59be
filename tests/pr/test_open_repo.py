"""Finding the repository with the git command: the working tree as written, the shared git
directory of a linked worktree, and clear errors for a bare repository or no repository."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gatekeeper.sources import git
from tests.pr.conftest import Repo


def test_a_subdirectory_gives_the_working_tree_and_its_git_directory(repo: Repo) -> None:
    repo.write("apps/web/cm.yaml", "a: 1\n")
    repo.commit("base")
    found = git.open_repo(repo.path / "apps" / "web")
    assert Path(found.working_tree_dir) == repo.path
    assert Path(found.common_dir) == repo.path / ".git"
    assert git.has_head(found) and len(git.resolve(found, "HEAD").hexsha) == 40


def test_a_path_through_a_symlink_is_kept_as_written(repo: Repo, tmp_path: Path) -> None:
    repo.write("apps/cm.yaml", "a: 1\n")
    repo.commit("base")
    link = tmp_path / "linked"
    os.symlink(repo.path, link)
    found = git.open_repo(link / "apps")
    assert found.working_tree_dir == str(link)  # findings' paths stay relative to the path the user gave


def test_a_linked_worktree_shares_the_main_git_directory(repo: Repo, tmp_path: Path) -> None:
    repo.write("cm.yaml", "a: 1\n")
    repo.commit("base")
    repo.git("worktree", "add", "-q", str(tmp_path / "other"), "-b", "other")
    found = git.open_repo(tmp_path / "other")
    assert Path(found.working_tree_dir) == tmp_path / "other"
    assert Path(found.common_dir).resolve() == (repo.path / ".git").resolve()


def test_a_repository_without_commits_has_no_head(repo: Repo) -> None:
    assert not git.has_head(git.open_repo(repo.path))


def test_no_repository_and_a_bare_one_are_errors(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(git.GitSourceError, match="not inside a git repository"):
        git.open_repo(plain)
    with pytest.raises(git.GitSourceError, match="not inside a git repository"):
        git.open_repo(tmp_path / "missing")
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True, capture_output=True)
    with pytest.raises(git.GitSourceError, match="bare git repository"):
        git.open_repo(bare)


def test_blobs_are_read_in_one_batch_and_a_missing_one_is_an_error(repo: Repo) -> None:
    repo.write("a.yaml", "a: 1\n")
    repo.write("b.yaml", "b: " + "x" * 200_000 + "\n")  # larger than a pipe's buffer
    repo.commit("base")
    handle = git.open_repo(repo.path)
    entries = git.tree_entries(handle, "HEAD")
    read = git.read_blobs(handle, entries)
    assert [(f.path, f.data) for f in read] == [("a.yaml", b"a: 1\n"), ("b.yaml", (repo.path / "b.yaml").read_bytes())]
    with pytest.raises(git.GitSourceError, match=r"cannot read a\.yaml"):
        git.read_blobs(handle, [git.Entry("a.yaml", "100644", "0" * 40)])
