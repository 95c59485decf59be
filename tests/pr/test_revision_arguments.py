"""Revisions given to the git modes: an empty or option-like one is a usage error, and any revision
git itself understands resolves the way git resolves it (never an internal error)."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli
from tests.pr.conftest import BAD_CM, GOOD_CM, Repo


def _history(repo: Repo) -> None:
    repo.write("a.yaml", GOOD_CM.format(name="a"))
    repo.commit("first")
    repo.write("b.yaml", BAD_CM.format(name="b"))
    repo.commit("second")


@pytest.mark.parametrize("args", [("--base", ""), ("--base", "   "), ("--base=--output=x",),
                                  ("--base", "HEAD~1", "--head", ""), ("--base", "a\nb")])
def test_an_empty_or_option_like_revision_is_a_usage_error(repo: Repo, args: tuple[str, ...]) -> None:
    _history(repo)
    code, out = run_cli("check", *args, str(repo.path))
    assert code == 2 and "needs a git revision" in out
    assert "b.yaml" not in out  # nothing was checked in the working tree instead


@pytest.mark.parametrize("revision", ["HEAD@{1000}", "@{-1}", "main^{/no such subject}", "HEAD~9"])
def test_a_revision_git_cannot_resolve_is_a_clear_error(repo: Repo, revision: str) -> None:
    _history(repo)
    code, out = run_cli("check", "--base", revision, str(repo.path))
    assert code == 2 and "unknown git revision" in out


def test_revisions_resolve_as_git_resolves_them(repo: Repo) -> None:
    _history(repo)
    for revision in ("HEAD@{1}", ":/first", "main~1"):
        code, out = run_cli("check", "--base", revision, "--format", "json", str(repo.path))
        assert code == 1, (revision, out)
        assert '"path": "b.yaml"' in out
