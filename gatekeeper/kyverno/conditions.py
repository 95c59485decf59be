"""Conditions (preconditions, ``deny.conditions``, exception conditions): ``any``/``all`` blocks
of key / operator / value, with Kyverno's operators and their type handling."""

from __future__ import annotations

import json
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from gatekeeper.kyverno import quantities as q
from gatekeeper.kyverno import wildcard
from gatekeeper.kyverno.errors import Deadline
from gatekeeper.kyverno.variables import has_variables, reader, substitute, substitute_string

OPERATORS = frozenset({
    "Equals", "NotEquals", "Equal", "NotEqual", "In", "NotIn", "AnyIn", "AllIn", "AnyNotIn", "AllNotIn",
    "GreaterThan", "GreaterThanOrEquals", "LessThan", "LessThanOrEquals", "DurationGreaterThan",
    "DurationGreaterThanOrEquals", "DurationLessThan", "DurationLessThanOrEquals",
})


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _durations(key: Any, value: Any) -> tuple[Fraction, Fraction] | None:
    """Both sides as durations when at least one is a duration string (numbers are seconds)."""
    k = q.parse_duration(key) if isinstance(key, str) else None
    v = q.parse_duration(value) if isinstance(value, str) else None
    if k is None and v is None:
        return None
    if k is None:
        if not _is_number(key):
            return None
        k = Fraction(key)
    if v is None:
        if not _is_number(value):
            return None
        v = Fraction(value)
    return k, v


def _float(text: str) -> Fraction | None:
    try:
        return Fraction(float(text.strip())) if text.strip() not in ("", "nan", "inf", "-inf") else None
    except (ValueError, OverflowError):  # not a number; "Infinity", "1e999": no finite value either
        return None


def equals(key: Any, value: Any) -> bool:
    """Kyverno's Equals: typed comparison, durations and quantities by value, wildcards in value."""
    if isinstance(key, bool) or isinstance(value, bool):
        return isinstance(key, bool) and isinstance(value, bool) and key == value
    if _is_number(key):
        if _is_number(value):
            return Fraction(key) == Fraction(value)
        if isinstance(value, str):
            d = _durations(key, value)
            if d is not None:
                return d[0] == d[1]
            parsed = _float(value)
            return parsed is not None and parsed == Fraction(key)
        return False
    if isinstance(key, str):
        d = _durations(key, value)
        if d is not None:
            return d[0] == d[1]
        if isinstance(value, str):
            kq, vq = q.parse_quantity(key), q.parse_quantity(value)
            if kq is not None and vq is not None:
                return kq == vq
            return wildcard.match(value, key)
        if _is_number(value):
            parsed = _float(key)
            return parsed is not None and parsed == Fraction(value)
        return False
    if isinstance(key, (dict, list)):
        return bool(key == value)
    return key is None and value is None


def _compare(key: Any, value: Any) -> int | None:
    """-1/0/1 for numeric operators (numbers, durations, quantities, semver); None when incomparable."""
    d = _durations(key, value)
    if d is not None:
        return (d[0] > d[1]) - (d[0] < d[1])
    k = Fraction(key) if _is_number(key) else _float(key) if isinstance(key, str) else None
    v = Fraction(value) if _is_number(value) else _float(value) if isinstance(value, str) else None
    if k is not None and v is not None:
        return (k > v) - (k < v)
    if isinstance(key, str) and isinstance(value, str):
        kq, vq = q.parse_quantity(key), q.parse_quantity(value)
        if kq is not None and vq is not None:
            return (kq > vq) - (kq < vq)
        ks, vs = q.parse_semver(key), q.parse_semver(value)
        if ks is not None and vs is not None:
            return q.compare_semver(ks, vs)
    elif isinstance(key, str) and _is_number(value):
        kq = q.parse_quantity(key)
        if kq is not None:
            return (kq > Fraction(value)) - (kq < Fraction(value))
    return None


def _as_list(value: Any) -> list[Any] | None:
    """A set operand: a list, or a string holding a JSON array (None when not a set)."""
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, list) else None
    return None


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return "" if value is None else str(value)


def _in_range(key: str, spec: str) -> bool:
    """``1-10`` / ``1Gi-2Gi`` ranges in set values (inclusive)."""
    left, sep, right = spec.partition("-")
    if not sep or not left or not right:
        return False
    low, high = _compare(key, left), _compare(key, right)
    return low is not None and high is not None and low >= 0 and high <= 0


def _member(key: str, values: list[str]) -> bool:
    for candidate in values:
        if wildcard.match(candidate, key) or wildcard.match(key, candidate):
            return True
        if "-" in candidate and not wildcard.has_wildcard(candidate) and _in_range(key, candidate):
            return True
    return False


def _set_operands(key: Any, value: Any) -> tuple[list[str], list[str]] | None:
    keys = [_scalar_text(k) for k in key] if isinstance(key, list) else (
        None if isinstance(key, dict) else [_scalar_text(key)])
    if keys is None:
        return None
    if isinstance(value, str) and len(keys) == 1 and keys[0] == value:
        return keys, [value]
    values = _as_list(value)
    if values is None:
        values = [value] if isinstance(value, (str, int, float, bool)) else None
    if values is None:
        return None
    return keys, [_scalar_text(v) for v in values]


def _any_in(key: Any, value: Any) -> bool:
    ops = _set_operands(key, value)
    return ops is not None and any(_member(k, ops[1]) for k in ops[0])


def _all_in(key: Any, value: Any) -> bool:
    ops = _set_operands(key, value)
    return ops is not None and all(_member(k, ops[1]) for k in ops[0])


def _any_not_in(key: Any, value: Any) -> bool:
    ops = _set_operands(key, value)
    return ops is not None and any(not _member(k, ops[1]) for k in ops[0])


def _all_not_in(key: Any, value: Any) -> bool:
    ops = _set_operands(key, value)
    return ops is not None and all(not _member(k, ops[1]) for k in ops[0])


def _numeric(test: Callable[[int], bool]) -> Callable[[Any, Any], bool]:
    def run(key: Any, value: Any) -> bool:
        c = _compare(key, value)
        return c is not None and test(c)
    return run


def _duration(test: Callable[[int], bool]) -> Callable[[Any, Any], bool]:
    def run(key: Any, value: Any) -> bool:
        d = _durations(key, value)
        if d is None:
            k = Fraction(key) if _is_number(key) else None
            v = Fraction(value) if _is_number(value) else None
            if k is None or v is None:
                return False
            d = (k, v)
        return test((d[0] > d[1]) - (d[0] < d[1]))
    return run


_HANDLERS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": equals, "Equal": equals,
    "NotEquals": lambda k, v: not equals(k, v), "NotEqual": lambda k, v: not equals(k, v),
    "In": _all_in, "AllIn": _all_in, "AnyIn": _any_in,
    "NotIn": _any_not_in, "AnyNotIn": _any_not_in, "AllNotIn": _all_not_in,
    "GreaterThan": _numeric(lambda c: c > 0), "GreaterThanOrEquals": _numeric(lambda c: c >= 0),
    "LessThan": _numeric(lambda c: c < 0), "LessThanOrEquals": _numeric(lambda c: c <= 0),
    "DurationGreaterThan": _duration(lambda c: c > 0), "DurationGreaterThanOrEquals": _duration(lambda c: c >= 0),
    "DurationLessThan": _duration(lambda c: c < 0), "DurationLessThanOrEquals": _duration(lambda c: c <= 0),
}


_SET_OPERATORS = {"In": all, "AllIn": all, "AnyIn": any, "NotIn": any, "AnyNotIn": any, "AllNotIn": all}
_NEGATED = frozenset({"NotIn", "AnyNotIn", "AllNotIn"})
_EQUALITY = frozenset({"Equals", "Equal", "NotEquals", "NotEqual"})
Operand = Callable[[Any, Deadline, bool], Any]
Condition = Callable[[Any, Deadline, bool], bool]
_CONDITIONS: dict[int, tuple[Any, Condition]] = {}


def _constant(raw: Any) -> bool:
    """True when a key or value holds no variable: operators never change their operands, so the
    policy's own value stands for the copy substitution would make."""
    if isinstance(raw, str):
        return "{{" not in raw
    return not (isinstance(raw, (dict, list)) and has_variables(raw))


def _operand(raw: Any) -> Operand:
    """A key or value as evaluation reads it: constant, or substituted per evaluation."""
    if _constant(raw):
        return lambda data, deadline, lenient: raw
    if isinstance(raw, str):
        direct = reader(raw)
        if direct is not None:
            return direct
        return lambda data, deadline, lenient: substitute_string(raw, data, deadline, lenient=lenient)
    return lambda data, deadline, lenient: substitute(raw, data, deadline, lenient=lenient)


def _plain_text(value: str) -> bool:
    """True when ``equals(key, value)`` is ``key == value`` for a string key and False for any other:
    the value is no duration, quantity or number and holds no wildcard."""
    if wildcard.has_wildcard(value) or q.parse_duration(value) is not None or q.parse_quantity(value) is not None:
        return False
    try:
        float(value.strip())
    except ValueError:
        return True
    except OverflowError:
        return False
    return False


def _members(value: Any) -> Callable[[str], bool] | None:
    """``_member(k, texts)`` for a set operator's constant value, with the literal members in a set;
    None when the value is not a set."""
    values = _as_list(value)
    if values is None:
        values = [value] if isinstance(value, (str, int, float, bool)) else None
    if values is None:
        return None
    texts = [_scalar_text(v) for v in values]
    plain = frozenset(t for t in texts if not wildcard.has_wildcard(t))
    wild = [t for t in texts if wildcard.has_wildcard(t)]
    ranges = [t for t in texts if "-" in t and not wildcard.has_wildcard(t)]

    def member(key: str) -> bool:
        if wildcard.has_wildcard(key):
            return _member(key, texts)
        return (key in plain or any(wildcard.match(t, key) for t in wild)
                or any(_in_range(key, t) for t in ranges))
    return member


def _set_condition(op: str, key_of: Operand, value: Any) -> Condition:
    """A set operator (In, AnyNotIn...) over a constant value, its members prepared once."""
    member = _members(value)
    quantifier = _SET_OPERATORS[op]
    negated = op in _NEGATED

    def run(data: Any, deadline: Deadline, lenient: bool) -> bool:
        key = key_of(data, deadline, lenient)
        keys = [_scalar_text(k) for k in key] if isinstance(key, list) else (
            None if isinstance(key, dict) else [_scalar_text(key)])
        if keys is None:
            return False
        if isinstance(value, str) and len(keys) == 1 and keys[0] == value:
            texts = [value]
            return quantifier((not _member(k, texts)) if negated else _member(k, texts) for k in keys)
        if member is None:
            return False
        return quantifier((not member(k)) if negated else member(k) for k in keys)
    return run


def _compile(cond: dict[str, Any]) -> Condition:
    key_of, raw_value = _operand(cond.get("key")), cond.get("value")
    value_of = _operand(raw_value)
    op = str(cond.get("operator"))
    if op in _SET_OPERATORS and _constant(raw_value):
        return _set_condition(op, key_of, raw_value)
    if op in _EQUALITY and isinstance(raw_value, str) and "{{" not in raw_value and _plain_text(raw_value):
        negated = op in ("NotEquals", "NotEqual")

        def same(data: Any, deadline: Deadline, lenient: bool) -> bool:
            key = key_of(data, deadline, lenient)
            return (isinstance(key, str) and key == raw_value) is not negated
        return same

    def run(data: Any, deadline: Deadline, lenient: bool) -> bool:
        key = key_of(data, deadline, lenient)
        value = value_of(data, deadline, lenient)
        return _HANDLERS[op](key, value)
    return run


def evaluate_condition(cond: dict[str, Any], data: Any, deadline: Deadline, *, lenient: bool) -> bool:
    """One key/operator/value condition after variable substitution (compiled once per condition)."""
    hit = _CONDITIONS.get(id(cond))
    if hit is None or hit[0] is not cond:
        hit = (cond, _compile(cond))
        if len(_CONDITIONS) < 50_000:
            _CONDITIONS[id(cond)] = hit
    return hit[1](data, deadline, lenient)


def prepare(block: Any) -> None:
    """Compile the conditions of an ``any``/``all`` block (or a legacy list) now, not on first use."""
    if isinstance(block, list):
        block = {"all": block}
    if not isinstance(block, dict):
        return
    for cond in [*(block.get("any") or []), *(block.get("all") or [])]:
        if isinstance(cond, dict) and not (id(cond) in _CONDITIONS and _CONDITIONS[id(cond)][0] is cond) \
                and len(_CONDITIONS) < 50_000:
            _CONDITIONS[id(cond)] = (cond, _compile(cond))


def evaluate(block: Any, data: Any, deadline: Deadline, *, lenient: bool) -> tuple[bool, str]:
    """An ``any``/``all`` block (or a legacy list, read as ``all``): (holds, message of the deciding
    condition). Short-circuits as Kyverno does."""
    if block is None:
        return True, ""
    if isinstance(block, list):
        block = {"all": block}
    message = ""
    any_list = block.get("any")
    if any_list:
        held = False
        for cond in any_list:
            if evaluate_condition(cond, data, deadline, lenient=lenient):
                held = True
                break
            message = str(cond.get("message") or message)
        if not held:
            return False, message
    for cond in block.get("all") or []:
        if not evaluate_condition(cond, data, deadline, lenient=lenient):
            return False, str(cond.get("message") or "")
    return True, message
