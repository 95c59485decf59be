"""Inline suppression comments on the finding's line or the line above.

``# gatekeeper:allow <rule> reason="..."`` waives one rule (or ``secrets``/``*`` for all of
this check's rules) and must give a reason; ``gitleaks:allow`` and ``pragma: allowlist secret``
are honoured for teams migrating from gitleaks and detect-secrets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ALLOW = re.compile(r"gatekeeper:allow\s+([A-Za-z0-9_*.\-]+)(?:\s+reason\s*=\s*(?:\"([^\"]*)\"|'([^']*)'))?")
_FOREIGN = (("gitleaks:allow", "gitleaks:allow comment"),
            ("pragma: allowlist secret", "pragma: allowlist secret comment"))


@dataclass(frozen=True, slots=True)
class Allow:
    """An inline suppression found for a finding; ``reason`` is None when the comment lacks one."""

    line: int
    reason: str | None
    marker: str


def may_allow(text: str) -> bool:
    """Whether ``text`` holds any allow marker at all (a file without one needs no line search)."""
    return "gatekeeper:allow" in text or any(marker in text for marker, _ in _FOREIGN)


def find_allow(lines: list[str], line: int, rule: str) -> Allow | None:
    """The suppression comment covering ``rule`` at 1-based ``line`` (same line first, then above)."""
    for number in (line, line - 1):
        if not 1 <= number <= len(lines):
            continue
        text = lines[number - 1]
        if "#" not in text and "//" not in text:
            continue
        for m in _ALLOW.finditer(text):
            if m.group(1) in (rule, "secrets", "*"):
                reason = m.group(2) if m.group(2) is not None else m.group(3)
                given = reason.strip() if reason and reason.strip() else None
                return Allow(number, given, "gatekeeper:allow")
        for marker, reason in _FOREIGN:
            if marker in text:
                return Allow(number, reason, marker)
    return None
