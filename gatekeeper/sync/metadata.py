"""The files the step writes beside each manifest, in the Argo CD source hydrator layout.

``<path>/hydrator.metadata`` (repoURL, drySha, commands), a root ``hydrator.metadata``
(repoURL, drySha, author, date, subject, body) that GitOps Promoter reads, a short
``<path>/README.md``, and ``.gatekeeper-sync.json``: the list of files the step owns, so it
can remove its own stale files and never touch anybody else's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

METADATA = "hydrator.metadata"
README = "README.md"
OWNED = ".gatekeeper-sync.json"
OWNED_VERSION = 1


@dataclass(frozen=True, slots=True)
class DryCommit:
    """What the root metadata says about the source ("dry") commit."""

    sha: str
    author: str
    date: str
    subject: str
    body: str
    repo_url: str = ""  # only for a hydrated source: the dry repository it names


def _json(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def root_metadata(repo_url: str, dry: DryCommit) -> bytes:
    """The branch's root ``hydrator.metadata``."""
    return _json({"repoURL": repo_url, "drySha": dry.sha, "author": dry.author, "date": dry.date,
                  "subject": dry.subject, "body": dry.body})


def path_metadata(repo_url: str, dry_sha: str, commands: list[str]) -> bytes:
    """A path's ``hydrator.metadata``."""
    return _json({"repoURL": repo_url, "drySha": dry_sha, "commands": commands})


def readme(source_path: str, commands: list[str]) -> bytes:
    """A path's README: where the manifest came from and how to reproduce it."""
    steps = "\n".join(f"    {c}" for c in commands)
    text = (
        "# Rendered manifests\n\n"
        "This directory is written by `gatekeeper sync`; do not edit it by hand (the next sync\n"
        "overwrites it). `manifest.yaml` holds every object rendered from `"
        f"{source_path}` in the source\nrepository, after the full policy gate passed on it.\n\n"
        "It was rendered at the commit named by `drySha` in `hydrator.metadata` with:\n\n"
        f"{steps}\n\n"
        "and normalised (objects sorted by group, kind, namespace and name; keys sorted). Running\n"
        "`gatekeeper sync --diff` with the same options shows whether it still matches its source.\n\n"
        "The commit that wrote this directory carries `Gate-*` trailers (verdict, source commit,\n"
        "policy digest) and a git note under `refs/notes/gatekeeper` with the report summary.\n"
    )
    return text.encode("utf-8")


def owned_record(paths: list[str]) -> bytes:
    """The list of files the step owns on the branch."""
    return _json({"version": OWNED_VERSION, "files": sorted(paths)})


def parse_owned(data: bytes | None) -> list[str]:
    """Files listed in an ownership record (empty for none or an unreadable record)."""
    if data is None:
        return []
    try:
        value = json.loads(data)
    except ValueError:
        return []
    files = value.get("files") if isinstance(value, dict) else None
    return [f for f in files if isinstance(f, str)] if isinstance(files, list) else []


def hydrated_origin(data: bytes | None) -> DryCommit | None:
    """The dry commit a hydrated source names in its root ``hydrator.metadata`` (promotion of an
    Argo CD ``hydrateTo`` branch), or None when the source is not a hydrated branch."""
    if data is None:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("drySha"), str) or not value["drySha"]:
        return None
    fields = [value.get(k) for k in ("author", "date", "subject", "body")]
    author, date, subject, body = (f if isinstance(f, str) else "" for f in fields)
    url = value.get("repoURL")
    return DryCommit(value["drySha"], author, date, subject, body, url if isinstance(url, str) else "")


def is_metadata(path: str) -> bool:
    """True for the files that change with every source commit (not part of the rendered output)."""
    return path == METADATA or path.endswith("/" + METADATA)
