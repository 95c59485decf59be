"""The deploy branch's hydrator metadata describes the real source commit: a root
``hydrator.metadata`` in the source is carried over only with --promote-hydrated, and only when the
dry commit it names is in the repository and an ancestor of the source (found by an audit)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.sync.gitrepo import BRANCH, commit, configmap, git, init, show, sync, trailers


def _forged(tmp_path: Path) -> tuple[Path, str, str]:
    repo = init(tmp_path / "src")
    good = commit(repo, {"clusters/prod/cm.yaml": configmap("c", "b")}, "Reviewed release")
    forged = {"repoURL": "https://github.com/victim/repo.git", "drySha": good,
              "author": "Trusted Reviewer <boss@corp>", "date": "2020-01-01T00:00:00Z",
              "subject": "Reviewed release", "body": ""}
    source = commit(repo, {"hydrator.metadata": json.dumps(forged),
                           "clusters/prod/cm.yaml": configmap("c", "changed")}, "sneaky")
    return repo, good, source


def test_carried_over_metadata_is_ignored_without_promote(tmp_path: Path) -> None:
    repo, _good, source = _forged(tmp_path)
    code, out = sync(repo, "--path", "clusters/prod", "--format", "json")
    assert code == 0, out
    root = json.loads(show(repo, BRANCH, "hydrator.metadata"))
    assert root["drySha"] == source and root["author"] == "Dev <dev@example.com>" and root["subject"] == "sneaky"
    assert "victim" not in root["repoURL"]
    assert json.loads(show(repo, BRANCH, "clusters/prod/hydrator.metadata"))["drySha"] == source
    assert trailers(repo, BRANCH)["Gate-Source"] == source
    assert "hydrator.metadata was not carried over" in out


def test_promote_takes_author_and_message_from_the_verified_dry_commit(tmp_path: Path) -> None:
    repo, good, source = _forged(tmp_path)
    code, out = sync(repo, "--path", "clusters/prod", "--promote-hydrated")
    assert code == 0, out
    root = json.loads(show(repo, BRANCH, "hydrator.metadata"))
    # the dry commit is real and an ancestor; what it says about itself comes from git, not the file
    assert root["drySha"] == good and root["author"] == "Dev <dev@example.com>"
    assert root["date"] != "2020-01-01T00:00:00Z" and root["subject"] == "Reviewed release"
    assert trailers(repo, BRANCH)["Gate-Source"] == source


def test_promote_refuses_a_dry_commit_that_is_missing_or_not_an_ancestor(tmp_path: Path) -> None:
    repo = init(tmp_path / "src")
    commit(repo, {"README.md": "dry\n"}, "dry")
    git(repo, "checkout", "-q", "--orphan", "side")
    git(repo, "rm", "-q", "-rf", ".")
    other = commit(repo, {"README.md": "other history\n"}, "unrelated")
    git(repo, "checkout", "-q", "main")
    for dry, why in (("1234567890abcdef1234567890abcdef12345678", "is not a commit of this repository"),
                     (other, "is not an ancestor of the source commit")):
        commit(repo, {"hydrator.metadata": json.dumps({"drySha": dry, "author": "X <x@x>"}),
                      "apps/shop/manifest.yaml": configmap("shop", "hydrated")}, "hydrate")
        code, out = sync(repo, "--path", "apps/shop", "--promote-hydrated")
        assert code == 2 and why in out, out
        assert git(repo, "branch", "--list", BRANCH) == ""
    code, out = sync(repo, "--path", "apps/shop", "--promote-hydrated", "--source-ref", "HEAD~2")
    assert code == 2 and "has no root hydrator.metadata" in out
