"""The cost of one evaluation, bounded before it runs: Kubernetes' runtime cost with real sizes.

The API server stops a CEL evaluation whose runtime cost passes 1,000,000 (``PerCallLimit``),
charging 1 per identifier, selection and call, a tenth of a string's length to traverse it
(``==``, ``<``, ``+``, ``startsWith``, ``contains`` a product of both sizes, ``matches`` the
string times a quarter of the regex, ``replace``/``split`` twice the input), 10 per list and 30
per map built, and every comprehension step. The C++ runtime has no cost hook, so the engine
computes, before each evaluation, an upper bound of that cost from the sizes of the values
actually bound: an abstract evaluation of the expression over sizes (``Est``), concrete where
the bound values are (``object.spec.containers`` is the object's list, a comprehension's item
is the largest of its items). Values built by the expression are charged by size as well: what
a comprehension accumulates and the result handed back (converting it is a traversal), so a
list of a million-character strings costs what it weighs even where Kubernetes shares them.
An evaluation whose bound passes the budget is ``CostLimitExceeded`` without running: its
strings, lists and time can never exceed the budget's worth (about 10 M characters).

Most evaluations need no abstract evaluation: ``Bound.check`` first bounds the cost with every
bound value as large as all of them together (``weight``), and remembers per program that coarse
bound for each power of two of the total weight that fits.

Beside each expression's limit, Kubernetes gives each evaluation of a policy (a policy, binding
and param: its matchConditions, variables, validations and messageExpressions) and each CRD
validation of an object (all its rules) a total budget of 10,000,000 (``TOTAL``). A ``Budget``
is charged every expression's bound; when the coarse bound would not fit what is left, the
precise one is charged. Past the budget the evaluation stops (``TooCostly`` with ``total``).

Functions implemented in Python (the Kubernetes and Kyverno libraries) are also metered while
the runtime runs (``metered``/``Meter``): what each call returns is charged by its weight, so a
function whose result the bound cannot know (``resource.List`` returns objects of the tree)
still cannot build past the budget.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from gatekeeper.cel.ast import Expression, Node

LIMIT = 1_000_000  # Kubernetes' PerCallLimit: the cost one expression may spend per evaluation
ITERATIONS = 10_000  # the runtime's iteration budget: no comprehension steps more often
TRAVERSAL = 0.1  # Kubernetes' StringTraversalCostFactor: cost per character traversed
REGEX = 0.25  # Kubernetes' RegexStringLengthCostFactor: cost per character of a regex
LIST, MAP = 10, 30  # Kubernetes' ListCreateBaseCost and MapCreateBaseCost
_SAMPLES = 256  # concrete values kept per abstract value; past it only sizes are kept


class TooCostly(Exception):
    """The evaluation's cost bound passes the budget."""

    def __init__(self, bound: float, limit: int, total: bool = False) -> None:
        super().__init__(f"{bound:,.0f}")
        self.bound = bound
        self.limit = limit
        self.total = total  # the evaluation's whole budget (``Budget``), not the expression's own


Memo = dict[int, tuple[Any, int]]  # id -> (the value, kept alive so that its id is not reused; its weight)


def weight(value: Any, memo: Memo | None = None) -> int:
    """What ``value`` weighs: characters of its strings and bytes plus one per value, recursively."""
    kind = type(value)
    if kind is str or kind is bytes:
        return len(value) + 1
    if kind is dict or kind is list:
        key = id(value)
        if memo is not None:
            known = memo.get(key)
            if known is not None:
                return known[1]
        if kind is dict:
            total = 1 + sum(weight(k, memo) + weight(v, memo) for k, v in value.items())
        else:
            total = 1 + sum(weight(v, memo) for v in value)
        if memo is not None:
            memo[key] = (value, total)
        return total
    return 1


def _size(value: Any) -> int:
    return len(value) if type(value) in (str, bytes, list, dict) else 1


class Est:
    """An abstract value: upper bounds of its CEL size (characters, items or entries) and of its
    weight, and, where known, the concrete values it can be (``samples``)."""

    __slots__ = ("samples", "size", "weight")

    def __init__(self, size: int, weight: int, samples: tuple[Any, ...] | None = None) -> None:
        self.size = size
        self.weight = weight
        self.samples = samples

    @classmethod
    def of(cls, values: tuple[Any, ...], memo: Memo | None) -> Est:
        """The abstract value of ``values`` (``memo``: weights by id)."""
        if len(values) > _SAMPLES:
            return cls(max(map(_size, values)), max(weight(v, memo) for v in values))
        if not values:
            return cls(0, 0, ())
        return cls(max(map(_size, values)), max(weight(v, memo) for v in values), values)

    @property
    def least(self) -> int:
        """A lower bound of its size."""
        return min(map(_size, self.samples)) if self.samples else 0


SCALAR = Est(1, 1)
_EMPTY = Est(0, 0)
Env = dict[str, Est]


def _traverse(size: float) -> float:
    return math.ceil(size * TRAVERSAL)


class Estimator:
    """The cost bound of one expression for given bound values."""

    def __init__(self, expression: Expression, memo: Memo) -> None:
        self.expression = expression
        self.memo = memo

    def bound(self, env: Env) -> float:
        value, cost = self.visit(self.expression.root, env)
        return cost + _traverse(value.weight)  # the result is handed back whole

    def visit(self, node: Node, env: Env) -> tuple[Est, float]:
        kind = node.kind
        if kind == "const":
            return Est.of((node.value,), self.memo), 0
        if kind == "ident":
            return env.get(node.name, SCALAR), 1
        if kind == "select":
            operand, cost = self.visit(node.children[0], env)
            if node.test_only:
                return SCALAR, cost + 1
            return self.field(operand, node.name), cost + 1
        if kind == "list":
            items, cost = self.visit_all(node.children, env)
            return self.built(items, len(items)), cost + LIST
        if kind == "struct":
            items, cost = self.visit_all(node.children, env)
            return Est(len(items) // 2, 1 + sum(i.weight for i in items)), cost + MAP
        if kind == "comprehension":
            return self.comprehension(node, env)
        if kind == "call":
            if node.name == "_?._" and len(node.children) == 2 and isinstance(node.children[1].value, str):
                operand, cost = self.visit(node.children[0], env)
                return self.field(operand, node.children[1].value), cost + 1
            args, cost = self.visit_all(node.children, env)
            value, extra = call(node.name, args)
            return value, cost + extra
        return SCALAR, 1

    def visit_all(self, nodes: list[Node], env: Env) -> tuple[list[Est], float]:
        out, cost = [], 0.0
        for child in nodes:
            value, c = self.visit(child, env)
            out.append(value)
            cost += c
        return out, cost

    def built(self, items: list[Est], count: int) -> Est:
        if all(i.samples is not None and len(i.samples) == 1 for i in items):
            return Est.of(([i.samples[0] for i in items if i.samples],), None)  # a new list: no memo
        return Est(count, 1 + sum(i.weight for i in items))

    def field(self, operand: Est, key: str) -> Est:
        """``operand.key`` (also ``operand[key]``)."""
        if operand.samples is None:
            return Est(operand.weight, operand.weight)
        found = tuple(v[key] for v in operand.samples if type(v) is dict and key in v)
        return Est.of(found, self.memo)

    def items(self, collection: Est) -> tuple[Est, Est]:
        """(what a comprehension's first variable takes, what its second takes) over ``collection``."""
        if collection.samples is None:
            whole = Est(collection.weight, collection.weight)
            return whole, whole
        firsts: list[Any] = []
        seconds: list[Any] = []
        for value in collection.samples:
            if type(value) is list:
                firsts.extend(range(len(value)))
                seconds.extend(value)
            elif type(value) is dict:
                firsts.extend(value)
                seconds.extend(value.values())
        return Est.of(tuple(firsts), self.memo), Est.of(tuple(seconds), self.memo)

    def comprehension(self, node: Node, env: Env) -> tuple[Est, float]:
        if len(node.children) != 5 or len(node.bound) < 2:
            raise TooCostly(math.inf, LIMIT)  # not a shape the runtime builds: never expected
        item_name, accu_name = node.bound[0], node.bound[1]
        range_node, init_node, condition_node, step_node, result_node = node.children
        collection, cost = self.visit(range_node, env)
        steps = min(collection.size, ITERATIONS)
        first, second = self.items(collection)
        inner = dict(env)
        if len(node.bound) == 3:  # two variables: index or key, then value
            inner[item_name], inner[node.bound[2]] = first, second
        else:  # one variable: a list's items, a map's keys
            listy = collection.samples is None or any(type(v) is list for v in collection.samples)
            mappy = collection.samples is None or any(type(v) is dict for v in collection.samples)
            if listy and mappy:
                inner[item_name] = Est(max(first.size, second.size), max(first.weight, second.weight))
            else:
                inner[item_name] = second if listy else first
        init, c = self.visit(init_node, env)
        cost += c
        inner[accu_name] = _EMPTY
        _, c_condition = self.visit(condition_node, inner)
        grown, c_step = self.visit(step_node, inner)
        accumulated = Est(init.size + steps * max(grown.size, 1), init.weight + steps * grown.weight)
        cost += steps * (c_condition + c_step) + _traverse(accumulated.weight)
        after = dict(env)
        after[accu_name] = accumulated
        value, c = self.visit(result_node, after)
        return value, cost + c


def _cost(size: float) -> float:
    return 1 + _traverse(size)


def call(name: str, args: list[Est]) -> tuple[Est, float]:
    """(result bound, cost) of a call, as Kubernetes' runtime cost charges it, with a result no
    larger than its arguments unless the function builds more (``replace``, ``join``...)."""
    rule = _CALLS.get(name)
    if rule is not None:
        return rule(args)
    total = sum(a.weight for a in args)
    return Est(total, total), _cost(total)


def _scalar(cost: float) -> tuple[Est, float]:
    return SCALAR, cost


def _replace(args: list[Est]) -> tuple[Est, float]:
    text, old, new = [*args, _EMPTY, _EMPTY, _EMPTY][:3]
    if old.least == 0:
        size = (text.size + 1) * new.size + text.size
    elif new.size <= old.least:
        size = text.size
    else:
        size = math.ceil(text.size / old.least) * new.size
    return Est(size, size + 1), 1 + math.ceil(text.size * 2 * TRAVERSAL)


def _join(args: list[Est]) -> tuple[Est, float]:
    items = args[0]
    separator = args[1].size if len(args) > 1 else 0
    size = items.weight + separator * items.size
    return Est(size, size + 1), 1 + math.ceil(size * 2 * TRAVERSAL)


def _format(args: list[Est]) -> tuple[Est, float]:
    template = args[0]
    values = args[1] if len(args) > 1 else _EMPTY
    size = template.size + 8 * values.weight + 32 * values.size
    return Est(size, size + 1), _cost(size)


def _quote(args: list[Est]) -> tuple[Est, float]:
    size = 6 * args[0].size + 2  # every character may become an escape
    return Est(size, size + 1), _cost(args[0].size)


def _split(args: list[Est]) -> tuple[Est, float]:
    text = args[0]
    return Est(text.size + 1, 2 * text.size + 2), 1 + math.ceil(text.size * 2 * TRAVERSAL)


def _find_all(args: list[Est]) -> tuple[Est, float]:
    text, pattern = args[0], args[1] if len(args) > 1 else _EMPTY
    regex = _traverse(1 + text.size) * math.ceil(pattern.size * REGEX)
    return Est(text.size + 1, 2 * text.size + 2), 1 + regex  # empty matches too: up to size + 1


def _find(args: list[Est]) -> tuple[Est, float]:
    value, cost = _find_all(args)
    return Est(value.size, value.size + 1), cost


def _matches(args: list[Est]) -> tuple[Est, float]:
    text, pattern = args[0], args[1] if len(args) > 1 else _EMPTY
    return SCALAR, 1 + _traverse(1 + text.size) * math.ceil(pattern.size * REGEX)


def _contains(args: list[Est]) -> tuple[Est, float]:
    a, b = args[0], args[1] if len(args) > 1 else _EMPTY
    return SCALAR, 1 + _traverse(a.size) * _traverse(b.size)


def _compare(args: list[Est]) -> tuple[Est, float]:
    return SCALAR, _cost(min(a.weight for a in args))


def _concatenate(args: list[Est]) -> tuple[Est, float]:
    size, total = sum(a.size for a in args), sum(a.weight for a in args)
    return Est(size, total), _cost(total)


def _in(args: list[Est]) -> tuple[Est, float]:
    return SCALAR, 1 + args[-1].weight


def _traversing(args: list[Est]) -> tuple[Est, float]:
    return SCALAR, _cost(args[0].weight)


def _part(args: list[Est]) -> tuple[Est, float]:
    """A function returning its receiver or a part of it (``lowerAscii``, ``min``...)."""
    return Est(args[0].size, args[0].weight), _cost(args[0].weight)


def _nominal(args: list[Est]) -> tuple[Est, float]:
    return SCALAR, 1


def _select(args: list[Est]) -> tuple[Est, float]:
    """``a[i]``, ``a ? b : c``, ``x.orValue(y)``: one of the operands."""
    return Est(max(a.size for a in args), max(a.weight for a in args)), 1


_CALLS: dict[str, Callable[[list[Est]], tuple[Est, float]]] = {
    "replace": _replace, "join": _join, "format": _format, "strings.quote": _quote, "split": _split,
    "findAll": _find_all, "find": _find, "matches": _matches, "contains": _contains,
    "_+_": _concatenate, "@in": _in, "_[_]": _select, "_?_:_": _select, "orValue": _select,
    "_==_": _compare, "_!=_": _compare, "_<_": _compare, "_<=_": _compare, "_>_": _compare, "_>=_": _compare,
    "startsWith": _traversing, "endsWith": _traversing, "indexOf": _traversing, "lastIndexOf": _traversing,
    "isSorted": _traversing, "sum": _traversing,
    "lowerAscii": _part, "upperAscii": _part, "trim": _part, "substring": _part, "charAt": _part,
    "reverse": _part, "min": _part, "max": _part, "_[?_]": _select,
    "_&&_": _nominal, "_||_": _nominal, "!_": _nominal, "@not_strictly_false": _nominal, "size": _nominal,
    "_-_": _nominal, "_*_": _nominal, "_/_": _nominal, "_%_": _nominal, "-_": _nominal,
    "has": _nominal, "hasValue": _nominal, "int": _nominal, "uint": _nominal, "double": _nominal,
    "bool": _nominal, "type": _nominal,
}


class Bound:
    """An expression's cost bound, checked before each evaluation (``check``)."""

    __slots__ = ("_costs", "_expression", "_overruns", "needed")

    def __init__(self, expression: Expression) -> None:
        self._expression = expression
        self._costs: dict[int, float] = {}  # power of two -> coarse bound for total weights up to it, when it fits
        self._overruns = math.inf  # the smallest total weight whose coarse bound passes the budget
        self.needed = tuple(sorted(expression.free_variables()))

    def check(self, values: Mapping[str, Any] | Callable[[], Mapping[str, Any]], total: int | None = None,
              memo: Memo | None = None, budget: Budget | None = None) -> float:
        """The evaluation's cost bound with ``values`` (or a function giving them, called only when
        they are looked at); ``TooCostly`` when it could cost more than ``LIMIT``, or than what is left
        of ``budget`` (which it is charged to). ``total``: the bound values' weight, when the caller
        knows it."""
        memo = {} if memo is None else memo
        if total is None:
            values = values() if callable(values) else values
            total = sum(weight(values.get(name), memo) for name in self.needed)
        ceiling = 1 << max(total - 1, 1).bit_length()  # powers of two: few coarse passes per program
        found = self._costs.get(ceiling)
        if found is None and ceiling < self._overruns:
            whole = Est(ceiling, ceiling)
            coarse = Estimator(self._expression, memo).bound(dict.fromkeys(self.needed, whole))
            if coarse <= LIMIT:
                found = self._costs[ceiling] = coarse
            else:
                self._overruns = ceiling
        if found is None or (budget is not None and budget.spent + found > budget.limit):
            found = self.precise(values() if callable(values) else values, memo)
            if found > LIMIT:
                raise TooCostly(found, LIMIT)
        if budget is not None:
            budget.charge(found)
        return found

    def fits(self, total: int) -> bool:
        """True when ``check`` with this total weight and no budget is known to pass (its coarse bound
        for that weight was computed and fits the limit): nothing to compute."""
        return (1 << max(total - 1, 1).bit_length()) in self._costs

    def precise(self, values: Mapping[str, Any], memo: Memo) -> float:
        """The bound from the values themselves (not only their weight)."""
        env = {name: Est.of((values[name],), memo) for name in self.needed if name in values}
        return Estimator(self._expression, memo).bound(env)


TOTAL = 10_000_000  # Kubernetes' RuntimeCELCostBudget: what all expressions of one evaluation may spend


class Budget:
    """What one policy evaluation (a policy, binding and param; a CRD's rules on one object) may still
    spend: every expression it evaluates is charged its cost bound (``Bound.check``)."""

    __slots__ = ("limit", "spent")

    def __init__(self, limit: int = TOTAL) -> None:
        self.limit = limit
        self.spent = 0.0

    def charge(self, cost: float) -> None:
        """Add ``cost``; ``TooCostly`` (``total`` set) when the budget is then exceeded."""
        self.spent += cost
        if self.spent > self.limit:
            raise TooCostly(self.spent, self.limit, total=True)


class Meter:
    """What the Python library functions built during one evaluation (``metered``)."""

    __slots__ = ("over", "spent")

    def __init__(self) -> None:
        self.spent = 0.0
        self.over = False


_current = threading.local()


@contextmanager
def metering() -> Iterator[Meter]:
    """Meter the library calls of one evaluation on this thread (``Meter.over``: past the budget)."""
    meter, outer = Meter(), getattr(_current, "meter", None)
    _current.meter = meter
    try:
        yield meter
    finally:
        _current.meter = outer


def metered(impl: Callable[..., Any]) -> Callable[..., Any]:
    """``impl`` charging what it returns to the current evaluation's ``Meter``; past the budget it
    refuses (an error value, and the evaluation is reported over budget whatever it returns)."""

    def call(*args: Any) -> Any:
        meter = getattr(_current, "meter", None)
        if meter is not None and meter.over:
            raise ValueError("cost budget exceeded")
        result = impl(*args)
        if meter is not None:
            meter.spent += 1 + _traverse(weight(result))
            if meter.spent > LIMIT:
                meter.over = True
                raise ValueError("cost budget exceeded")
        return result

    return call
