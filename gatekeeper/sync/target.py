"""Where the target branch lives, and compare-and-swap updates of it.

A local target moves ``refs/heads/<branch>`` and ``refs/notes/gatekeeper`` in one
``git update-ref --stdin`` transaction that only succeeds if both still hold the values
read at the start. A remote target fetches both refs into private per-run refs and pushes
with ``--atomic`` and ``--force-with-lease`` on both, which the remote applies only if they
are unchanged; a rejection caused by another sync having moved them is a lost race.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from gatekeeper.sync.errors import SyncError
from gatekeeper.sync.gitcmd import ZERO, Git, GitError

NOTES_REF = "refs/notes/gatekeeper"
PRIVATE_REFS = "refs/gatekeeper/sync/"
# git waits 100 ms for a ref lock (core.filesRefLockTimeout) and holds one for milliseconds: a lock
# file older than this was left by a git process that was killed, and nothing will remove it.
STALE_LOCK_SECONDS = 5.0
_LOCK_PATH = re.compile(r"Unable to create '([^']+\.lock)'")


class StaleLock(SyncError):
    """A ref lock file that no running git holds: every later update would fail the same way."""


def stale_lock(stderr: str, workdir: Path) -> StaleLock | None:
    """The error for a lock file named in git's message that has outlived any git process, or None."""
    match = _LOCK_PATH.search(stderr)
    if match is None:
        return None
    lock = Path(match.group(1))
    try:
        age = time.time() - lock.stat().st_mtime
    except OSError:
        return None  # released meanwhile: it was a live lock
    if age < STALE_LOCK_SECONDS:
        return None
    try:
        shown = lock.relative_to(workdir).as_posix()
    except ValueError:
        shown = str(lock)
    return StaleLock(f"{shown} is a ref lock left {_age(age)} ago, probably by a killed git or sync: no running "
                     "git holds a lock that long. Remove it once no git command is running in this repository, "
                     "then re-run")


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True, slots=True)
class State:
    """The branch tip and the notes tip as read (None: the ref does not exist)."""

    tip: str | None
    notes: str | None


class LocalTarget:
    """The branch in the local repository."""

    def __init__(self, git: Git, branch: str) -> None:
        self.git = git
        self.branch = branch
        self.ref = f"refs/heads/{branch}"

    def describe(self) -> str:
        return self.branch

    def read(self) -> State:
        return State(self.git.ref_value(self.ref), self.git.ref_value(NOTES_REF))

    def write(self, old: State, commit: str, notes: str) -> bool:
        """Move both refs atomically; False when either moved since ``old`` was read."""
        script = (f"update {NOTES_REF} {notes} {old.notes or ZERO}\n"
                  f"update {self.ref} {commit} {old.tip or ZERO}\n")
        proc = self.git.call("update-ref", "--stdin", data=script.encode())
        if proc.returncode == 0:
            return True
        stderr = proc.stderr.decode("utf-8", "replace")
        left = stale_lock(stderr, self.git.workdir)
        if left is not None:
            raise left  # not a lost race: every retry would meet the same file
        if self.read() != old or "lock" in stderr:
            return False  # another sync moved a ref, or holds its lock while moving it
        raise GitError(("update-ref", self.ref), proc.returncode, stderr)

    def close(self) -> None:
        """Nothing to clean up for a local branch."""


class RemoteTarget:
    """The branch on a remote; fetched into private refs, pushed atomically with leases."""

    def __init__(self, git: Git, branch: str, remote: str) -> None:
        self.git = git
        self.branch = branch
        self.remote = remote
        self.ref = f"refs/heads/{branch}"
        self.private = f"{PRIVATE_REFS}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._swept = False

    def describe(self) -> str:
        return f"{self.remote}/{self.branch}"

    def _remote_values(self) -> dict[str, str]:
        out = self.git.text("ls-remote", "--refs", "--end-of-options", self.remote, self.ref, NOTES_REF)
        values: dict[str, str] = {}
        for line in out.splitlines():
            oid, _, name = line.partition("\t")
            values[name.strip()] = oid.strip()
        return values

    def sweep(self) -> None:
        """Delete private fetch refs of syncs that were killed before ``close`` (their process is gone)."""
        listing = self.git.text("for-each-ref", "--format=%(refname)", "--end-of-options", PRIVATE_REFS)
        for ref in listing.splitlines():
            owner = ref[len(PRIVATE_REFS):].partition("-")[0]
            if owner.isdigit() and not _running(int(owner)):
                self.git.call("update-ref", "-d", "--end-of-options", ref)

    def read(self) -> State:
        if not self._swept:
            self._swept = True
            self.sweep()
        present = self._remote_values()
        specs = [f"+{ref}:{self.private}/{name}" for ref, name in ((self.ref, "branch"), (NOTES_REF, "notes"))
                 if ref in present]
        if specs:
            self.git.run("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--end-of-options",
                         self.remote, *specs)
        tip = self.git.ref_value(f"{self.private}/branch") if self.ref in present else None
        notes = self.git.ref_value(f"{self.private}/notes") if NOTES_REF in present else None
        return State(tip, notes)

    def write(self, old: State, commit: str, notes: str) -> bool:
        """Push both refs atomically; False when the remote moved since ``old`` was read."""
        proc = self.git.call(
            "push", "--porcelain", "--atomic", "--no-verify",
            f"--force-with-lease={self.ref}:{old.tip or ''}",
            f"--force-with-lease={NOTES_REF}:{old.notes or ''}",
            "--end-of-options", self.remote, f"{commit}:{self.ref}", f"{notes}:{NOTES_REF}")
        if proc.returncode == 0:
            self._mirror(commit, notes)
            return True
        now = self._remote_values()
        if now.get(self.ref) != old.tip or now.get(NOTES_REF) != old.notes:
            return False  # another sync won: the caller starts again from the top
        raise GitError(("push", self.remote), proc.returncode,
                       proc.stderr.decode("utf-8", "replace") or proc.stdout.decode("utf-8", "replace"))

    def _mirror(self, commit: str, notes: str) -> None:
        """Move the local branch and notes to what was pushed, when that is a fast-forward."""
        for ref, new in ((self.ref, commit), (NOTES_REF, notes)):
            current = self.git.ref_value(ref)
            if current is None or self.git.is_ancestor(current, new):
                self.git.call("update-ref", "--end-of-options", ref, new, current or ZERO)

    def close(self) -> None:
        """Drop the private fetch refs (the objects stay until git's own pruning)."""
        for name in ("branch", "notes"):
            ref = f"{self.private}/{name}"
            if self.git.ref_value(ref) is not None:
                self.git.call("update-ref", "-d", "--end-of-options", ref)


Target = LocalTarget | RemoteTarget


def _running(pid: int) -> bool:
    """Whether a process with this id exists on this machine (another user's counts as running)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
