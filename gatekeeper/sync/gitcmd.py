"""A thin runner for git plumbing commands, used by the sync step instead of the index or work tree.

Every call is a real ``git`` process with a fixed locale (so messages can be parsed), no
terminal prompts, and errors turned into :class:`GitError` with credentials redacted.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from gatekeeper.sources.gitargs import UnsafeArgument, checked
from gatekeeper.sync.errors import SyncError, redact

ZERO = "0" * 40


class GitError(SyncError):
    """A git command failed."""

    def __init__(self, args: tuple[str, ...], code: int, stderr: str) -> None:
        first = next((line for line in stderr.splitlines() if line.strip()), "no message")
        super().__init__(f"git {' '.join(args[:2])} failed (exit {code}): {redact(first.strip())[:300]}")
        self.code = code
        self.stderr = redact(stderr)


class Git:
    """Run git in one repository."""

    def __init__(self, workdir: Path, env: Mapping[str, str] | None = None) -> None:
        self.workdir = workdir
        base = dict(os.environ)
        base.update({"LC_ALL": "C", "LANGUAGE": "C", "GIT_TERMINAL_PROMPT": "0"})
        if env:
            base.update(env)
        self.env = base

    def run(self, *args: str, data: bytes | None = None, env: Mapping[str, str] | None = None,
            timeout: float = 600) -> bytes:
        """Run ``git ARGS``; stdout bytes, or GitError on a non-zero exit."""
        proc = self.call(*args, data=data, env=env, timeout=timeout)
        if proc.returncode != 0:
            raise GitError(args, proc.returncode, proc.stderr.decode("utf-8", "replace"))
        return proc.stdout

    def call(self, *args: str, data: bytes | None = None, env: Mapping[str, str] | None = None,
             timeout: float = 600) -> subprocess.CompletedProcess[bytes]:
        """Run ``git ARGS`` and return the completed process whatever its exit code. The argv must
        have the shape ``gitargs.checked`` enforces; a value that could be read as an option is a
        SyncError before git runs."""
        try:
            argv = checked(args)
        except UnsafeArgument as exc:
            raise SyncError(f"refusing to run git: {exc}") from None
        full_env = dict(self.env)
        if env:
            full_env.update(env)
        try:
            return subprocess.run(["git", *argv], cwd=self.workdir, input=data, env=full_env,
                                  capture_output=True, timeout=timeout, check=False)
        except FileNotFoundError:
            raise SyncError("git is not installed (not found on PATH)") from None
        except subprocess.TimeoutExpired:
            raise SyncError(f"git {' '.join(args[:2])} timed out after {timeout:.0f}s") from None

    def text(self, *args: str, data: bytes | None = None) -> str:
        """Run ``git ARGS`` and return stdout decoded and stripped."""
        return self.run(*args, data=data).decode("utf-8", "replace").strip()

    def rev(self, ref: str) -> str | None:
        """The commit a ref points to, or None when it does not exist."""
        proc = self.call("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
        if proc.returncode != 0:
            return None
        return proc.stdout.decode().strip() or None

    def ref_value(self, ref: str) -> str | None:
        """The object a full ref name points to (no peeling), or None when absent."""
        proc = self.call("rev-parse", "--verify", "--quiet", "--end-of-options", ref)
        return proc.stdout.decode().strip() or None if proc.returncode == 0 else None

    def write_blob(self, data: bytes, *, write: bool = True) -> str:
        """Store (or only hash) a blob; its id."""
        args = ("hash-object", "-w", "--stdin") if write else ("hash-object", "--stdin")
        return self.text(*args, data=data)

    def blob_at(self, commit: str, path: str) -> bytes | None:
        """The content of ``path`` in a commit, or None when the commit has no such file."""
        proc = self.call("cat-file", "--end-of-options", "blob", f"{commit}:{path}")
        return proc.stdout if proc.returncode == 0 else None

    def is_ancestor(self, older: str, newer: str) -> bool | None:
        """True/False when known; None when either commit is missing locally."""
        proc = self.call("merge-base", "--is-ancestor", "--end-of-options", older, newer)
        if proc.returncode == 0:
            return True
        if proc.returncode == 1:
            return False
        return None
