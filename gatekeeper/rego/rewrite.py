"""Source rewrites that make regorus read a module the way OPA does (line numbers never move).

regorus reads v0 and v1 Rego natively; these are the places where its reading differs from
OPA's, each found by a test:

* **Several bodies for one head** (``p[x] { a } { b }``, OPA's incremental definition): regorus
  refuses it for partial sets and treats the extra bodies of other rules as ``else``. Each extra
  body gets a copy of the head (``p[x] { a } p[x] { b }``).
* **A line that starts with ``(`` or ``[`` after a complete term** (``x := input.a`` then
  ``(x == 1)`` on the next line): OPA ends a term at whitespace, regorus continues it as a call
  or an index. A ``;`` is inserted at the end of the first line.
* **``re_match``** (a deprecated alias OPA still accepts) becomes ``regex.match``.
* **Negated expressions** (``not f(x, input.parameters.absent)``): OPA's compiler binds the
  operands of a call (refs, nested calls, rule references) to fresh variables *before* the
  negation (open-policy-agent/opa#1877, ``rewriteDynamics``/``expandExpr``), so an undefined
  operand makes the whole body undefined rather than the negation true. The same binding is
  written out here: ``__gkn0__ := input.parameters.absent; not f(x, __gkn0__)``.

The first three work on tokens, the last on regorus's AST (byte-offset spans).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gatekeeper.rego.tokens import Token, matching, statements, tokenize

_DEPRECATED = {"re_match": "regex.match"}
_VALUE_BEFORE = frozenset({"=", ":=", "==", ",", "+", "-", "*", "/", "|", "&", "(", "[", ":", "contains", "else"})
_KEYWORDS = frozenset({"not", "some", "in", "if", "else", "with", "as", "contains", "every", "default",
                       "import", "package"})
# expressions OPA represents as calls: their operands are bound before a negation
_CALLISH = frozenset({"Call", "BoolExpr", "ArithExpr", "BinExpr", "Membership", "UnaryExpr"})
_SCALARS = frozenset({"String", "RawString", "Number", "Bool", "Null"})
_COMPREHENSIONS = frozenset({"ArrayCompr", "SetCompr", "ObjectCompr"})
HOIST_PREFIX = "__gkn"


@dataclass(frozen=True, slots=True)
class _Edit:
    start: int
    end: int
    text: str


def _apply(text: str, edits: list[_Edit]) -> str:
    out = []
    pos = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        out.append(text[pos:edit.start])
        out.append(edit.text)
        pos = edit.end
    out.append(text[pos:])
    return "".join(out)


def prepare(text: str) -> str:
    """The token-level rewrites (bodies, line continuations, deprecated aliases)."""
    tokens = tokenize(text)
    edits = [*_split_bodies(tokens), *_separate_lines(tokens), *_deprecated(tokens)]
    return _apply(text, edits) if edits else text


def _split_bodies(tokens: list[Token]) -> list[_Edit]:
    edits = []
    for stmt in statements(tokens):
        first = stmt[0]
        if first.kind != "ident" or first.text in ("package", "import", "default"):
            continue
        body = _body_start(stmt)
        if body >= len(stmt):
            continue
        head = _join(stmt[:body])
        k = matching(stmt, body) + 1
        while k < len(stmt) and stmt[k].is_punct("{"):
            edits.append(_Edit(stmt[k].start, stmt[k].start, head + " "))
            k = matching(stmt, k) + 1
    return edits


def _body_start(stmt: list[Token]) -> int:
    """Index of the ``{`` opening a rule's first body (len(stmt) when it has none)."""
    k = 0
    while k < len(stmt):
        tok = stmt[k]
        if tok.kind == "ident" and tok.text == "if":
            return k + 1 if k + 1 < len(stmt) and stmt[k + 1].is_punct("{") else len(stmt)
        if tok.kind == "punct" and tok.text in "([":
            k = matching(stmt, k) + 1
            continue
        if tok.is_punct("{"):
            prev = stmt[k - 1] if k > 0 else None
            if prev is not None and prev.text in _VALUE_BEFORE and (prev.kind == "punct" or prev.kind == "ident"):
                k = matching(stmt, k) + 1  # an object/set literal value, not a body
                continue
            return k
        k += 1
    return k


def _join(tokens: list[Token]) -> str:
    """Head tokens as one line of text (no comments, no newlines)."""
    out = ""
    prev: Token | None = None
    for tok in tokens:
        tight = prev is None or (prev.kind == "punct" and prev.text in "([.") or \
            (tok.kind == "punct" and tok.text in ")].,([")
        out += tok.text if tight else " " + tok.text
        prev = tok
    return out


def _separate_lines(tokens: list[Token]) -> list[_Edit]:
    edits = []
    stack: list[list[Any]] = []  # [bracket, holds a query]
    prev: Token | None = None
    newline = False
    for tok in tokens:
        if tok.kind == "nl":
            newline = True
            continue
        if not tok.significant:
            continue
        if newline and prev is not None and tok.kind == "punct" and tok.text in "([" and stack and stack[-1][1] \
                and _ends_term(prev):
            edits.append(_Edit(prev.start + len(prev.text), prev.start + len(prev.text), ";"))
        newline = False
        if tok.kind == "punct":
            if tok.text in "([{":
                stack.append([tok.text, tok.text == "{"])
            elif tok.text in ")]}" and stack:
                stack.pop()
            elif tok.text == "|" and stack and stack[-1][0] in "[{":
                stack[-1][1] = True
        prev = tok
    return edits


def _ends_term(tok: Token) -> bool:
    if tok.kind in ("string", "number"):
        return True
    if tok.kind == "ident":
        return tok.text not in _KEYWORDS
    return tok.kind == "punct" and tok.text in ")]}"


def _deprecated(tokens: list[Token]) -> list[_Edit]:
    edits = []
    sig = [t for t in tokens if t.significant and t.kind != "nl"]
    for k, tok in enumerate(sig):
        if tok.kind == "ident" and tok.text in _DEPRECATED and k + 1 < len(sig) and sig[k + 1].is_punct("(") \
                and not (k > 0 and sig[k - 1].is_punct(".")):
            edits.append(_Edit(tok.start, tok.start + len(tok.text), _DEPRECATED[tok.text]))
    return edits


# --- negation: bind call operands before ``not``, as OPA's compiler does ---------------------------


def node(value: Any) -> tuple[str, dict[str, Any]]:
    """(kind, fields) of one AST node such as ``{"Var": {...}}``."""
    if isinstance(value, dict) and len(value) == 1:
        kind, fields = next(iter(value.items()))
        if isinstance(fields, dict):
            return kind, fields
    return "", {}


def span(value: Any) -> tuple[int, int]:
    _, fields = node(value)
    s = fields.get("span") or {}
    return int(s.get("start", 0)), int(s.get("end", 0))


@dataclass(slots=True)
class _Hoist:
    """One negated literal's bindings: where to insert them and which operand nodes they bind."""

    at: int
    targets: list[Any]
    with_text: bytes


class _Negations:
    """Finds every negated literal in a module and what OPA would bind before it."""

    def __init__(self, src: bytes, names: frozenset[str]) -> None:
        self.src = src
        self.names = names  # rule names and import aliases: a bare one is a reference OPA binds
        self.hoists: list[_Hoist] = []
        self.wraps: list[tuple[int, int]] = []  # rule bodies without braces that get bindings

    def module(self, ast: dict[str, Any]) -> None:
        for rule in ast.get("rules") or []:
            kind, fields = node(rule)
            for key, value in fields.items():
                if key not in ("span", "bodies") and isinstance(value, dict | list):
                    self.visit(value)  # comprehensions in heads and defaults
            if kind == "Spec":
                for body in fields.get("bodies") or []:
                    query = body.get("query") or {}
                    before = len(self.hoists)
                    self.query(query)
                    qs = query.get("span") or {}
                    start, end = int(qs.get("start", 0)), int(qs.get("end", 0))
                    if len(self.hoists) > before and start < len(self.src) and self.src[start:start + 1] != b"{":
                        self.wraps.append((start, max(end, _line_end(self.src, start))))

    def query(self, query: dict[str, Any]) -> None:
        for stmt in query.get("stmts") or []:
            kind, literal = node(stmt.get("literal"))
            if kind == "NotExpr":
                targets = self.targets(literal.get("expr"))
                if targets:
                    lstart, lend = int(literal["span"]["start"]), int(literal["span"]["end"])
                    send = int((stmt.get("span") or {}).get("end", lend))
                    with_text = self.src[lend:send] if stmt.get("with_mods") else b""
                    self.hoists.append(_Hoist(lstart, targets, with_text))
            for value in _children(literal):
                self.visit(value)
            for mod in stmt.get("with_mods") or []:
                for value in _children(mod):
                    self.visit(value)

    def visit(self, value: Any) -> None:
        """Walk into nested queries (comprehensions, ``every``) wherever they are."""
        if isinstance(value, list):
            for item in value:
                self.visit(item)
            return
        if not isinstance(value, dict):
            return
        if "stmts" in value:
            self.query(value)
            return
        for child in _children(value):
            self.visit(child)

    def targets(self, expr: Any) -> list[Any]:
        kind, fields = node(expr)
        if kind in _CALLISH and kind != "UnaryExpr":
            return [t for op in _operands(kind, fields) for t in self.one(op)]
        if kind == "AssignExpr" and fields.get("op") == "Eq":
            return [*self.in_term(fields.get("lhs")), *self.in_term(fields.get("rhs"))]
        return self.in_term(expr)

    def one(self, expr: Any) -> list[Any]:
        """OPA's rewriteDynamicsOne/expandExprTerm for a call operand."""
        kind, fields = node(expr)
        if kind == "Var":
            return [expr] if fields.get("value") in self.names else []
        if kind in ("RefDot", "RefBrack") or kind in _CALLISH:
            return [expr]
        if kind in ("Array", "Set"):
            return [t for item in fields.get("items") or [] for t in self.one(item)]
        if kind == "Object":
            return [t for entry in fields.get("fields") or [] for part in entry[1:] for t in self.one(part)]
        return []

    def in_term(self, expr: Any) -> list[Any]:
        """OPA's rewriteDynamicsInTerm: a ref keeps its place, its dynamic parts are bound."""
        kind, fields = node(expr)
        if kind in ("RefDot", "RefBrack"):
            out: list[Any] = []
            while kind in ("RefDot", "RefBrack"):
                if kind == "RefBrack":
                    out = self.one(fields.get("index")) + out
                expr = fields.get("refr")
                kind, fields = node(expr)
            if kind == "Call":
                out.insert(0, expr)
            return out
        if kind in ("Var", *_SCALARS, *_COMPREHENSIONS, "UnaryExpr"):
            return []
        return self.one(expr)


def _line_end(src: bytes, start: int) -> int:
    """Byte offset where an unbraced rule body starting at ``start`` ends: the first newline
    outside brackets, strings and comments (regorus's span can stop short of a closing quote)."""
    depth = 0
    text = src[start:].decode("utf-8", "replace")
    for tok in tokenize(text):
        if tok.kind == "nl" and depth == 0:
            return start + len(text[:tok.start].encode("utf-8"))
        if tok.kind == "comment" and depth == 0:
            return start + len(text[:tok.start].rstrip().encode("utf-8"))
        if tok.kind == "punct":
            depth += 1 if tok.text in "([{" else -1 if tok.text in ")]}" else 0
    return len(src)


def _operands(kind: str, fields: dict[str, Any]) -> list[Any]:
    if kind == "Call":
        return list(fields.get("params") or [])
    if kind == "Membership":
        return [x for x in (fields.get("key"), fields.get("value"), fields.get("collection")) if x is not None]
    return [fields.get("lhs"), fields.get("rhs")]


def _children(fields: dict[str, Any]) -> Iterator[Any]:
    for key, value in fields.items():
        if key != "span" and isinstance(value, dict | list):
            yield value


def hoist_negations(text: str, ast: dict[str, Any], names: frozenset[str]) -> str:
    """``text`` with the operands OPA binds before each negation bound explicitly (lines kept)."""
    src = text.encode("utf-8")
    finder = _Negations(src, names)
    finder.module(ast)
    if not finder.hoists:
        return text
    counter = iter(range(1_000_000))
    var_of: dict[int, bytes] = {}
    # (start, end, order, produce): a replacement of [start, end) or an insertion at start == end
    edits: list[tuple[int, int, int, Callable[[], bytes]]] = []
    for start, end in finder.wraps:
        edits.append((start, start, 0, lambda: b"{ "))
        edits.append((end, end, 2, lambda: b" }"))
    for hoist in finder.hoists:
        for target in hoist.targets:
            var = f"{HOIST_PREFIX}{next(counter)}__".encode()
            var_of[id(target)] = var
            t_start, t_end = span(target)
            edits.append((t_start, t_end, 1, lambda var=var: var))  # type: ignore[misc]
        edits.append((hoist.at, hoist.at, 1, lambda h=hoist: bindings(h)))  # type: ignore[misc]

    def bindings(hoist: _Hoist) -> bytes:
        parts = []
        for target in hoist.targets:
            t_start, t_end = span(target)
            parts.append(var_of[id(target)] + b" := " + render(t_start, t_end, whole=False)
                         + hoist.with_text.rstrip() + b"; ")
        return b"".join(parts)

    def render(a: int, b: int, whole: bool) -> bytes:
        inside = sorted((e for e in edits if a <= e[0] and e[1] <= b and (e[0], e[1]) != (a, b)
                         and (whole or e[0] < b)), key=lambda e: (e[0], e[2], -e[1]))
        out: list[bytes] = []
        pos = a
        for start, end, _, produce in inside:
            if start < pos:
                continue  # inside a span already replaced
            out.append(src[pos:start])
            out.append(produce())
            pos = end
        out.append(src[pos:b])
        return b"".join(out)

    return render(0, len(src), whole=True).decode("utf-8")
