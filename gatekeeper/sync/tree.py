"""Build a new tree from a base tree and a set of file changes, with ``git mktree`` only.

Only the directories on a changed path are rewritten; every other subtree keeps its id, so
a deploy branch with thousands of files costs a handful of git calls. Nothing touches the
index or a work tree.
"""

from __future__ import annotations

from dataclasses import dataclass

from gatekeeper.sync.gitcmd import Git

FILE_MODE = "100644"


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a tree object."""

    mode: str
    type: str
    oid: str
    name: str


def entries(git: Git, tree: str) -> list[Entry]:
    """The direct entries of a tree."""
    out = []
    for record in git.run("ls-tree", "-z", "--end-of-options", tree).split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        mode, kind, oid = meta.decode().split(" ")
        out.append(Entry(mode, kind, oid, name.decode("utf-8", "surrogateescape")))
    return out


def files(git: Git, commit: str, paths: list[str] | None = None) -> dict[str, str]:
    """``path -> blob id`` of every file of a commit (optionally only under ``paths``)."""
    args = ["ls-tree", "-r", "-z", "--full-tree", "--end-of-options", commit]
    if paths:
        args += ["--", *paths]
    out: dict[str, str] = {}
    for record in git.run(*args).split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        _mode, kind, oid = meta.decode().split(" ")
        if kind == "blob":
            out[name.decode("utf-8", "surrogateescape")] = oid
    return out


def build(git: Git, base: str | None, changes: dict[str, str | None]) -> str | None:
    """The id of ``base`` with ``changes`` applied (path -> blob id, None deletes); None when empty."""
    current = {e.name: e for e in entries(git, base)} if base else {}
    here: dict[str, str | None] = {}
    below: dict[str, dict[str, str | None]] = {}
    for path, oid in changes.items():
        head, sep, rest = path.partition("/")
        if sep:
            below.setdefault(head, {})[rest] = oid
        else:
            here[head] = oid
    for name, oid in here.items():
        if oid is None:
            current.pop(name, None)
        else:
            current[name] = Entry(FILE_MODE, "blob", oid, name)
    for name, sub in below.items():
        old = current.get(name)
        sub_base = old.oid if old is not None and old.type == "tree" else None
        new = build(git, sub_base, sub)
        if new is None:
            current.pop(name, None)
        else:
            current[name] = Entry("040000", "tree", new, name)
    if not current:
        return None
    listing = b"".join(f"{e.mode} {e.type} {e.oid}\t{e.name}".encode("utf-8", "surrogateescape") + b"\0"
                       for e in current.values())
    return git.text("mktree", "-z", data=listing)
