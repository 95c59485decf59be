"""Lexical edits of CEL source: find and replace a free identifier outside string literals.

Used where a value cannot be bound from Python: a CRD rule with ``optionalOldSelf`` reads
``oldSelf`` as an optional, which is ``optional.none()`` on create, so the identifier is
replaced by that call before compiling. Field selections (``self.oldSelf``), string and bytes
literals (quoted, triple-quoted, raw) and ``//`` comments are left alone.
"""

from __future__ import annotations

import re

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _string_end(source: str, start: int) -> int:
    """Index just past the string literal starting at ``start`` (at its prefix or quote)."""
    i = start
    raw = False
    while i < len(source) and source[i] in "rRbB":
        raw = raw or source[i] in "rR"
        i += 1
    quote = source[i:i + 3] if source[i:i + 3] in ('"""', "'''") else source[i]
    i += len(quote)
    while i < len(source):
        if not raw and source[i] == "\\":
            i += 2
            continue
        if source.startswith(quote, i):
            return i + len(quote)
        i += 1
    return len(source)


def replace_identifier(source: str, name: str, replacement: str) -> str:
    """``source`` with every free use of identifier ``name`` replaced by ``replacement``."""
    out: list[str] = []
    i, n = 0, len(source)
    previous = ""  # last significant character outside literals
    while i < n:
        c = source[i]
        if c in "\"'" or (c in "rRbB" and i + 1 < n and (source[i + 1] in "\"'" or
                                                          (source[i + 1] in "rRbB" and i + 2 < n
                                                           and source[i + 2] in "\"'"))):
            end = _string_end(source, i)
            out.append(source[i:end])
            i, previous = end, '"'
            continue
        if source.startswith("//", i):
            end = source.find("\n", i)
            end = n if end < 0 else end
            out.append(source[i:end])
            i = end
            continue
        if c == "`":
            end = source.find("`", i + 1)
            end = n if end < 0 else end + 1
            out.append(source[i:end])
            i, previous = end, "`"
            continue
        m = _IDENT.match(source, i)
        if m:
            word = m.group(0)
            out.append(replacement if word == name and previous != "." else word)
            i, previous = m.end(), "a"
            continue
        if c.isdigit():
            m2 = re.compile(r"[0-9A-Za-z_.]+").match(source, i)
            end = m2.end() if m2 else i + 1
            out.append(source[i:end])
            i, previous = end, "0"
            continue
        out.append(c)
        if not c.isspace():
            previous = c
        i += 1
    return "".join(out)
