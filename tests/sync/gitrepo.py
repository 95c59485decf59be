"""Real git repositories in temp dirs for the sync tests: a source repo, a bare remote, clones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.conftest import run_cli

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}
BRANCH = "environments/prod"


def git(repo: Path, *args: str, data: bytes | None = None) -> str:
    """Run git in ``repo``; stdout (stripped); fails the test on a non-zero exit."""
    proc = subprocess.run(["git", *args], cwd=repo, input=data, capture_output=True,
                          env={**os.environ, **GIT_ENV})
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr.decode()}"
    return proc.stdout.decode().strip()


def rev(repo: Path, ref: str) -> str | None:
    """The commit a ref names, or None."""
    proc = subprocess.run(["git", "rev-parse", "--verify", "--quiet", ref], cwd=repo, capture_output=True)
    return proc.stdout.decode().strip() or None


def init(path: Path) -> Path:
    """A new repository with identity configured locally."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Dev")
    git(path, "config", "user.email", "dev@example.com")
    git(path, "config", "commit.gpgsign", "false")
    return path


def commit(repo: Path, files: dict[str, str | None], message: str) -> str:
    """Write (or with None delete) files, commit them all, return the commit id."""
    for rel, text in files.items():
        path = repo / rel
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def configmap(name: str, value: str, namespace: str = "shop") -> str:
    return (f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
            f"data:\n  key: {value}\n")


def sync(repo: Path, *args: str) -> tuple[int, str]:
    """``gatekeeper sync --repo REPO -b environments/prod ARGS`` in-process."""
    return run_cli("sync", "--repo", str(repo), "--target-branch", BRANCH, *args)


def sync_process(repo: Path, *args: str, env: dict[str, str] | None = None,
                 branch: str = BRANCH) -> subprocess.CompletedProcess[str]:
    """The same as a real process (for kills and concurrency)."""
    return subprocess.run([sys.executable, "-m", "gatekeeper", "sync", "--repo", str(repo),
                           "--target-branch", branch, *args],
                          cwd=repo, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **GIT_ENV, **(env or {})})


def tree(repo: Path, ref: str) -> list[str]:
    """Every file path of a commit."""
    return sorted(git(repo, "ls-tree", "-r", "--name-only", ref).splitlines())


def show(repo: Path, ref: str, path: str) -> str:
    return git(repo, "show", f"{ref}:{path}")


def trailers(repo: Path, ref: str) -> dict[str, str]:
    """The commit's trailers as git itself parses them."""
    raw = git(repo, "log", "-1", "--format=%(trailers:only,unfold)", ref)
    return dict(line.split(": ", 1) for line in raw.splitlines() if line)


def note(repo: Path, ref: str) -> dict[str, Any]:
    """The gate's note on a commit, parsed."""
    loaded: dict[str, Any] = json.loads(git(repo, "notes", "--ref", "gatekeeper", "show", ref))
    return loaded
