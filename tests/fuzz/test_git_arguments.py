"""Fuzzing the values the CLI hands to git: ``sync``'s remote, branch, paths, source ref, message
and ``--since``, and the git modes' ``--base``/``--head``.

A wrapper named ``git`` first on PATH records every command line before running the real git, so
the properties cover every git process the gate starts: the exit code is 0, 1 or 2; no value runs
a command (a marker file a successful injection would create never appears); nothing is written
into ``.git/hooks`` or ``.git/config``; and every git command line that ran has the shape
``gitargs.checked`` enforces (options first, values after ``--end-of-options``, no value that
begins with ``-``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatekeeper.sources.gitargs import UnsafeArgument, checked
from tests.conftest import run_cli
from tests.sync.gitrepo import BRANCH, commit, configmap, init

REAL_GIT = shutil.which("git") or "git"
OPTIONS = ("--remote", "--target-branch", "--target-path", "--path", "--source-ref", "--message", "--since",
           "--base", "--head")
FRAGMENTS = ("-", "--", ".git", ".GIT/hooks", "HEAD", "refs/heads/", "@{-1}", ":/", "..", "../", "$(", "`", "\n",
             "\r", "\x1b[2J", "~", "^{}", "{source.__class__}", "{", "}", " ", "*", "ext::", "file://", "a/b",
             "env", "main")


def _dangerous(marker: Path) -> list[str]:
    """Values that would do harm if git read them as options or a shell ran them."""
    touch = f"touch {marker}"
    return [f"--upload-pack={touch}", f"--receive-pack={touch}", f"--exec={touch}", f"-u{touch}",
            f"-ccore.sshCommand={touch}", f"--output={marker}", f"-o{marker}", f"--config=core.pager={touch}",
            f"ext::sh -c {touch.replace(' ', '% ')}", f"$({touch})", f"`{touch}`", f"x;{touch}",
            ".git", ".git/hooks", "a/.Git/hooks/pre-commit", "HEAD", "refs/heads/main", "-", "--all"]


@pytest.fixture
def gitlog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A logging ``git`` first on PATH: one NUL-separated argv per line of the log."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "git.log"
    wrapper = bindir / "git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\0" "$@" >> "{log}"\nprintf "\\n" >> "{log}"\n'
                       f'exec "{REAL_GIT}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    return log


def _argvs(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    out = []
    for record in log.read_bytes().split(b"\0\n"):
        if record.strip(b"\n"):
            out.append(record.decode("utf-8", "surrogateescape").split("\0"))
    return out


def _digest(path: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file())).hexdigest()


def _check(tmp_path: Path, log: Path, repo: Path, option: str, value: str) -> None:
    marker = tmp_path / "pwned"
    hooks, config = _digest(repo / ".git" / "hooks"), (repo / ".git" / "config").read_bytes()
    log.write_bytes(b"")
    if option in ("--base", "--head"):
        args = ["check", "--base", "HEAD~1", str(repo)] if option == "--head" else ["check", str(repo)]
        code, _ = run_cli(*args[:-1], option, value, args[-1])
    elif option == "--since":
        code, _ = run_cli("sync", "--repo", str(repo), "--target-branch", BRANCH, "--verify-branch", "--since", value)
    else:
        given = {"--path": "env", "--target-branch": BRANCH, option: value}
        args = [x for k, v in given.items() for x in (k, v)]
        code, _ = run_cli("sync", "--repo", str(repo), *args)
    assert code in (0, 1, 2)
    assert not marker.exists(), f"{option} {value!r} ran a command"
    assert _digest(repo / ".git" / "hooks") == hooks and (repo / ".git" / "config").read_bytes() == config
    for argv in _argvs(log):
        try:
            checked(argv)
        except UnsafeArgument as exc:
            raise AssertionError(f"git ran with an unsafe command line {argv!r}: {exc}") from None


def _values(marker: Path) -> st.SearchStrategy[str]:
    text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=24)
    pieces = st.lists(st.one_of(st.sampled_from(FRAGMENTS), text), min_size=1, max_size=4).map("".join)
    return st.one_of(st.sampled_from(_dangerous(marker)), pieces)


def _repo(tmp_path: Path) -> Path:
    repo = init(tmp_path / "src")
    commit(repo, {"env/app.yaml": configmap("app", "v0")}, "first")
    commit(repo, {"env/app.yaml": configmap("app", "v1")}, "second")
    return repo


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_git_arguments_never_reach_git_as_options(tmp_path: Path, gitlog: Path, data: st.DataObject) -> None:
    repo = tmp_path / "src"
    if not repo.exists():
        _repo(tmp_path)
    option = data.draw(st.sampled_from(OPTIONS), label="option")
    value = data.draw(_values(tmp_path / "pwned"), label="value")
    _check(tmp_path, gitlog, repo, option, value)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzzed_git_arguments_never_reach_git_as_options_deep(tmp_path: Path, gitlog: Path,
                                                              data: st.DataObject) -> None:
    test_fuzzed_git_arguments_never_reach_git_as_options.hypothesis.inner_test(  # type: ignore[attr-defined]
        tmp_path, gitlog, data)
