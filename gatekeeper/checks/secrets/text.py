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

MAX_LINE = 64 * 1024  # a longer line (minified bundle) is searched for token families only, in windows
_OVERLAP = 4096  # windows overlap by more than any token is long, so none is cut in two unseen
_ASSIGNMENT = re.compile(r"""^\s*(?:-\s+)?(?:export\s+)?["']?([A-Za-z_][\w.\-]*)["']?\s*[:=]\s*(\S.*?)\s*,?\s*$""")


def scan_text(scanner: Scanner, text: str) -> Iterator[tuple[int, int, Hit]]:
    """(1-based line, 1-based column, hit) of every credential in ``text``."""
    for number, line in enumerate(text.splitlines(), 1):
        if len(line) > MAX_LINE:
            yield from _long_line(scanner, number, line)
            continue
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


def _long_line(scanner: Scanner, number: int, line: str) -> Iterator[tuple[int, int, Hit]]:
    """Token families in a line too long to judge as an assignment, searched window by window."""
    seen: set[tuple[int, str]] = set()
    for start in range(0, len(line), MAX_LINE - _OVERLAP):
        window = line[start:start + MAX_LINE]
        before = len(scanner.hits)
        scanner.tokens(window, (), "in the file")
        for hit in scanner.hits[before:]:
            at = start + max(window.find(hit.value), 0)
            if (at, hit.value) not in seen:
                seen.add((at, hit.value))
                yield number, at + 1, hit
        del scanner.hits[before:]
        if start + MAX_LINE >= len(line):
            break


def comments(text: str) -> Iterator[tuple[int, int, str]]:
    """(1-based line, 1-based column, text) of every YAML comment: a ``#`` at the start of a line or
    after a blank, outside quotes (text in a block scalar that looks like one is a value, and
    searched as such too)."""
    if "#" not in text:
        return
    for number, line in enumerate(text.splitlines(), 1):
        if "#" not in line:
            continue
        at = _comment_start(line[:MAX_LINE])
        if at is not None:
            yield number, at + 1, line[at + 1:]


def _comment_start(line: str) -> int | None:
    quote = ""
    i = 0
    while i < len(line):
        char = line[i]
        if quote:
            if quote == '"' and char == "\\":
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char in "\"'" and (i == 0 or line[i - 1] in " \t:[{,-"):
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t"):
            return i
        i += 1
    return None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] in "\"'":
        end = value.find(value[0], 1)
        if end > 0:
            return value[1:end]
    return value.split(" #", 1)[0].rstrip()
