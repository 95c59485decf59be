"""Plain Python evaluation of the simplest CEL expressions, with the runtime as the fallback.

Most policy expressions are field paths, ``has()``, comparisons, string tests and ``all``/
``exists`` over a list. For those, binding a value to the runtime (converting it) and calling
it costs tens of microseconds, many times the work. ``compile_fast`` turns a decoded expression
made only of such parts into one Python function, generated as source text and compiled once
(a comprehension becomes a nested function with a loop; a field path, an index into the bound
dicts); anything else gets no function (the runtime runs it). The function returns a value only
where it is certainly the runtime's: every operation takes the narrow value types its result is
plain for (same-type ints in int64, strings, bools, null; maps with string keys; lists) and
raises ``Fallback`` on anything else — a missing field, another type, an error, an optional
result, a comprehension that could reach the cost budget — and the caller then evaluates the
whole expression with the runtime, which also gives the error its own message. Bound values must
be ``plain`` (what the runtime converts without error, and with the same value), which
``Bindings`` checks once per variable: then every map is a ``dict`` and every list a ``list``, so
a selection is Python's indexing (a missing key or a value that is not a map raises ``KeyError``
or ``TypeError``, which the function turns into ``Fallback``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from gatekeeper.cel.ast import Expression, Node
from gatekeeper.cel.measure import INT_MAX, INT_MIN, utf8

Env = dict[str, Any]

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
    gen = _Generator(variables)
    try:
        body = gen.expression(expression.root, gen.top, {})
    except _NotFast:
        return None
    lines = ["def run(env):"]
    if gen.loops:
        lines.append("    n = [0]")  # comprehension iterations of this evaluation, all loops together
    lines.extend("    " + line for line in gen.top.lines)
    lines += ["    try:", f"        value = {body}", "    except (KeyError, TypeError):", "        raise _FALLBACK",
              "    if type(value) is _Optional:", "        raise _FALLBACK", "    return value"]
    namespace = dict(_NAMESPACE)
    with warnings.catch_warnings():  # a constant's selection warns when compiled; it falls back when run
        warnings.simplefilter("ignore", SyntaxWarning)
        code = compile("\n".join(lines), "<cel fast path>", "exec")
    exec(code, namespace)  # generated from the decoded expression: names and literals quoted, helpers fixed
    run: Callable[[Env], Any] = namespace["run"]
    return run


class _Frame:
    """A function being generated: the nested functions (comprehensions) it defines first."""

    __slots__ = ("lines",)

    def __init__(self) -> None:
        self.lines: list[str] = []


class _Generator:
    """Python source for an expression: each node becomes a Python expression that evaluates it (or
    raises), with the same checks, in the same order, as the CEL semantics the fast path keeps."""

    def __init__(self, variables: frozenset[str]) -> None:
        self.variables = variables
        self.top = _Frame()
        self.count = 0
        self.loops = False

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def expression(self, node: Node, frame: _Frame, scope: dict[str, str]) -> str:
        """A Python expression for ``node``; ``scope``: CEL names bound by comprehensions -> Python
        expressions (a local, or a raise where the name is out of the loop's reach)."""
        kind = node.kind
        if kind == "const":
            if node.literal not in ("int", "string", "bool", "null"):
                raise _NotFast  # uint, double, bytes: kept for the runtime
            return f"({node.value!r})"
        if kind == "ident":
            if node.name in scope:
                return scope[node.name]
            if node.name not in self.variables:
                raise _NotFast  # a type name or a qualified identifier
            return f"env[{node.name!r}]"
        if kind == "select":
            operand = self.expression(node.children[0], frame, scope)
            if node.test_only:
                t = self.name("t")
                return f"(({node.name!r} in {t}) if type({t} := {operand}) is dict else _fb())"
            return f"{operand}[{node.name!r}]"
        if kind == "list":
            items = [self.expression(c, frame, scope) for c in node.children]
            return f"_list([{', '.join(items)}])"
        if kind == "call":
            return self.call(node, frame, scope)
        if kind == "comprehension":
            return self.comprehension(node, frame, scope)
        raise _NotFast

    def _boolean(self, code: str) -> str:
        t = self.name("t")
        return f"({t} if ({t} := {code}) is True or {t} is False else _fb())"

    def call(self, node: Node, frame: _Frame, scope: dict[str, str]) -> str:
        name, member = node.name, node.member
        if name == "_?._" and len(node.children) == 2:
            key = node.children[1]
            if key.kind != "const" or key.literal != "string" or not isinstance(key.value, str):
                raise _NotFast
            return f"_optional_select({self.expression(node.children[0], frame, scope)}, {key.value!r})"
        args = [self.expression(c, frame, scope) for c in node.children]
        count = len(args)
        if count == 2 and not member:
            a, b = args
            if name == "_&&_":
                t = self.name("t")
                return f"(False if ({t} := {a}) is False else ({self._boolean(b)} if {t} is True else _fb()))"
            if name == "_||_":
                t = self.name("t")
                return f"(True if ({t} := {a}) is True else ({self._boolean(b)} if {t} is False else _fb()))"
            if name in ("_==_", "_!=_"):
                x, y = self.name("x"), self.name("y")
                op = "!=" if name == "_!=_" else "=="
                return f"(({x} {op} {y}) if type({x} := {a}) is type({y} := {b}) and type({x}) in _EQUAL else _fb())"
            if name in _ORDER:
                x, y = self.name("x"), self.name("y")
                return (f"(({x} {_ORDER[name]} {y}) if type({x} := {a}) is type({y} := {b}) and type({x}) in _ORDERED "
                        "else _fb())")
            if name in _BINARY:
                return f"{_BINARY[name]}({a}, {b})"
        if count == 1 and not member:
            if name == "!_":
                t = self.name("t")
                return f"(False if ({t} := {args[0]}) is True else (True if {t} is False else _fb()))"
            if name == "@not_strictly_false":
                return self._boolean(args[0])  # an error would be true: errors fall back
            if name == "-_":
                return f"_negate({args[0]})"
            if name == "size":
                return self._size(args[0])
        if count == 3 and not member and name == "_?_:_":
            t = self.name("t")
            return f"({args[1]} if ({t} := {args[0]}) is True else ({args[2]} if {t} is False else _fb()))"
        if member and count == 1:
            if name == "size":
                return self._size(args[0])
            if name == "hasValue":
                return f"_has_value({args[0]})"
        if member and count == 2:
            x, y = self.name("x"), self.name("y")
            test = {"startsWith": f"{x}.startswith({y})", "endsWith": f"{x}.endswith({y})",
                    "contains": f"({y} in {x})"}.get(name)
            if test is not None:
                return f"({test} if type({x} := {args[0]}) is str and type({y} := {args[1]}) is str else _fb())"
            if name == "orValue":
                return f"_or_value({args[0]}, {args[1]})"
        raise _NotFast

    def _size(self, code: str) -> str:
        t = self.name("t")
        return f"(len({t}) if type({t} := {code}) in _SIZED else _fb())"

    def comprehension(self, node: Node, frame: _Frame, scope: dict[str, str]) -> str:
        """A nested function of ``frame`` running the loop (its items are the argument)."""
        if len(node.bound) != 2 or len(node.children) != 5:
            raise _NotFast  # two-variable comprehensions: the runtime's
        item_name, accu_name = node.bound
        range_node, init_node, condition_node, step_node, result_node = node.children
        self.loops = True
        items = self.expression(range_node, frame, scope)
        function, item, accu = self.name("loop"), self.name("item"), self.name("accu")
        inner = _Frame()
        init = self.expression(init_node, inner, scope)
        looping = {**scope, item_name: item, accu_name: accu}
        condition = self.expression(condition_node, inner, looping)
        step = self.expression(step_node, inner, looping)
        # the result sees the accumulator, not the item (nor a variable the item's name shadowed)
        result = self.expression(result_node, inner, {**scope, item_name: "_fb()", accu_name: accu})
        ordered = init_node.kind == "list"  # map/filter build a list: over a map its order would be the runtime's
        c = self.name("c")
        kinds = "type(items) is dict" if ordered else "type(items) is not dict and type(items) is not list"
        lines = [f"def {function}(items):", f"    if {kinds}:", "        raise _FALLBACK"]
        if ordered:
            lines += ["    if type(items) is not list:", "        raise _FALLBACK"]
        lines += ["    n[0] += len(items)", "    if n[0] > _LIMIT:", "        raise _FALLBACK"]
        lines += ["    " + line for line in inner.lines]
        lines += [f"    {accu} = {init}", f"    for {item} in items:", f"        {c} = {condition}",
                  f"        if {c} is False:", "            break", f"        if {c} is not True:",
                  "            raise _FALLBACK", f"        {accu} = {step}", f"    return {result}"]
        frame.lines.extend(lines)
        return f"{function}({items})"


_ORDER = {"_<_": "<", "_<=_": "<=", "_>_": ">", "_>=_": ">="}
_BINARY = {"@in": "_in", "_+_": "_add", "_-_": "_subtract", "_[_]": "_index"}


def _fb() -> Any:
    raise _FALLBACK


def _list(items: list[Any]) -> list[Any]:
    if any(type(x) is _Optional for x in items):
        raise _FALLBACK  # optional list elements: the runtime's
    return items


def _in(needle: Any, haystack: Any) -> bool:
    kind = type(needle)
    if type(haystack) is dict and kind is str:
        return needle in haystack
    if type(haystack) is list and kind in (int, str) and all(type(x) is kind for x in haystack):
        return needle in haystack
    raise _FALLBACK


def _int(value: int) -> int:
    if INT_MIN <= value <= INT_MAX:
        return value
    raise _FALLBACK  # overflow: the runtime's error


def _add(x: Any, y: Any) -> Any:
    kind = type(x)
    if kind is not type(y) or kind not in (int, str, list):
        raise _FALLBACK
    return _int(x + y) if kind is int else x + y


def _subtract(x: Any, y: Any) -> int:
    if type(x) is not int or type(y) is not int:
        raise _FALLBACK
    return _int(x - y)


def _negate(x: Any) -> int:
    if type(x) is not int:
        raise _FALLBACK
    return _int(-x)


def _index(container: Any, key: Any) -> Any:
    if type(container) is list and type(key) is int and 0 <= key < len(container):
        return container[key]
    if type(container) is dict and type(key) is str:
        found = container.get(key, _MISSING)
        if found is not _MISSING:
            return found
    raise _FALLBACK


def _optional_select(value: Any, key: str) -> _Optional:
    if type(value) is _Optional:
        if value.value is _NONE:
            return value
        value = value.value
    if type(value) is not dict:
        raise _FALLBACK
    return _Optional(value.get(key, _NONE))


def _or_value(value: Any, default: Any) -> Any:
    # the default is evaluated either way, as a function argument
    if type(value) is not _Optional:
        raise _FALLBACK
    return default if value.value is _NONE else value.value


def _has_value(value: Any) -> bool:
    if type(value) is not _Optional:
        raise _FALLBACK
    return value.value is not _NONE


_NAMESPACE: dict[str, Any] = {
    "_FALLBACK": _FALLBACK, "_Optional": _Optional, "_LIMIT": ITERATION_LIMIT, "_fb": _fb, "_list": _list,
    "_in": _in, "_add": _add, "_subtract": _subtract, "_negate": _negate, "_index": _index,
    "_optional_select": _optional_select, "_or_value": _or_value, "_has_value": _has_value,
    "_EQUAL": (int, str, bool, type(None)), "_ORDERED": (int, str), "_SIZED": (str, list, dict),
}
