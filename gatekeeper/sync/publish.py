"""Turn the rendered, checked files into one commit on the target branch, safely.

Every attempt reads the branch, writes blobs, trees, the commit and its notes commit as
plain objects (nothing is reachable yet), then moves the refs with a compare-and-swap. A
crash before the swap leaves only unreachable objects; the swap itself is atomic. Losing
the swap to another sync means starting again from the top, a bounded number of times.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from gatekeeper.sync import tree
from gatekeeper.sync.errors import SyncError
from gatekeeper.sync.faults import fault
from gatekeeper.sync.gitcmd import Git
from gatekeeper.sync.metadata import OWNED, is_metadata, parse_owned
from gatekeeper.sync.target import State, Target

DEFAULT_IDENTITY = {"GIT_AUTHOR_NAME": "gitops-gatekeeper", "GIT_AUTHOR_EMAIL": "gatekeeper@localhost",
                    "GIT_COMMITTER_NAME": "gitops-gatekeeper", "GIT_COMMITTER_EMAIL": "gatekeeper@localhost"}
NOTES_MESSAGE = "Notes added by 'gatekeeper sync'\n"


@dataclass(slots=True)
class Publication:
    """What to publish: the owned files (branch path -> bytes), the message and the note."""

    source: str
    files: dict[str, bytes]
    message: str
    note: bytes
    sign: bool = False


@dataclass(slots=True)
class Outcome:
    """What happened: ``published``, ``unchanged`` or ``stale`` (the branch holds a newer source)."""

    status: str
    commit: str | None
    previous: str | None
    attempts: int
    removed: list[str] = field(default_factory=list)
    detail: str = ""


@dataclass(slots=True)
class Changes:
    """The blob changes of one attempt against the branch tip it read."""

    changes: dict[str, str | None]
    removed: list[str]
    content_changed: bool


def plan(git: Git, base: str | None, pub: Publication) -> Changes:
    """Blob ids of the new files, the stale owned files to remove, and whether the output changed."""
    previous = parse_owned(git.blob_at(base, OWNED)) if base else []
    existing = tree.files(git, base, sorted(set(pub.files) | set(previous))) if base else {}
    changes: dict[str, str | None] = {path: git.write_blob(data) for path, data in sorted(pub.files.items())}
    removed = sorted(p for p in previous if p not in pub.files and p in existing)
    for path in removed:
        changes[path] = None
    changed = bool(removed) or any(existing.get(path) != oid for path, oid in changes.items()
                                   if oid is not None and not is_metadata(path))
    return Changes(changes, removed, changed)


def identity_env(git: Git) -> dict[str, str]:
    """A fallback author/committer when git has none configured (fresh CI runners)."""
    return {} if git.call("var", "GIT_COMMITTER_IDENT").returncode == 0 else dict(DEFAULT_IDENTITY)


def commit_tree(git: Git, tree_id: str, parent: str | None, message: str, *, sign: bool,
                env: dict[str, str]) -> str:
    """Write a commit object (signed with git's own signing config when asked)."""
    args = ["commit-tree", *([f"-p{parent}"] if parent else []), *(["-S"] if sign else []), "-F", "-",
            "--end-of-options", tree_id]
    return git.run(*args, data=message.encode("utf-8"), env=env).decode().strip()


def note_commit(git: Git, notes_base: str | None, commit: str, note: bytes, env: dict[str, str]) -> str:
    """A new commit of the notes ref holding ``note`` for ``commit`` (on top of ``notes_base``)."""
    blob = git.write_blob(note)
    base_tree = git.text("rev-parse", "--verify", "--end-of-options", f"{notes_base}^{{tree}}") \
        if notes_base else None
    notes_tree = tree.build(git, base_tree, {commit: blob})
    assert notes_tree is not None
    return commit_tree(git, notes_tree, notes_base, NOTES_MESSAGE, sign=False, env=env)


def gate_source(git: Git, commit: str) -> str | None:
    """The ``Gate-Source`` trailer of a commit (the source commit a sync checked), if any."""
    value = git.text("log", "-1", "--format=%(trailers:key=Gate-Source,valueonly,separator=%x2C)",
                     "--end-of-options", commit)
    return value.split(",")[0].strip() or None


def newer_source(git: Git, base: str | None, source: str) -> str | None:
    """The branch's source commit when it is a strict descendant of ``source`` (publishing would go back)."""
    if base is None:
        return None
    current = gate_source(git, base)
    if current is None or current == source:
        return None
    return current if git.is_ancestor(source, current) else None


def publish(git: Git, target: Target, pub: Publication, retries: int) -> Outcome:
    """Publish with compare-and-swap; retry from the top when another sync moved the branch."""
    env = identity_env(git)
    for attempt in range(1, retries + 2):
        old: State = target.read()
        newer = newer_source(git, old.tip, pub.source)
        if newer is not None:
            return Outcome("stale", old.tip, old.tip, attempt,
                           detail=f"{target.describe()} already holds source {newer[:12]}, "
                                  f"a descendant of {pub.source[:12]}")
        planned = plan(git, old.tip, pub)
        if not planned.content_changed:
            return Outcome("unchanged", old.tip, old.tip, attempt,
                           detail="the rendered output is identical to the branch")
        base_tree = git.text("rev-parse", "--verify", "--end-of-options", f"{old.tip}^{{tree}}") if old.tip else None
        new_tree = tree.build(git, base_tree, planned.changes)
        if new_tree is None:
            raise SyncError("internal error: the new tree is empty")
        fault("objects")
        commit = commit_tree(git, new_tree, old.tip, pub.message, sign=pub.sign, env=env)
        notes = note_commit(git, old.notes, commit, pub.note, env)
        fault("commit")
        if target.write(old, commit, notes):
            fault("updated")
            return Outcome("published", commit, old.tip, attempt, planned.removed)
        if attempt <= retries:
            time.sleep(random.uniform(0.01, min(1.0, 0.05 * 2 ** attempt)))
    raise SyncError(f"another sync moved {target.describe()} on each of {retries + 1} attempts; "
                    "nothing was published (re-run the sync)")
