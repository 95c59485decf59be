"""JMESPath expressions compiled into Python closures, once per expression.

The ``jmespath`` library walks an expression's tree through a visitor for every evaluation; here
each node becomes a closure that does that node's work directly, with the library's exact
semantics (its comparators, truthiness, projections that drop nulls, the function registry with
Kyverno's functions and their argument checks). ``&expr`` references are handed to functions
as the library's own ``_Expression`` over the tree interpreter, so ``sort_by``/``map`` see what
they always saw. The deadline is checked by projections, flattens and function calls.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from jmespath import visitor

from gatekeeper.kyverno.errors import UNLIMITED, Deadline, RuleError
from gatekeeper.kyverno.functions import KyvernoFunctions

Fn = Callable[[Any], Any]

_equals = visitor._equals
_is_comparable = visitor._is_comparable
_is_actual_number = visitor._is_actual_number
_ORDERING: dict[str, Callable[[Any, Any], Any]] = {"lt": lambda a, b: a < b, "gt": lambda a, b: a > b,
             "lte": lambda a, b: a <= b, "gte": lambda a, b: a >= b}


class UnsupportedExpression(RuleError):
    """An expression parsed into a node this compiler has no closure for (a newer parser's node):
    the rule cannot be decided, which is an error of the rule, never a pass (not even in
    preconditions, where an unresolved variable reads as "")."""


FUNCTIONS = KyvernoFunctions()  # the registry every evaluation calls (the tree interpreter's too)


class _State:
    """The deadline of the evaluation in progress (evaluations do not run concurrently)."""

    __slots__ = ("deadline", "interpreter")

    def __init__(self) -> None:
        self.deadline: Deadline = UNLIMITED
        self.interpreter: Any = None


STATE = _State()


def _false(value: Any) -> bool:
    """JMESPath falsiness: '', [], {}, null and false (not 0)."""
    return value == "" or value == [] or value == {} or value is None or value is False


@lru_cache(maxsize=4096)
def compile_ast(parsed: Any) -> Fn:
    """The closure of a parsed expression (``jmespath.compile(...)``: its ``parsed`` tree)."""
    return _node(parsed.parsed)


def _node(node: dict[str, Any]) -> Fn:
    kind = node["type"]
    build = _BUILDERS.get(kind)
    if build is None:
        raise UnsupportedExpression(f"JMESPath expression node {kind!r} is not supported by the gate's evaluator")
    return build(node)


def _field(node: dict[str, Any]) -> Fn:
    key = node["value"]

    def field(value: Any) -> Any:
        if value.__class__ is dict:
            return value.get(key)
        try:
            return value.get(key)
        except AttributeError:
            return None
    return field


def _chain(node: dict[str, Any]) -> Fn:
    """subexpression, index_expression and pipe: each child reads the previous one's result."""
    children = [_node(c) for c in node["children"]]
    if len(children) == 2:
        first, second = children

        def pair(value: Any) -> Any:
            return second(first(value))
        return pair
    if all(c["type"] == "field" for c in node["children"]):
        keys = [c["value"] for c in node["children"]]

        def fields(value: Any) -> Any:
            for key in keys:
                if value.__class__ is dict:
                    value = value.get(key)
                else:
                    try:
                        value = value.get(key)
                    except AttributeError:
                        value = None
            return value
        return fields

    def chain(value: Any) -> Any:
        for child in children:
            value = child(value)
        return value
    return chain


def _comparator(node: dict[str, Any]) -> Fn:
    left, right = (_node(c) for c in node["children"])
    op = node["value"]
    if op == "eq":
        return lambda value: _equals(left(value), right(value))
    if op == "ne":
        return lambda value: not _equals(left(value), right(value))
    compare = _ORDERING[op]

    def ordered(value: Any) -> Any:
        a, b = left(value), right(value)
        if not (_is_comparable(a) and _is_comparable(b)):
            return None
        return compare(a, b)
    return ordered


def _current(node: dict[str, Any]) -> Fn:
    return lambda value: value


def _expref(node: dict[str, Any]) -> Fn:
    child = node["children"][0]

    def expref(value: Any) -> Any:
        return visitor._Expression(child, STATE.interpreter())
    return expref


def _function(node: dict[str, Any]) -> Fn:
    name = node["value"]
    args = [_node(c) for c in node["children"]]

    def call(value: Any) -> Any:
        STATE.deadline.check()
        return FUNCTIONS.call_function(name, [a(value) for a in args])
    return call


def _filter_projection(node: dict[str, Any]) -> Fn:
    base, right, comparator = (_node(c) for c in node["children"])

    def project(value: Any) -> Any:
        items = base(value)
        if not isinstance(items, list):
            return None
        check = STATE.deadline.check
        out = []
        for i, element in enumerate(items):
            if not i & 255:
                check()
            if not _false(comparator(element)):
                current = right(element)
                if current is not None:
                    out.append(current)
        return out
    return project


def _flatten(node: dict[str, Any]) -> Fn:
    base = _node(node["children"][0])

    def flatten(value: Any) -> Any:
        items = base(value)
        if not isinstance(items, list):
            return None
        out: list[Any] = []
        for element in items:
            if isinstance(element, list):
                out.extend(element)
            else:
                out.append(element)
        return out
    return flatten


def _index(node: dict[str, Any]) -> Fn:
    at = node["value"]

    def index(value: Any) -> Any:
        if not isinstance(value, list):
            return None
        try:
            return value[at]
        except IndexError:
            return None
    return index


def _slice(node: dict[str, Any]) -> Fn:
    bounds = slice(*node["children"])

    def sliced(value: Any) -> Any:
        if not isinstance(value, list):
            return None
        return value[bounds]
    return sliced


def _literal(node: dict[str, Any]) -> Fn:
    constant = node["value"]
    return lambda value: constant


def _multi_select_dict(node: dict[str, Any]) -> Fn:
    pairs = [(c["value"], _node(c["children"][0])) for c in node["children"]]

    def select(value: Any) -> Any:
        if value is None:
            return None
        return {key: child(value) for key, child in pairs}
    return select


def _multi_select_list(node: dict[str, Any]) -> Fn:
    children = [_node(c) for c in node["children"]]

    def select(value: Any) -> Any:
        if value is None:
            return None
        return [child(value) for child in children]
    return select


def _or(node: dict[str, Any]) -> Fn:
    left, right = (_node(c) for c in node["children"])

    def either(value: Any) -> Any:
        matched = left(value)
        if _false(matched):
            matched = right(value)
        return matched
    return either


def _and(node: dict[str, Any]) -> Fn:
    left, right = (_node(c) for c in node["children"])

    def both(value: Any) -> Any:
        matched = left(value)
        if _false(matched):
            return matched
        return right(value)
    return both


def _not(node: dict[str, Any]) -> Fn:
    child = _node(node["children"][0])

    def negate(value: Any) -> Any:
        original = child(value)
        if _is_actual_number(original) and original == 0:
            return False
        return not original
    return negate


def _projection(node: dict[str, Any]) -> Fn:
    base, right = (_node(c) for c in node["children"])
    identity = node["children"][1]["type"] == "identity"

    def project(value: Any) -> Any:
        items = base(value)
        if not isinstance(items, list):
            return None
        if identity:
            return [element for element in items if element is not None]
        check = STATE.deadline.check
        out = []
        for i, element in enumerate(items):
            if not i & 255:
                check()
            current = right(element)
            if current is not None:
                out.append(current)
        return out
    return project


def _value_projection(node: dict[str, Any]) -> Fn:
    base, right = (_node(c) for c in node["children"])

    def project(value: Any) -> Any:
        found = base(value)
        try:
            items = found.values()
        except AttributeError:
            return None
        check = STATE.deadline.check
        out = []
        for i, element in enumerate(items):
            if not i & 255:
                check()
            current = right(element)
            if current is not None:
                out.append(current)
        return out
    return project


_BUILDERS: dict[str, Callable[[dict[str, Any]], Fn]] = {
    "field": _field, "subexpression": _chain, "index_expression": _chain, "pipe": _chain,
    "comparator": _comparator, "current": _current, "identity": _current, "expref": _expref,
    "function_expression": _function, "filter_projection": _filter_projection, "flatten": _flatten,
    "index": _index, "slice": _slice, "key_val_pair": lambda n: _node(n["children"][0]), "literal": _literal,
    "multi_select_dict": _multi_select_dict, "multi_select_list": _multi_select_list, "or_expression": _or,
    "and_expression": _and, "not_expression": _not, "projection": _projection,
    "value_projection": _value_projection,
}


def root_fields(parsed: Any) -> frozenset[str] | None:
    """The top-level keys an expression reads from its input, or None when it may read the input
    as a whole (``@``, a function of ``@``, a projection over it)."""
    found: set[str] = set()
    return frozenset(found) if _roots(parsed.parsed, found) else None


def _roots(node: dict[str, Any], found: set[str]) -> bool:
    """Collect the root keys ``node`` reads from its input; False when it reads the input whole."""
    kind = node["type"]
    children = node.get("children") or []
    if kind == "field":
        found.add(node["value"])
        return True
    if kind == "literal":
        return True
    if kind in ("subexpression", "index_expression", "pipe", "projection", "flatten", "filter_projection",
                "value_projection"):
        # only the first child reads the input; the others read what it produced
        return bool(children) and _roots(children[0], found)
    if kind in ("comparator", "or_expression", "and_expression", "not_expression", "multi_select_list",
                "multi_select_dict", "key_val_pair", "function_expression"):
        return all(_roots(c, found) for c in children)
    return False
