"""Source rewrites for what Kubernetes' CEL has and the runtime cannot declare or run.

**``string(ip)`` and ``string(cidr)``.**
Kubernetes adds overloads of the standard ``string()`` conversion for its IP and CIDR types. The
runtime refuses a second declaration of a standard function, so the engine declares them under
another name (``STRING``) and, only for an expression whose type check fails on ``string`` of one
of those types, calls that name at the calls the checker named (by their position; ``string(``
calls are found outside literals and comments) and compiles again. Every other ``string()`` call
keeps the runtime's own conversion. A value only known at run time to be an IP (``string(dyn(x))``)
is not converted.

**The format library** (``format.named(n)``, ``<Format>.validate(s)``) returns optional values,
which the runtime cannot build from Python: ``x.validate(s)`` is evaluated as
``x.kubernetesFormatCheck(s)[?"errors"]`` and ``format.named(n)`` as
``kubernetesFormatNamed(n)[?"format"]`` (maps that hold the key only when there is a value; CEL's
optional index turns them into the optionals Kubernetes returns; ``gatekeeper.cel.lib.format``).

**``transformMap`` and ``transformMapEntry``** (two-variable comprehensions). The runtime parses and
type-checks them, but has no implementation of the map insertion their expansion calls. So
``m.transformMap(k, v, [filter,] t)`` is evaluated as ``m.transformList(k, v, [filter,] {k: t})``
and ``m.transformMapEntry(k, v, [filter,] e)`` as ``m.transformList(k, v, [filter,] e)``, each
followed by ``ENTRIES``, a library function merging the list of maps in order, an error on a
repeated key as in Kubernetes ("insert failed: key ... already exists"). Only an expression that
compiles as written is rewritten, so compile errors keep their positions.
"""

from __future__ import annotations

import re

STRING = "kubernetes.string"
ENTRIES = "kubernetesMapOfEntries"  # a member function: it follows the rewritten call
_TRANSFORM = re.compile(r"\.\s*(transformMapEntry|transformMap)\s*\(")
NEEDS = re.compile(r"no matching overload for 'string' applied to '\(kubernetes\.(IP|CIDR)\)'")
_ERROR = re.compile(r"ERROR: <input>:(\d+):(\d+): found " + NEEDS.pattern)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FORMAT_CHECK = "kubernetesFormatCheck"
FORMAT_NAMED = "kubernetesFormatNamed"
_FORMAT_CALLS = re.compile(r"(?<![\w.])format\s*\.\s*named\s*\(|\.\s*validate\s*\(")


def string_calls(source: str) -> list[int]:
    """Offsets of the ``string`` identifiers called as a global function in ``source``."""
    out: list[int] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c == "/" and source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if c in "'\"":
            i = _skip_literal(source, i)
            continue
        if c.isalpha() or c == "_":
            m = _IDENT.match(source, i)
            end = m.end() if m else i + 1
            if end < n and source[end] in "'\"" and source[i:end].lower() in ("r", "b", "rb", "br"):
                i = _skip_literal(source, end, raw="r" in source[i:end].lower())
                continue
            before = source[:i].rstrip()
            if source[i:end] == "string" and not before.endswith(".") and source[end:].lstrip().startswith("("):
                out.append(i)
            i = end
            continue
        i += 1
    return out


def _skip_literal(source: str, i: int, raw: bool = False) -> int:
    """The offset just after the string literal starting at ``i``."""
    quote = source[i:i + 3] if source[i:i + 3] in ("'''", '"""') else source[i]
    j, n = i + len(quote), len(source)
    while j < n:
        if not raw and source[j] == "\\":
            j += 2
            continue
        if source.startswith(quote, j):
            return j + len(quote)
        j += 1
    return n


def renamed(source: str, message: str) -> str | None:
    """``source`` with the ``string(`` calls that ``message`` (the type checker's) says take an IP or a
    CIDR renamed to ``STRING``; None when no such call is found."""
    starts = [0]
    for text in source.split("\n"):
        starts.append(starts[-1] + len(text) + 1)
    wanted = set()
    for m in _ERROR.finditer(message):
        row, column = int(m.group(1)), int(m.group(2))
        if 1 <= row < len(starts):
            wanted.add(starts[row - 1] + column - 1)  # the call's "("
    chosen = [at for at in string_calls(source) if source.index("(", at) in wanted]
    return _rename(source, chosen) if chosen else None


def _rename(source: str, offsets: list[int]) -> str:
    out, last = [], 0
    for at in sorted(offsets):
        out.append(source[last:at])
        out.append(STRING)
        last = at + len("string")
    out.append(source[last:])
    return "".join(out)


def _code(source: str) -> list[bool]:
    """For each offset: True when it is code (not inside a string literal or a comment)."""
    out = [True] * len(source)
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c == "/" and source.startswith("//", i):
            end = source.find("\n", i)
            end = n if end < 0 else end
            out[i:end] = [False] * (end - i)
            i = end
            continue
        if c in "'\"":
            j = i
            while j > 0 and i - j < 2 and source[j - 1] in "rRbB":
                j -= 1
            standalone = j == 0 or not (source[j - 1].isalnum() or source[j - 1] == "_")
            end = _skip_literal(source, i, raw=standalone and "r" in source[j:i].lower())
            out[i:end] = [False] * (end - i)
            i = end
            continue
        i += 1
    return out


def _arguments(source: str, code: list[bool], open_at: int) -> tuple[list[tuple[int, int]], int] | None:
    """The top-level argument spans of the call whose "(" is at ``open_at``, and its ")" offset."""
    depth, start, spans = 0, open_at + 1, []
    for i in range(open_at, len(source)):
        if not code[i]:
            continue
        c = source[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                spans.append((start, i))
                return spans, i
        elif c == "," and depth == 1:
            spans.append((start, i))
            start = i + 1
    return None


def transforms(source: str) -> str | None:
    """``source`` with every ``transformMap``/``transformMapEntry`` call evaluated through
    ``transformList`` and ``ENTRIES``; None when it has none."""
    text, changed = source, False
    while True:
        code = _code(text)
        found = [m for m in _TRANSFORM.finditer(text) if code[m.start()]]
        if not found:
            return text if changed else None
        m = found[-1]  # the innermost-last first: earlier calls may contain it
        parsed = _arguments(text, code, m.end() - 1)
        if parsed is None:
            return text if changed else None
        spans, close = parsed
        if len(spans) not in (3, 4):
            return text if changed else None
        last_start, last_end = spans[-1]
        last = text[last_start:last_end]
        if m.group(1) == "transformMap":
            key = text[spans[0][0]:spans[0][1]].strip()
            last = f" {{{key}: ({last.strip()})}}"
        head = text[:m.start()] + "." + "transformList("
        middle = text[m.end():last_start]
        text = head + middle + last + text[last_end:close] + f").{ENTRIES}()" + text[close + 1:]
        changed = True


def rewritten(source: str) -> str | None:
    """``source`` with every rewrite of this module that applies to an expression that compiles as
    written (``transforms``, ``formats``); None when none does."""
    text = transforms(source)
    formatted = formats(source if text is None else text)
    return text if formatted is None else formatted


def formats(source: str) -> str | None:
    """``source`` with the format library's optional-returning calls evaluated through maps and CEL's
    optional index (module docstring); None when it has none."""
    text, changed = source, False
    code = _code(text)
    for m in reversed([m for m in _FORMAT_CALLS.finditer(text) if code[m.start()]]):
        code = _code(text)
        parsed = _arguments(text, code, m.end() - 1)
        if parsed is None:
            return None
        _spans, close = parsed
        if m.group(0).startswith("."):
            head, tail = f".{FORMAT_CHECK}(", '[?"errors"]'
        else:
            head, tail = f"{FORMAT_NAMED}(", '[?"format"]'
        text = text[:m.start()] + head + text[m.end():close + 1] + tail + text[close + 1:]
        changed = True
    return text if changed else None
