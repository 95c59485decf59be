"""Kubernetes CEL environment parts the runtime lacks, evaluated for real: ``string(ip)``/``string(cidr)``,
``transformMap``/``transformMapEntry``, Go's ``findAll`` with empty matches, the total cost budget of
one evaluation, and the one walk that measures a bound value."""

from __future__ import annotations

from typing import Any

import pytest

from gatekeeper import cel
from gatekeeper.cel import cost, fast
from gatekeeper.cel.measure import measure
from gatekeeper.cel.rewrite import string_calls, transforms

pytestmark = pytest.mark.skipif(not cel.available(), reason="cel-expr-python needs Python 3.11+")


def run(expr: str, **bindings: Any) -> Any:
    env = cel.environment(("self", "oldSelf", "object", "params"))
    return env.compile(expr).evaluate(bindings)


def test_string_of_ip_and_cidr_values() -> None:
    assert run("string(ip('2001:DB8::1'))") == "2001:db8::1"
    assert run("string(cidr('10.0.0.1/8'))") == "10.0.0.1/8"  # as Kubernetes: the address as given
    assert run("string(cidr('10.0.0.1/8').masked())") == "10.0.0.0/8"
    assert run("string(cidr('192.168.0.0/24').ip()) + '/' + string(cidr('192.168.0.0/24').prefixLength())") \
        == "192.168.0.0/24"
    # the runtime's own conversions stay where the argument is not an IP or CIDR
    assert run("string(1) + string(ip('1.2.3.4')) + string(self) + 'string('", self="x") == "11.2.3.4xstring("
    assert run("[ip('::1'), ip('10.0.0.1')].map(a, string(a))") == ["::1", "10.0.0.1"]
    assert run("self.all(a, string(ip(a)) == a)", self=["10.0.0.1", "fd00::1"]) is True
    with pytest.raises(cel.CompileError, match="no matching overload"):
        cel.environment(("self",)).compile("string(quantity('1'))")


def test_string_calls_are_found_outside_literals_and_comments() -> None:
    source = "string(a) + 'string(' + \"string(x)\" + r'string(' + x.string + string (b) // string(c)"
    assert [source[i:i + 10] for i in string_calls(source)] == ["string(a) ", "string (b)"]


def test_transform_map_and_map_entry() -> None:
    assert run("{'a': 1, 'b': 2}.transformMap(k, v, v * 10)") == {"a": 10, "b": 20}
    assert run("{'a': 1, 'b': 2}.transformMap(k, v, v > 1, v * 10)") == {"b": 20}
    assert run("[5, 6].transformMap(i, v, v + i)") == {0: 5, 1: 7}
    assert run("self.transformMapEntry(k, v, {v: k})", self={"x": "1", "y": "2"}) == {"1": "x", "2": "y"}
    assert run("self.transformMapEntry(k, v, k != 'x', {k + '-': v})", self={"x": 1, "y": 2}) == {"y-": 2}
    assert run("self.transformMap(k, v, v.transformMap(a, b, b + ', ).x'))", self={"m": {"p": "q"}}) \
        == {"m": {"p": "q, ).x"}}
    assert run("self.transformList(i, v, v * 2)", self=[1, 2]) == [2, 4]
    assert run("self.transformMap(k, v, v).size() == self.size()", self={"a": 1}) is True
    with pytest.raises(cel.EvaluationError, match="insert failed: key 'z' already exists"):
        run("{'a': 1, 'b': 2}.transformMapEntry(k, v, {'z': v})")
    with pytest.raises(cel.CompileError):  # the wrong arity is the compiler's error, at its own position
        run("{'a': 1}.transformMap(k, v)")


def test_transforms_rewrite_only_calls_in_code() -> None:
    assert transforms("'x.transformMap(a, b, c)'") is None
    assert transforms("m.transformMap(k, v, v)") == "m.transformList(k, v, {k: (v)}).kubernetesMapOfEntries()"


@pytest.mark.parametrize(("expr", "expected"), [
    ("'abc'.findAll('b*')", ["", "b", ""]),  # Go: no empty match right after a match
    ("'abc'.findAll('x*')", ["", "", "", ""]),
    ("'ab'.findAll('$')", [""]),
    ("'a'.findAll('|a')", ["", ""]),
    ("'a1b22c333'.findAll('[0-9]+')", ["1", "22", "333"]),
    ("'a1b22c333'.findAll('([0-9])+')", ["1", "22", "333"]),  # whole matches, not groups
    ("'aaa'.findAll('a', 2)", ["a", "a"]),
    ("'aaa'.findAll('a', 0)", []),
    ("'aaa'.findAll('a', -1)", ["a", "a", "a"]),
    ("'xa ax'.findAll('\\\\ba')", ["a"]),  # context: a word boundary sees the text before the position
    ("'éaé'.findAll('a*')", ["", "a", ""]),
])
def test_find_all_lists_matches_as_go_does(expr: str, expected: list[str]) -> None:
    assert run(expr) == expected


def test_find_all_with_a_bad_pattern_is_an_evaluation_error() -> None:
    with pytest.raises(cel.EvaluationError, match="Illegal regex"):
        run("'abc'.findAll('(')")


def test_total_budget_of_one_evaluation_stops_further_expressions() -> None:
    env = cel.environment(("self",))
    program = env.compile("self.contains(self)")  # (9000 / 10)^2 = 810,000: under the per-call limit
    bound = env.bindings({"self": "x" * 9000})
    budget = cel.Budget()
    for _ in range(12):
        assert program.evaluate(bound, budget=budget) is True
    assert 9_000_000 < budget.spent <= cel.TOTAL_BUDGET
    with pytest.raises(cel.CostLimitExceeded, match="total cost budget of 10,000,000"):
        program.evaluate(bound, budget=budget)
    assert program.evaluate(bound, budget=cel.Budget()) is True  # every evaluation has its own budget
    assert program.evaluate(bound) is True  # without a budget: only the per-expression limit


def test_coarse_bounds_do_not_exhaust_a_budget_the_precise_ones_fit() -> None:
    env = cel.environment(("self",))
    program = env.compile("self.a.contains(self.a)")  # the coarse bound counts self.b as well
    bound = env.bindings({"self": {"a": "x" * 9000, "b": "y" * 60_000}})
    budget = cel.Budget()
    for _ in range(12):
        assert program.evaluate(bound, budget=budget) is True
    assert budget.spent <= cel.TOTAL_BUDGET


VALUES: list[Any] = [None, True, 1, -(1 << 63), 1 << 63, 1.5, "", "é", "\ud800", b"ab", {"a": [1, {"b": "c"}]},
                     {1: "x"}, {"k\ud800": 1}, [[], {}, "x" * 30], {"a": {"b": b"x"}}, [1 << 70], object()]


@pytest.mark.parametrize("value", VALUES)
def test_measure_is_weight_and_plain_in_one_walk(value: Any) -> None:
    assert measure(value) == (cost.weight(value), fast.plain(value))
