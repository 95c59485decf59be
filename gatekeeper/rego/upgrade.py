"""Rego v0 -> v1: detect the syntax a module is written in and rewrite v0 rule heads.

rego-cpp reads Rego v1. A v0 partial-set rule ``deny[msg] { ... }`` is valid v1 text with a
different meaning (an object rule), so v0 modules must be rewritten before loading, never
loaded as they are. The rewrite works on tokens (strings and comments are never touched):

* ``name[key] { body }``  -> ``name contains key if { body }``   (partial set)
* ``head { body }``       -> ``head if { body }``  (complete rules, objects, functions,
  ``else`` branches, each head of an incremental definition)
* ``re_match(`` (a deprecated alias) -> ``regex.match(``
* ``any(xs)``/``all(xs)`` (deprecated builtins rego-cpp lacks) -> helper functions appended
  at the end of the module (so no line moves)

Rule heads that already use ``if``/``contains`` (``future.keywords``) are left alone.
Line numbers never change: text is only inserted or replaced within a line.
"""

from __future__ import annotations

from dataclasses import dataclass

from gatekeeper.rego.tokens import Token, matching, statements, tokenize

V1_KEYWORDS = ("contains", "if", "in", "every")
_VALUE_BEFORE = frozenset({"=", ":=", "==", ",", "+", "-", "*", "/", "|", "&", "(", "[", ":", "contains", "else"})
_DEPRECATED = {"re_match": "regex.match"}
# deprecated OPA builtins rego-cpp lacks, replaced by helper functions appended to the module
_COMPAT_CALLS = {"any": "gatekeeper_compat_any", "all": "gatekeeper_compat_all"}
_COMPAT_HELPERS = (
    "gatekeeper_compat_any(xs) := true if { some x in xs; x == true } else := false\n"
    "gatekeeper_compat_all(xs) := true if { every x in xs { x == true } } else := false\n"
)


class UpgradeError(ValueError):
    """A v0 module that cannot be rewritten safely; carries a 1-based line."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True, slots=True)
class _Edit:
    start: int
    end: int
    text: str


def detect_version(text: str) -> str:
    """``v1`` when the module imports ``rego.v1`` or uses ``if``/``contains`` heads without
    ``future.keywords``; otherwise ``v0``."""
    stmts = statements(tokenize(text))
    future = False
    for stmt in stmts:
        words = [t.text for t in stmt]
        if words[:1] == ["import"]:
            if words[1:4] == ["rego", ".", "v1"]:
                return "v1"
            if words[1:4] == ["future", ".", "keywords"]:
                future = True
    if future:
        return "v0"
    for stmt in stmts:
        if stmt[0].text in ("package", "import"):
            continue
        for k, tok in enumerate(stmt):
            if tok.kind != "ident":
                continue
            if tok.text == "if":
                return "v1"
            if tok.text == "contains" and not (k + 1 < len(stmt) and stmt[k + 1].is_punct("(")):
                return "v1"
    return "v0"


def upgrade(text: str) -> str:
    """Rewrite a v0 module as v1 (idempotent for heads that already use ``if``/``contains``)."""
    edits: list[_Edit] = []
    for stmt in statements(tokenize(text)):
        first = stmt[0]
        if first.kind != "ident" or first.text in ("package", "import", "default"):
            continue
        if first.text in V1_KEYWORDS and len(stmt) > 1 and stmt[1].kind == "punct" and stmt[1].text in "([{=":
            raise UpgradeError(f"a v0 rule or function named {first.text!r} clashes with a Rego v1 keyword; "
                               "rename it", first.line)
        edits.extend(_rule_edits(stmt, text))
    defined = {stmt[0].text for stmt in statements(tokenize(text)) if stmt and stmt[0].kind == "ident"}
    compat = _compat_edits(tokenize(text), defined)
    edits.extend(_deprecated_edits(tokenize(text)))
    edits.extend(compat)
    out = _apply(text, edits)
    if compat:
        out = out.rstrip("\n") + "\n\n" + _COMPAT_HELPERS
    return out


def _rule_edits(stmt: list[Token], text: str) -> list[_Edit]:
    """Edits for one rule statement: the partial-set head and an ``if`` before every body."""
    edits: list[_Edit] = []
    head_end = _head_end(stmt, 0)
    head = stmt[:head_end]
    edits.extend(_partial_set_edit(head))
    k = head_end
    while k < len(stmt):
        tok = stmt[k]
        if tok.is_punct("{"):
            prev = stmt[k - 1] if k > 0 else None
            after_body = prev is not None and prev.is_punct("}") and k > head_end
            if prev is not None and not after_body and not (prev.kind == "ident" and prev.text == "if"):
                space = "" if tok.start > 0 and text[tok.start - 1] in " \t\n" else " "
                edits.append(_Edit(tok.start, tok.start, f"{space}if "))
            k = matching(stmt, k) + 1
            continue
        if tok.kind == "ident" and tok.text == "else":
            k = _head_end(stmt, k + 1)
            continue
        k += 1
    return edits


def _head_end(stmt: list[Token], start: int) -> int:
    """Index of the ``{`` opening the body after a head starting at ``start`` (or the end)."""
    k = start
    while k < len(stmt):
        tok = stmt[k]
        if tok.kind == "ident" and tok.text == "if":
            return len(stmt)  # v1 head: nothing to rewrite from here on
        if tok.kind == "punct" and tok.text in "([":
            k = matching(stmt, k) + 1
            continue
        if tok.is_punct("{"):
            prev = stmt[k - 1] if k > start else None
            prev_text = prev.text if prev is not None else ""
            if prev is not None and (prev.kind == "punct" or prev.text in ("contains", "else")) \
                    and prev_text in _VALUE_BEFORE:
                k = matching(stmt, k) + 1  # an object/set literal value, not a body
                continue
            return k
        k += 1
    return k


def _partial_set_edit(head: list[Token]) -> list[_Edit]:
    """``name[key]`` (no value, no ``contains``) becomes ``name contains key``."""
    if len(head) < 3 or head[0].kind != "ident" or not head[1].is_punct("["):
        return []
    close = matching(head, 1)
    if close != len(head) - 1:
        return []  # a value follows (``name[key] = value``): a partial object, valid v1 as it is
    open_tok, close_tok = head[1], head[close]
    return [_Edit(open_tok.start, open_tok.start + 1, " contains "), _Edit(close_tok.start, close_tok.start + 1, "")]


def _deprecated_edits(tokens: list[Token]) -> list[_Edit]:
    edits = []
    sig = [t for t in tokens if t.significant]
    for k, tok in enumerate(sig):
        if tok.kind == "ident" and tok.text in _DEPRECATED and k + 1 < len(sig) and sig[k + 1].is_punct("(") \
                and not (k > 0 and sig[k - 1].is_punct(".")):
            edits.append(_Edit(tok.start, tok.start + len(tok.text), _DEPRECATED[tok.text]))
    return edits


def _compat_edits(tokens: list[Token], defined: set[str]) -> list[_Edit]:
    """``any(xs)``/``all(xs)`` (deprecated, missing in rego-cpp) become calls of appended helpers."""
    edits = []
    sig = [t for t in tokens if t.significant]
    for k, tok in enumerate(sig):
        if tok.kind == "ident" and tok.text in _COMPAT_CALLS and tok.text not in defined \
                and k + 1 < len(sig) and sig[k + 1].is_punct("(") and not (k > 0 and sig[k - 1].is_punct(".")):
            edits.append(_Edit(tok.start, tok.start + len(tok.text), _COMPAT_CALLS[tok.text]))
    return edits


def _apply(text: str, edits: list[_Edit]) -> str:
    out = []
    pos = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        out.append(text[pos:edit.start])
        out.append(edit.text)
        pos = edit.end
    out.append(text[pos:])
    return "".join(out)


def prepare_module(text: str, version: str) -> tuple[str, str]:
    """The v1 text to load for a module and the version it was read as (``auto`` detects).

    Forcing ``v1`` on a module with v0 rule heads is an error, never a silent misreading.
    """
    found = detect_version(text) if version == "auto" else version
    if found == "v0":
        return upgrade(text), "v0"
    if version == "v1" and detect_version(text) == "v0" and upgrade(text) != text:
        raise UpgradeError("module uses Rego v0 rule heads (no 'if'); load it with rego version v0 or auto", 1)
    return text, "v1"
