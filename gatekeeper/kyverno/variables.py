"""``{{ }}`` variable substitution: innermost expressions first, a whole-string variable keeps its
type, an embedded one becomes text, ``\\{{`` escapes. Unresolved variables are an error, except in
preconditions where Kyverno reads them as the empty string.

Only the policy's own text is read for variables, once; values substituted into it are data (a
value holding ``{{`` is never substituted again nor evaluated as JMESPath), and every substituted
string is bounded in length."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gatekeeper.kyverno import jmes
from gatekeeper.kyverno.errors import UNLIMITED, BudgetExceeded, Deadline, RuleError

# ``{{ ... }}`` holding no other ``{{``; single braces (JMESPath multi-select hashes) allowed inside
VARIABLE = re.compile(r"(?<!\\)\{\{((?:\{[^{}]*\}|[^{}])*)\}\}")
_MAX_ROUNDS = 64


class Unresolved(RuleError):
    """A variable whose value is null or missing."""


_HAS: dict[int, tuple[Any, bool]] = {}


def has_variables(value: Any) -> bool:
    """True when a string, or any string in a structure, holds ``{{``; structures are remembered
    while they live (the cache holds them, so an id is never reused)."""
    if isinstance(value, (dict, list)):
        hit = _HAS.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        found = _has_variables(value)
        if len(_HAS) < 50_000:
            _HAS[id(value)] = (value, found)
        return found
    return _has_variables(value)


def _has_variables(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, dict):
        return any(_has_variables(k) or _has_variables(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_variables(v) for v in value)
    return False


def text_of(value: Any) -> str:
    """How a value is written into surrounding text."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _resolve(expression: str, data: Any, deadline: Deadline, lenient: bool) -> Any:
    expr = expression.strip()
    try:
        run = jmes.compiled(expr)
    except jmes.JMESPathSyntaxError as exc:
        if lenient:
            return ""
        raise RuleError(f"invalid JMESPath {expr!r}: {exc}") from None
    return _value(run, expr, data, deadline, lenient)


def _value(run: Any, expr: str, data: Any, deadline: Deadline, lenient: bool) -> Any:
    """One compiled variable's value: "" for nothing when lenient, else Unresolved."""
    try:
        value = jmes.evaluate(run, expr, data, deadline)
    except BudgetExceeded:
        raise
    except RuleError:
        if lenient:
            return ""
        raise
    if value is None:
        if lenient:
            return ""
        raise Unresolved(f"variable {{{{{expr}}}}} could not be resolved (no such field; use "
                         f"`{expr} || ''` for an optional one)")
    return value


MAX_TEXT = 1 << 20  # characters one substituted string may reach; values are data, but not without bound


@dataclass(frozen=True, slots=True)
class _Var:
    """One ``{{ }}`` of the policy's text: its expression, with the variables nested in it."""

    pieces: tuple[str | _Var, ...]
    compiled: Any = None  # the expression compiled, when no variable is nested in it
    expr: str = ""
    error: str | None = None  # why a fixed expression does not parse


def _var(pieces: list[str | _Var]) -> _Var:
    merged = _merge(pieces)
    if any(isinstance(p, _Var) for p in merged):
        return _Var(merged)
    expr = "".join(p for p in merged if isinstance(p, str)).strip()
    try:
        return _Var(merged, jmes.compiled(expr), expr)
    except jmes.JMESPathSyntaxError as exc:
        return _Var(merged, None, expr, str(exc))


def _merge(pieces: list[str | _Var]) -> tuple[str | _Var, ...]:
    out: list[str | _Var] = []
    for p in pieces:
        if isinstance(p, str) and out and isinstance(out[-1], str):
            out[-1] += p
        elif p != "":
            out.append(p)
    return tuple(out)


_TEMPLATES: dict[str, tuple[tuple[str | _Var, ...], bool]] = {}


def _template(text: str) -> tuple[tuple[str | _Var, ...], bool]:
    """A string of the policy read once into literal text and variables (nested ones inside the
    expression they are part of); ``whole`` when one variable is the entire string. ``\\{{`` is a
    literal ``{{``; single braces inside a variable (JMESPath multi-select hashes) pair up; an
    unclosed ``{{`` is text."""
    hit = _TEMPLATES.get(text)
    if hit is not None:
        return hit
    stack: list[list[str | _Var]] = [[]]
    braces = [0]
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and text.startswith("{{", i + 1):
            literal.append("{{")
            i += 3
            continue
        if c == "{" and text.startswith("{{", i):
            stack[-1].append("".join(literal))
            literal.clear()
            stack.append(["{{"])  # the opening braces, kept for an unclosed variable's text
            braces.append(0)
            i += 2
            continue
        if len(stack) > 1:
            if c == "{":
                braces[-1] += 1
            elif c == "}" and braces[-1]:
                braces[-1] -= 1
            elif c == "}" and text.startswith("}}", i):
                stack[-1].append("".join(literal))
                literal.clear()
                pieces = stack.pop()
                braces.pop()
                stack[-1].append(_var(pieces[1:]))
                i += 2
                continue
        literal.append(c)
        i += 1
    stack[-1].append("".join(literal))
    while len(stack) > 1:  # unclosed variables are text, the variables inside them stay variables
        pieces = stack.pop()
        stack[-1].extend(pieces)
    top = _merge(stack[0])
    template = (top, len(top) == 1 and isinstance(top[0], _Var))
    if len(_TEMPLATES) < 50_000:
        _TEMPLATES[text] = template
    return template


def reader(text: str) -> Callable[[Any, Deadline, bool], Any] | None:
    """``substitute_string(text, data, deadline, lenient=lenient)`` as a direct call when the whole
    string is one variable whose expression compiles and nests no other; None otherwise."""
    if "{{" not in text:
        return None
    pieces, whole = _template(text)
    var = pieces[0]
    if not whole or not isinstance(var, _Var) or var.compiled is None:
        return None
    run, expr = var.compiled, var.expr

    def read(data: Any, deadline: Deadline, lenient: bool) -> Any:
        return _value(run, expr, data, deadline, lenient)
    return read


def prepare(text: str) -> None:
    """Read a string of the policy for variables now (compiling their expressions), not on first use."""
    _template(text)


def _evaluate(var: _Var, data: Any, deadline: Deadline, lenient: bool) -> Any:
    """A variable's value. A nested variable's value is written into the expression around it (as
    Kyverno nests them); no value is ever read for variables again."""
    if var.compiled is not None:
        return _value(var.compiled, var.expr, data, deadline, lenient)
    if var.error is not None:
        if lenient:
            return ""
        raise RuleError(f"invalid JMESPath {var.expr!r}: {var.error}")
    return _resolve(_join(var.pieces, data, deadline, lenient), data, deadline, lenient)


def _join(pieces: tuple[str | _Var, ...], data: Any, deadline: Deadline, lenient: bool) -> str:
    out: list[str] = []
    size = 0
    for p in pieces:
        text = p if isinstance(p, str) else text_of(_evaluate(p, data, deadline, lenient))
        size += len(text)
        if size > MAX_TEXT:
            raise RuleError(f"variable substitution makes a string longer than {MAX_TEXT} characters")
        out.append(text)
    return "".join(out)


def substitute_string(text: str, data: Any, deadline: Deadline = UNLIMITED, *, lenient: bool = False) -> Any:
    """Substitute the variables of one string of the policy, once: a value keeps its type when
    its variable is the whole string, else it is written into the text; values are data (a
    ``{{`` in a value is text, never a variable)."""
    if "{{" not in text:
        return text
    pieces, whole = _template(text)
    if whole:
        var = pieces[0]
        assert isinstance(var, _Var)
        return _evaluate(var, data, deadline, lenient)
    return _join(pieces, data, deadline, lenient)


def substitute(value: Any, data: Any, deadline: Deadline = UNLIMITED, *, lenient: bool = False) -> Any:
    """Substitute variables everywhere in a structure (keys too); returns a new structure."""
    if isinstance(value, str):
        return substitute_string(value, data, deadline, lenient=lenient)
    if isinstance(value, dict):
        return {(substitute_string(k, data, deadline, lenient=lenient) if "{{" in k else k):
                substitute(v, data, deadline, lenient=lenient) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, data, deadline, lenient=lenient) for v in value]
    return value


def expressions(text: str) -> Iterator[str]:
    """Every JMESPath expression of a string, innermost first, with inner variables replaced by a
    placeholder string so the outer expression can be parsed on its own."""
    current = text
    for _ in range(_MAX_ROUNDS):
        matches = list(VARIABLE.finditer(current))
        if not matches:
            return
        for m in matches:
            yield m.group(1).strip()
        current = VARIABLE.sub("x", current)
