"""Credentials in committed text no parser reads (Helm chart templates, helpers and files/, upper-case
YAML extensions): each line is searched for token families and judged as a credential assignment
(``key: value``, ``key=value``, ``"key": "value"``) when it is one, at its own line.

A value that holds a template action (``{{ .Values.password }}``) is filled in at render time and
judged in the rendered object instead; any token family on such a line is still reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from gatekeeper.checks.secrets.scan import Hit, Place, Scanner

MAX_LINE = 64 * 1024  # a longer line (minified bundle) is searched in its first part only
_ASSIGNMENT = re.compile(r"""^\s*(?:-\s+)?(?:export\s+)?["']?([A-Za-z_][\w.\-]*)["']?\s*[:=]\s*(\S.*?)\s*,?\s*$""")


def scan_text(scanner: Scanner, text: str) -> Iterator[tuple[int, int, Hit]]:
    """(1-based line, 1-based column, hit) of every credential in ``text``."""
    for number, line in enumerate(text.splitlines(), 1):
        line = line[:MAX_LINE]
        before = len(scanner.hits)
        match = _ASSIGNMENT.match(line)
        value = _unquote(match.group(2)) if match is not None else ""
        if match is not None and "{{" not in value and "}}" not in value:
            key = match.group(1)
            scanner.value(key, value, (key,), Place.CONFIG)
        else:
            scanner.tokens(line, (), "in the file")
        for hit in scanner.hits[before:]:
            at = line.find(hit.value)
            yield number, (at + 1 if at >= 0 else 1), hit
        del scanner.hits[before:]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] in "\"'":
        end = value.find(value[0], 1)
        if end > 0:
            return value[1:end]
    return value.split(" #", 1)[0].rstrip()
