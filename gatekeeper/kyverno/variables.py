"""``{{ }}`` variable substitution: innermost expressions first, a whole-string variable keeps its
type, an embedded one becomes text, ``\\{{`` escapes. Unresolved variables are an error, except in
preconditions where Kyverno reads them as the empty string."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from gatekeeper.kyverno import jmes
from gatekeeper.kyverno.errors import UNLIMITED, BudgetExceeded, Deadline, RuleError

# ``{{ ... }}`` holding no other ``{{``; single braces (JMESPath multi-select hashes) allowed inside
VARIABLE = re.compile(r"(?<!\\)\{\{((?:\{[^{}]*\}|[^{}])*)\}\}")
_ESCAPED = re.compile(r"\\\{\{")
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


_PLANS: dict[str, tuple[tuple[str | tuple[Any, str], ...], bool] | None] = {}


def _plan(text: str) -> tuple[tuple[str | tuple[Any, str], ...], bool] | None:
    """A string's variables found once: (literal pieces and (compiled, expression) pairs, whole);
    None when the first round may not be the last one (nested or escaped braces, a bad expression),
    which the general loop handles."""
    if text in _PLANS:
        return _PLANS[text]
    plan: tuple[tuple[str | tuple[Any, str], ...], bool] | None = None
    matches = list(VARIABLE.finditer(text))
    if matches and "\\{{" not in text:
        pieces: list[str | tuple[Any, str]] = []
        last = 0
        try:
            for m in matches:
                pieces.append(text[last:m.start()])
                expr = m.group(1).strip()
                pieces.append((jmes.compiled(expr), expr))
                last = m.end()
        except jmes.JMESPathSyntaxError:
            pieces = []
        pieces.append(text[last:])
        rest = "".join(p for p in pieces if isinstance(p, str))
        if len(pieces) > 1 and "{{" not in rest and "}}" not in rest:
            whole = len(matches) == 1 and matches[0].span() == (0, len(text))
            plan = (tuple(pieces), whole)
    if len(_PLANS) < 50_000:
        _PLANS[text] = plan
    return plan


def substitute_string(text: str, data: Any, deadline: Deadline = UNLIMITED, *, lenient: bool = False) -> Any:
    """Substitute the variables of one string (the value keeps its type when it is the whole string)."""
    if "{{" not in text:
        return text
    plan = _plan(text)
    if plan is not None:
        # one round decides unless a value brings braces of its own (then the general loop runs)
        pieces, whole = plan
        if whole:
            compiled = pieces[1]
            assert not isinstance(compiled, str)
            value = _value(compiled[0], compiled[1], data, deadline, lenient)
            if not isinstance(value, str) or "{{" not in value:
                return value
        else:
            out = "".join(p if isinstance(p, str) else text_of(_value(p[0], p[1], data, deadline, lenient))
                          for p in pieces)
            if "{{" not in out:
                return out
    return _substitute_rounds(text, data, deadline, lenient)


def _substitute_rounds(text: str, data: Any, deadline: Deadline, lenient: bool) -> Any:
    """Substitute round after round, innermost variables first, until no variable is left."""
    current: Any = text
    for _ in range(_MAX_ROUNDS):
        if not isinstance(current, str):
            return current
        matches = list(VARIABLE.finditer(current))
        if not matches:
            break
        whole = matches[0] if len(matches) == 1 and matches[0].span() == (0, len(current)) else None
        if whole is not None:
            current = _resolve(whole.group(1), data, deadline, lenient)
            continue
        pieces: list[str] = []
        last = 0
        for m in matches:
            pieces.append(current[last:m.start()])
            pieces.append(text_of(_resolve(m.group(1), data, deadline, lenient)))
            last = m.end()
        pieces.append(current[last:])
        current = "".join(pieces)
    else:
        raise RuleError("variable substitution did not settle (variables that expand to variables)")
    return _ESCAPED.sub("{{", current) if isinstance(current, str) else current


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
