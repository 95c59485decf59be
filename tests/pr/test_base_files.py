"""The base commit's files as the git-mode CLI reads them: from one listing, with exactly the
answers ``git cat-file`` gives for each path (files, absent paths, directories, symlinks)."""

from __future__ import annotations

import os

from gatekeeper import scope
from gatekeeper.cli import gitmode
from gatekeeper.sources import git
from tests.conftest import run_json
from tests.pr.conftest import Repo

PATHS = (".gatekeeper.yaml", "apps/.gatekeeper.yaml", "apps/.gatekeeper.yml", "apps", "apps/web/cm.yaml",
         "apps/link.yaml", "apps/dirlink", "./apps/web/cm.yaml", "apps//web/cm.yaml", "apps/web/../web/cm.yaml",
         "missing/cm.yaml")


def test_base_files_answer_as_git_cat_file_does(repo: Repo) -> None:
    repo.write(".gatekeeper.yaml", "fail_on: warning\n")
    repo.write("apps/web/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    os.symlink("web/cm.yaml", repo.path / "apps" / "link.yaml")
    os.symlink("web", repo.path / "apps" / "dirlink")
    repo.commit("base")
    repo.write("apps/web/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
    repo.git("add", "-A")
    handle = git.open_repo(repo.path)
    selection = scope.select(handle, "staged")
    assert selection.base_rev is not None
    read = gitmode.base_blob(handle, selection, selection.base_rev)
    for path in PATHS:
        assert read(path) == git.blob_at(handle, selection.base_rev, path), path
    assert read(".gatekeeper.yaml") == b"fail_on: warning\n"
    assert read("apps/link.yaml") == b"web/cm.yaml"  # the link itself, as cat-file reads it


def test_a_weakened_configuration_is_found_through_the_listing(repo: Repo) -> None:
    repo.write("apps/.gatekeeper.yaml", "fail_on: warning\n")
    repo.write("apps/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n")
    repo.commit("base")
    repo.write("apps/.gatekeeper.yaml", "fail_on: error\n")
    repo.git("add", "-A")
    _, report = run_json("--staged", "apps", cwd=repo.path)
    assert [(f["path"], f["rule"]) for f in report["findings"] if f["rule"] == "config-weakened"] \
        == [("apps/.gatekeeper.yaml", "config-weakened")]
