"""A Rego tokenizer that keeps every character, so a module can be rewritten token by token.

It knows strings (with escapes), raw strings, comments, numbers, identifiers and operators,
which is what the v0 upgrader and the static builtin scan need to tell code from text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

_TWO_CHAR = (":=", "==", "!=", "<=", ">=")
_OPEN = "([{"
_CLOSE = ")]}"


class TokenError(ValueError):
    """The text cannot be tokenized (an unterminated string); carries a 1-based line."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True, slots=True)
class Token:
    """One token: kind is ws, nl, comment, string, number, ident or punct."""

    kind: str
    text: str
    start: int
    line: int

    @property
    def significant(self) -> bool:
        return self.kind not in ("ws", "comment")

    def is_punct(self, text: str) -> bool:
        return self.kind == "punct" and self.text == text


def tokenize(text: str) -> list[Token]:
    """Split Rego source into tokens; joining their texts gives the source back exactly."""
    return list(_scan(text))


def _scan(text: str) -> Iterator[Token]:
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        start = i
        if c == "\n":
            yield Token("nl", c, i, line)
            line += 1
            i += 1
            continue
        if c in " \t\r\f\v":
            while i < n and text[i] in " \t\r\f\v":
                i += 1
            yield Token("ws", text[start:i], start, line)
            continue
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
            yield Token("comment", text[start:i], start, line)
            continue
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\n":
                    raise TokenError("unterminated string", line)
                i += 2 if text[i] == "\\" else 1
            if i >= n:
                raise TokenError("unterminated string", line)
            i += 1
            yield Token("string", text[start:i], start, line)
            continue
        if c == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise TokenError("unterminated raw string", line)
            i = end + 1
            yield Token("string", text[start:i], start, line)
            line += text.count("\n", start, i)
            continue
        if c.isdigit():
            while i < n and (text[i].isalnum() or (text[i] == "." and i + 1 < n and text[i + 1].isdigit())
                             or (text[i] in "+-" and text[i - 1] in "eE" and not text[start:i].startswith("0x"))):
                i += 1
            yield Token("number", text[start:i], start, line)
            continue
        if c.isalpha() or c == "_":
            while i < n and (text[i].isalnum() or text[i] == "_"):
                i += 1
            yield Token("ident", text[start:i], start, line)
            continue
        two = text[i:i + 2]
        if two in _TWO_CHAR:
            i += 2
            yield Token("punct", two, start, line)
            continue
        i += 1
        yield Token("punct", c, start, line)


def significant(tokens: list[Token]) -> list[Token]:
    """Tokens without whitespace and comments (newlines kept)."""
    return [t for t in tokens if t.significant]


def depth_change(tok: Token) -> int:
    """+1 for an opening bracket, -1 for a closing one, 0 otherwise."""
    if tok.kind != "punct":
        return 0
    if tok.text in _OPEN:
        return 1
    if tok.text in _CLOSE:
        return -1
    return 0


def matching(tokens: list[Token], index: int) -> int:
    """Index of the bracket closing the one at ``index`` (or len(tokens) when unbalanced)."""
    depth = 0
    for j in range(index, len(tokens)):
        depth += depth_change(tokens[j])
        if depth == 0:
            return j
    return len(tokens)


def statements(tokens: list[Token]) -> list[list[Token]]:
    """Top-level statements (package, import, rules) as lists of significant tokens, newlines dropped.

    A statement ends at a newline outside brackets unless the next line continues it (starts
    with ``{`` or ``else``, or the line ends with an operator).
    """
    sig = significant(tokens)
    out: list[list[Token]] = []
    current: list[Token] = []
    depth = 0
    for k, tok in enumerate(sig):
        if tok.kind == "nl":
            if depth > 0 or not current:
                continue
            nxt = next((t for t in sig[k + 1:] if t.kind != "nl"), None)
            last = current[-1]
            continues = (nxt is not None and (nxt.is_punct("{") or (nxt.kind == "ident" and nxt.text == "else"))
                         ) or (last.kind == "punct" and last.text in (":=", "=", ",", "+", "-", "*", "/", "|",
                                                                       "&", "==", "!=", "<", ">", "<=", ">="))
            if not continues:
                out.append(current)
                current = []
            continue
        depth = max(0, depth + depth_change(tok))
        current.append(tok)
    if current:
        out.append(current)
    return out
