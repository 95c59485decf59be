"""Plain Python evaluation of the simplest CEL expressions, with the runtime as the fallback.

Most policy expressions are field paths, ``has()``, comparisons, string tests and ``all``/
``exists`` over a list. For those, binding a value to the runtime (converting it) and calling
it costs tens of microseconds, many times the work. ``compile_fast`` turns a decoded expression
made only of such parts into Python closures; anything else gets no closure (the runtime runs
it). The closures return a value only where it is certainly the runtime's: every operation
takes the narrow value types its result is plain for (same-type ints in int64, strings, bools,
null; maps with string keys; lists) and raises ``Fallback`` on anything else — a missing
field, another type, an error, an optional result, a comprehension that could reach the cost
budget — and the caller then evaluates the whole expression with the runtime, which also gives
the error its own message. Bound values must be ``plain`` (what the runtime converts without
error, and with the same value), which ``Bindings`` checks once per variable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gatekeeper.cel.ast import Expression, Node
from gatekeeper.cel.measure import INT_MAX, INT_MIN, utf8

Env = dict[str, Any]
Fn = Callable[[Env], Any]

BUDGET = "#iterations"  # not a CEL identifier: the env slot counting comprehension iterations
ITERATION_LIMIT = 5_000  # well below the runtime's budget: past it, the runtime decides


class Fallback(Exception):
    """The fast path cannot be sure of the result: evaluate with the runtime."""


_FALLBACK = Fallback()


class _NotFast(Exception):
    """The expression uses something the fast path does not implement."""


class _Optional:
    """An optional value (``a.?b``): ``value`` is ``_NONE`` when absent."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


_NONE = object()
_MISSING = object()


def plain(value: Any) -> bool:
    """True when the runtime converts ``value`` without error to what the fast path sees: null, bool,
    int64, double, valid UTF-8 strings, lists, and maps with string keys."""
    kind = type(value)
    if kind is str:
        return value.isascii() or utf8(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or utf8(key)) or not plain(item):
                return False
        return True
    if kind is list:
        return all(plain(item) for item in value)
    if kind is int:
        return bool(INT_MIN <= value <= INT_MAX)
    return kind is bool or value is None or kind is float


def compile_fast(expression: Expression, variables: frozenset[str]) -> Callable[[Env], Any] | None:
    """A function evaluating ``expression`` on plain bindings (raising ``Fallback`` where it cannot be
    sure), or None when the expression uses anything the fast path does not implement."""
    try:
        fn = _compile(expression.root, variables, frozenset())
    except _NotFast:
        return None
    loops = any(n.kind == "comprehension" for n in expression.walk())

    def run(bindings: Env) -> Any:
        env = {**bindings, BUDGET: [0]} if loops else bindings
        value = fn(env)
        if type(value) is _Optional:
            raise _FALLBACK
        return value

    return run


def _compile(node: Node, variables: frozenset[str], local: frozenset[str]) -> Fn:
    kind = node.kind
    if kind == "const":
        return _const(node)
    if kind == "ident":
        if node.name not in variables and node.name not in local:
            raise _NotFast  # a type name or a qualified identifier
        return _ident(node.name)
    if kind == "select":
        chain = _select_chain(node)
        if chain is not None and (chain[0] in variables or chain[0] in local):
            return _path(chain[0], chain[1])
        operand = _compile(node.children[0], variables, local)
        return _has(operand, node.name) if node.test_only else _select(operand, node.name)
    if kind == "list":
        return _list([_compile(c, variables, local) for c in node.children])
    if kind == "call":
        return _call(node, variables, local)
    if kind == "comprehension":
        return _comprehension(node, variables, local)
    raise _NotFast


def _list(items: list[Fn]) -> Fn:
    def make(env: Env) -> list[Any]:
        out = [item(env) for item in items]
        if any(type(x) is _Optional for x in out):
            raise _FALLBACK  # optional list elements: the runtime's
        return out

    return make


def _const(node: Node) -> Fn:
    if node.literal not in ("int", "string", "bool", "null"):
        raise _NotFast  # uint, double, bytes: kept for the runtime
    value = node.value
    return lambda env: value


def _ident(name: str) -> Fn:
    def ident(env: Env) -> Any:
        value = env.get(name, _MISSING)
        if value is _MISSING:
            raise _FALLBACK
        return value

    return ident


def _select_chain(node: Node) -> tuple[str, tuple[str, ...]] | None:
    """(identifier, keys) of ``a.b.c`` made of plain selections only (no has(), no ``.?``)."""
    keys: list[str] = []
    while node.kind == "select" and not node.test_only and node.children:
        keys.append(node.name)
        node = node.children[0]
    if node.kind != "ident" or not keys:
        return None
    return node.name, tuple(reversed(keys))


def _path(name: str, keys: tuple[str, ...]) -> Fn:
    if len(keys) == 1:
        key = keys[0]

        def one(env: Env) -> Any:
            value = env.get(name, _MISSING)
            if type(value) is not dict:
                raise _FALLBACK
            found = value.get(key, _MISSING)
            if found is _MISSING:
                raise _FALLBACK
            return found

        return one

    def path(env: Env) -> Any:
        value = env.get(name, _MISSING)
        for key in keys:
            if type(value) is not dict:
                raise _FALLBACK
            value = value.get(key, _MISSING)
        if value is _MISSING:
            raise _FALLBACK
        return value

    return path


def _has(operand: Fn, key: str) -> Fn:
    def has(env: Env) -> bool:
        value = operand(env)
        if type(value) is not dict:
            raise _FALLBACK
        return key in value

    return has


def _select(operand: Fn, key: str) -> Fn:
    def select(env: Env) -> Any:
        value = operand(env)
        if type(value) is not dict:
            raise _FALLBACK
        found = value.get(key, _MISSING)
        if found is _MISSING:
            raise _FALLBACK
        return found

    return select


def _bool(value: Any) -> bool:
    if value is True or value is False:
        return value
    raise _FALLBACK


def _and(a: Fn, b: Fn) -> Fn:
    def and_(env: Env) -> bool:
        if _bool(a(env)) is False:
            return False
        return _bool(b(env))

    return and_


def _or(a: Fn, b: Fn) -> Fn:
    def or_(env: Env) -> bool:
        if _bool(a(env)) is True:
            return True
        return _bool(b(env))

    return or_


def _not(a: Fn) -> Fn:
    return lambda env: not _bool(a(env))


def _same(x: Any, y: Any) -> type:
    """The common type of two operands the fast path compares (int, str, bool or None)."""
    kind = type(x)
    if kind is not type(y) or kind not in (int, str, bool, type(None)):
        raise _FALLBACK
    return kind


def _equals(a: Fn, b: Fn, negate: bool) -> Fn:
    def eq(env: Env) -> bool:
        x, y = a(env), b(env)
        _same(x, y)
        return bool(x != y) if negate else bool(x == y)

    return eq


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "_<_": lambda x, y: x < y, "_<=_": lambda x, y: x <= y,
    "_>_": lambda x, y: x > y, "_>=_": lambda x, y: x >= y,
}


def _compare(op: Callable[[Any, Any], bool], a: Fn, b: Fn) -> Fn:
    def compare(env: Env) -> bool:
        x, y = a(env), b(env)
        if _same(x, y) not in (int, str):  # strings order by code point, as UTF-8 bytes do
            raise _FALLBACK
        return op(x, y)

    return compare


def _in(a: Fn, b: Fn) -> Fn:
    def in_(env: Env) -> bool:
        needle, haystack = a(env), b(env)
        kind = type(needle)
        if type(haystack) is dict and kind is str:
            return needle in haystack
        if type(haystack) is list and kind in (int, str) and all(type(x) is kind for x in haystack):
            return needle in haystack
        raise _FALLBACK

    return in_


def _size(a: Fn) -> Fn:
    def size(env: Env) -> int:
        value = a(env)
        if type(value) not in (str, list, dict):
            raise _FALLBACK
        return len(value)

    return size


def _strings(op: Callable[[str, str], bool], a: Fn, b: Fn) -> Fn:
    def test(env: Env) -> bool:
        x, y = a(env), b(env)
        if type(x) is not str or type(y) is not str:
            raise _FALLBACK
        return op(x, y)

    return test


def _int(value: int) -> int:
    if INT_MIN <= value <= INT_MAX:
        return value
    raise _FALLBACK  # overflow: the runtime's error


def _add(a: Fn, b: Fn) -> Fn:
    def add(env: Env) -> Any:
        x, y = a(env), b(env)
        kind = type(x)
        if kind is not type(y) or kind not in (int, str, list):
            raise _FALLBACK
        return _int(x + y) if kind is int else x + y

    return add


def _subtract(a: Fn, b: Fn) -> Fn:
    def subtract(env: Env) -> int:
        x, y = a(env), b(env)
        if type(x) is not int or type(y) is not int:
            raise _FALLBACK
        return _int(x - y)

    return subtract


def _negate(a: Fn) -> Fn:
    def negate(env: Env) -> int:
        x = a(env)
        if type(x) is not int:
            raise _FALLBACK
        return _int(-x)

    return negate


def _conditional(c: Fn, a: Fn, b: Fn) -> Fn:
    return lambda env: a(env) if _bool(c(env)) else b(env)


def _index(a: Fn, b: Fn) -> Fn:
    def index(env: Env) -> Any:
        container, key = a(env), b(env)
        if type(container) is list and type(key) is int and 0 <= key < len(container):
            return container[key]
        if type(container) is dict and type(key) is str:
            found = container.get(key, _MISSING)
            if found is not _MISSING:
                return found
        raise _FALLBACK

    return index


def _optional_select(a: Fn, key: str) -> Fn:
    def optional_select(env: Env) -> _Optional:
        value = a(env)
        if type(value) is _Optional:
            if value.value is _NONE:
                return value
            value = value.value
        if type(value) is not dict:
            raise _FALLBACK
        return _Optional(value.get(key, _NONE))

    return optional_select


def _or_value(a: Fn, b: Fn) -> Fn:
    def or_value(env: Env) -> Any:
        value, default = a(env), b(env)  # the default is evaluated either way, as a function argument
        if type(value) is not _Optional:
            raise _FALLBACK
        return default if value.value is _NONE else value.value

    return or_value


def _has_value(a: Fn) -> Fn:
    def has_value(env: Env) -> bool:
        value = a(env)
        if type(value) is not _Optional:
            raise _FALLBACK
        return value.value is not _NONE

    return has_value


def _call(node: Node, variables: frozenset[str], local: frozenset[str]) -> Fn:
    name, member = node.name, node.member
    if name == "_?._" and len(node.children) == 2:
        key = node.children[1]
        if key.kind != "const" or key.literal != "string" or not isinstance(key.value, str):
            raise _NotFast
        return _optional_select(_compile(node.children[0], variables, local), key.value)
    args = [_compile(c, variables, local) for c in node.children]
    count = len(args)
    if count == 2 and not member:
        if name == "_&&_":
            return _and(*args)
        if name == "_||_":
            return _or(*args)
        if name in ("_==_", "_!=_"):
            return _equals(args[0], args[1], name == "_!=_")
        if name in _ORDER:
            return _compare(_ORDER[name], *args)
        if name == "@in":
            return _in(*args)
        if name == "_+_":
            return _add(*args)
        if name == "_-_":
            return _subtract(*args)
        if name == "_[_]":
            return _index(*args)
    if count == 1 and not member:
        if name == "!_":
            return _not(args[0])
        if name == "@not_strictly_false":
            return lambda env: _bool(args[0](env))  # an error would be true: errors fall back
        if name == "-_":
            return _negate(args[0])
        if name == "size":
            return _size(args[0])
    if count == 3 and not member and name == "_?_:_":
        return _conditional(*args)
    if member and count == 1:
        if name == "size":
            return _size(args[0])
        if name == "hasValue":
            return _has_value(args[0])
    if member and count == 2:
        if name == "startsWith":
            return _strings(str.startswith, *args)
        if name == "endsWith":
            return _strings(str.endswith, *args)
        if name == "contains":
            return _strings(str.__contains__, *args)
        if name == "orValue":
            return _or_value(*args)
    raise _NotFast


def _comprehension(node: Node, variables: frozenset[str], local: frozenset[str]) -> Fn:
    if len(node.bound) != 2 or len(node.children) != 5:
        raise _NotFast  # two-variable comprehensions: the runtime's
    item_name, accu_name = node.bound
    range_node, init_node, condition_node, step_node, result_node = node.children
    outer = _compile(range_node, variables, local)
    init = _compile(init_node, variables, local)
    condition = _compile(condition_node, variables, local | {item_name, accu_name})
    step = _compile(step_node, variables, local | {item_name, accu_name})
    result = _compile(result_node, variables, local | {accu_name})
    ordered = init_node.kind == "list"  # map/filter build a list: over a map its order would be the runtime's

    def comprehension(env: Env) -> Any:
        items = outer(env)
        if type(items) is dict:
            if ordered:
                raise _FALLBACK
        elif type(items) is not list:
            raise _FALLBACK
        count = env[BUDGET]
        count[0] += len(items)
        if count[0] > ITERATION_LIMIT:
            raise _FALLBACK
        saved_item, saved_accu = env.get(item_name, _MISSING), env.get(accu_name, _MISSING)
        env[accu_name] = init(env)
        for item in items:
            env[item_name] = item
            if _bool(condition(env)) is False:
                break
            env[accu_name] = step(env)
        env.pop(item_name, None)
        value = result(env)
        for name, saved in ((item_name, saved_item), (accu_name, saved_accu)):
            if saved is _MISSING:
                env.pop(name, None)
            else:
                env[name] = saved
        return value

    return comprehension
