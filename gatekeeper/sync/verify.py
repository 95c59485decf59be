"""``gatekeeper sync --verify-branch``: every commit on the branch carries a passing verdict.

For auditors and for a required status check: a commit pushed to the deploy branch by
hand (or by anything but a passing sync) has no ``Gate-Verdict: pass`` trailer and is
listed. With ``require_signed`` each commit must also have a good signature (``%G?`` G/U).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gatekeeper.sync.gitcmd import Git

_FIELD, _RECORD = "\x1f", "\x1e"
_TRAILERS = [f"%(trailers:key={key},valueonly,separator=%x2C)"
             for key in ("Gate-Verdict", "Gate-Source", "Gate-Policy-Digest")]
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Problem:
    """A commit that does not carry a valid verdict."""

    commit: str
    subject: str
    reason: str


def verify(git: Git, tip: str, since: str | None = None,
           require_signed: bool = False) -> tuple[int, list[Problem]]:
    """(commits checked, problems) for every commit reachable from ``tip`` (after ``since``)."""
    rev_range = f"{since}..{tip}" if since else tip
    signature_field = "%G?" if require_signed else "-"  # %G? runs gpg/ssh once per commit: only on request
    fmt = _FIELD.join(["%H", "%s", signature_field, *_TRAILERS]) + _RECORD
    raw = git.run("log", f"--format={fmt}", "--end-of-options", rev_range).decode("utf-8", "replace")
    problems = []
    count = 0
    for record in raw.split(_RECORD):
        record = record.strip("\n")
        if not record:
            continue
        count += 1
        sha, subject, signature, verdict, source, digest = (record.split(_FIELD) + [""] * 6)[:6]
        reason = _reason(verdict.strip(), source.strip(), digest.strip())
        if reason is None and require_signed and signature not in ("G", "U"):
            reason = f"no good signature (git reports {signature or 'N'!r})"
        if reason is not None:
            problems.append(Problem(sha, subject, reason))
    return count, problems


def _reason(verdict: str, source: str, digest: str) -> str | None:
    if verdict != "pass":
        return "no Gate-Verdict: pass trailer" if not verdict else f"Gate-Verdict is {verdict!r}"
    if not _SHA.match(source):
        return "no valid Gate-Source trailer"
    if not _DIGEST.match(digest):
        return "no valid Gate-Policy-Digest trailer"
    return None
