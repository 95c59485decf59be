"""Where the target branch lives, and compare-and-swap updates of it.

A local target moves ``refs/heads/<branch>`` and ``refs/notes/gatekeeper`` in one
``git update-ref --stdin`` transaction that only succeeds if both still hold the values
read at the start. A remote target fetches both refs into private per-run refs and pushes
with ``--atomic`` and ``--force-with-lease`` on both, which the remote applies only if they
are unchanged; a rejection caused by another sync having moved them is a lost race.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

from gatekeeper.sync.gitcmd import ZERO, Git, GitError

NOTES_REF = "refs/notes/gatekeeper"


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
        self.private = f"refs/gatekeeper/sync/{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def describe(self) -> str:
        return f"{self.remote}/{self.branch}"

    def _remote_values(self) -> dict[str, str]:
        out = self.git.text("ls-remote", "--refs", self.remote, self.ref, NOTES_REF)
        values: dict[str, str] = {}
        for line in out.splitlines():
            oid, _, name = line.partition("\t")
            values[name.strip()] = oid.strip()
        return values

    def read(self) -> State:
        present = self._remote_values()
        specs = [f"+{ref}:{self.private}/{name}" for ref, name in ((self.ref, "branch"), (NOTES_REF, "notes"))
                 if ref in present]
        if specs:
            self.git.run("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", self.remote, *specs)
        tip = self.git.ref_value(f"{self.private}/branch") if self.ref in present else None
        notes = self.git.ref_value(f"{self.private}/notes") if NOTES_REF in present else None
        return State(tip, notes)

    def write(self, old: State, commit: str, notes: str) -> bool:
        """Push both refs atomically; False when the remote moved since ``old`` was read."""
        proc = self.git.call(
            "push", "--porcelain", "--atomic", "--no-verify",
            f"--force-with-lease={self.ref}:{old.tip or ''}",
            f"--force-with-lease={NOTES_REF}:{old.notes or ''}",
            self.remote, f"{commit}:{self.ref}", f"{notes}:{NOTES_REF}")
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
                self.git.call("update-ref", ref, new, current or ZERO)

    def close(self) -> None:
        """Drop the private fetch refs (the objects stay until git's own pruning)."""
        for name in ("branch", "notes"):
            ref = f"{self.private}/{name}"
            if self.git.ref_value(ref) is not None:
                self.git.call("update-ref", "-d", ref)


Target = LocalTarget | RemoteTarget
