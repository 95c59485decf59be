"""The Python fast path against the CEL runtime: for every expression and bound value, the same
result (value and type) or the same error, whichever way it is evaluated."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatekeeper import cel
from gatekeeper.cel import fast

pytestmark = pytest.mark.skipif(not cel.available(), reason="cel-expr-python needs Python 3.11+")

VARIABLES = ("object", "params", "variables")

EXPRESSIONS = [
    "object.spec.replicas <= 5",
    "object.spec.replicas <= params.max",
    "object.spec.replicas == 3 || object.spec.replicas != 4",
    "has(object.metadata.labels) && object.metadata.labels.size() > 0",
    "has(object.metadata.labels) && 'team' in object.metadata.labels",
    "!has(object.spec.type) || object.spec.type != 'NodePort'",
    "!has(object.data) || object.data.size() <= 2",
    "!object.metadata.name.startsWith('kube-')",
    "object.metadata.name.endsWith('-x') || object.metadata.name.contains('a')",
    "object.spec.containers.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) || "
    "c.securityContext.privileged == false)",
    "object.spec.containers.all(c, has(c.resources) && has(c.resources.limits) && has(c.resources.limits.memory))",
    "variables.containers.all(c, c.image.startsWith('registry.example.com/') || !c.image.contains('/'))",
    "object.spec.containers.exists(c, c.name == 'web')",
    "object.spec.containers.exists_one(c, c.name == 'web')",
    "object.spec.containers.map(c, c.name)",
    "object.spec.containers.filter(c, c.name != 'web').size()",
    "object.spec.containers.map(c, c.name == 'web', c.image)",
    "object.metadata.labels.all(k, k.startsWith('app'))",
    "object.metadata.labels.map(k, k)",
    "object.metadata.labels.exists(k, object.metadata.labels[k] == 'web')",
    "object.spec.maxReplicas <= 20 && object.spec.?minReplicas.orValue(1) <= object.spec.maxReplicas",
    "object.spec.?minReplicas.hasValue()",
    "object.spec.?minReplicas",
    "[object.spec.?minReplicas]",
    "object.spec.replicas + 1",
    "object.spec.replicas - params.max",
    "-object.spec.replicas",
    "object.metadata.name + '-' + object.metadata.namespace",
    "object.spec.containers + object.spec.containers",
    "object.spec.containers[0].name",
    "object.spec.containers[1]",
    "object.metadata.labels['app']",
    "object.spec.replicas > 2 ? 'many' : 'few'",
    "object.spec.replicas in [1, 2, 3]",
    "object.metadata.name in ['a', 'web']",
    "size(object.metadata.name) < 10",
    "object.metadata.name < 'm'",
    "object.spec.replicas == null",
    "object.spec.paused == true",
    "object.spec",
    "object.spec.containers.all(a, object.spec.containers.all(b, a.name != b.name || a == b))",
    "params.list.all(x, params.list.all(y, params.list.all(z, true)))",
    "object.spec.containers.all(a, object.spec.containers.all(b, a.name != '' && b.name != ''))",
    "object.spec.replicas",
    "1u == 1u",
    "object.spec.replicas * 2 < 10",
    # shapes the generated functions must scope and order as CEL does
    "object.spec.containers.all(c, object.spec.containers.exists(c, c.name == 'web'))",
    "object.metadata.labels.exists(object, object == 'app')",
    "object.spec.containers.exists(c, c.name == 'web') && object.spec.containers.all(c, has(c.image))",
    "object.spec.containers.map(c, object.spec.containers.filter(d, d.name == c.name).size())",
    "[1, 2].all(x, [3, 4].exists(x, x > 2))",
    "object.metadata.labels.all(k, object.metadata.labels[k].size() < 10)",
    "has(object.spec.replicas) ? object.spec.replicas : -1",
    "!(object.spec.replicas < 3) && object.metadata.name >= 'a'",
    "object.metadata.labels['a\\'b\\\\\"c'] == 'x' || object.metadata.name != 'we\\'b'",
    "object.spec.containers.exists_one(c, object.spec.containers.exists_one(d, d == c))",
]

BASE: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "team": "a"}},
    "spec": {"replicas": 3, "maxReplicas": 10, "minReplicas": 2, "type": "ClusterIP", "paused": False,
             "containers": [{"name": "web", "image": "registry.example.com/web:1",
                             "securityContext": {"privileged": False},
                             "resources": {"limits": {"memory": "1Gi"}}},
                            {"name": "side", "image": "side:2"}]},
    "data": {"a": "1"},
}


def _variant(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    import copy

    out = copy.deepcopy(BASE)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


_DELETE = object()

OBJECTS: list[dict[str, Any]] = [
    BASE,
    _variant(("spec", "replicas"), 9),
    _variant(("spec", "replicas"), _DELETE),
    _variant(("spec", "replicas"), 3.0),
    _variant(("spec", "replicas"), True),
    _variant(("spec", "replicas"), "3"),
    _variant(("spec", "replicas"), None),
    _variant(("spec", "replicas"), 1 << 63),
    _variant(("spec", "replicas"), (1 << 63) - 1),
    _variant(("spec", "replicas"), -(1 << 63)),
    _variant(("spec", "replicas"), 1 << 64),
    _variant(("spec", "replicas"), math.nan),
    _variant(("spec", "minReplicas"), _DELETE),
    _variant(("spec", "type"), "NodePort"),
    _variant(("spec", "type"), None),
    _variant(("spec", "containers"), []),
    _variant(("spec", "containers"), {"web": {"name": "web"}}),
    _variant(("spec", "containers"), [{"name": "web", "image": "x"}, {"name": "web", "image": "x/y"}]),
    _variant(("spec", "containers"), [{"name": "web", "securityContext": {"privileged": True}}]),
    _variant(("spec", "containers"), [{"name": 1, "image": 2}]),
    _variant(("spec", "containers"), [None, {"name": "web"}]),
    _variant(("spec", "containers"), [{"name": f"c{i}"} for i in range(80)]),  # 6,480 iterations: the runtime's
    _variant(("spec", "containers"), [{"name": f"c{i}"} for i in range(120)]),  # 14,520: over its budget
    _variant(("metadata", "labels"), {}),
    _variant(("metadata", "labels"), None),
    _variant(("metadata", "labels"), {"app": "web", 1: "x"}),
    _variant(("metadata", "labels"), {None: "x"}),
    _variant(("metadata", "labels"), {"app": "\ud800"}),
    _variant(("metadata", "labels"), {"ápp": "wéb", "app2": "x"}),
    _variant(("metadata", "name"), "kube-system"),
    _variant(("metadata", "name"), "é" * 20),
    _variant(("metadata", "name"), ""),
    _variant(("metadata", "name"), 7),
    _variant(("metadata",), _DELETE),
    _variant(("data",), {"a": "1", "b": "2", "c": "3"}),
    _variant(("data",), ["a"]),
    _variant(("spec",), "text"),
    _variant(("spec",), [1, 2]),
]

PARAMS: list[Any] = [{"max": 5, "list": list(range(30))}, {"max": "5"}, None, {"max": 1 << 63}]


def outcome(program: cel.Program, bindings: cel.Bindings, runtime_only: bool) -> tuple[str, Any]:
    try:
        value = program.evaluate(bindings, runtime_only=runtime_only)
    except cel.CelError as exc:
        return type(exc).__name__, exc.message
    return "value", _typed(value)


def _typed(value: Any) -> Any:
    """A value with its types spelt out (True and 1 compare equal in Python; not in CEL)."""
    if isinstance(value, dict):
        return ("map", sorted((repr(k), _typed(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def _check(expression: str, obj: Any, params: Any) -> bool:
    """Fast and runtime outcomes agree; True when the fast path gave the value itself."""
    env = cel.environment(VARIABLES)
    program = env.compile(expression)
    containers = obj.get("spec", {}).get("containers") if isinstance(obj.get("spec"), dict) else None
    values = {"object": obj, "params": params, "variables": {"containers": containers}}
    fast_result = outcome(program, env.bindings(dict(values)), False)
    runtime = outcome(program, env.bindings(dict(values)), True)
    assert fast_result == runtime, (expression, obj, params)
    return program.has_fast_path and fast.plain(obj) and fast_result[0] == "value"


def test_every_expression_agrees_with_the_runtime_on_every_object() -> None:
    answered = 0
    for expression in EXPRESSIONS:
        for obj in OBJECTS:
            for params in PARAMS if "params" in expression else PARAMS[:1]:
                answered += _check(expression, obj, params)
    assert answered > 600  # the fast path answered most of them itself


def test_fast_path_covers_the_common_policy_shapes_and_leaves_the_rest() -> None:
    env = cel.environment(VARIABLES)
    assert all(env.compile(e).has_fast_path for e in EXPRESSIONS[:24])
    for source in ("1u == 1u", "object.spec.replicas * 2 < 10", "object.a.matches('x')",
                   "quantity(object.a).isGreaterThan(quantity('1'))", "object.all(k, v, v == 1)",
                   "{'a': 1}.a == 1", "1.5 < object.a", "type(object) == map"):
        assert not env.compile(source).has_fast_path, source


def test_fast_path_reads_what_it_returns_without_the_runtime() -> None:
    env = cel.environment(VARIABLES)
    program = env.compile("object.spec.containers.all(c, c.image.startsWith('registry.example.com/'))")
    bindings = env.bindings({"object": BASE})
    assert program.evaluate(bindings) is False
    assert bindings._activation is None  # nothing was converted for the runtime


def test_comprehensions_near_the_cost_budget_are_left_to_the_runtime() -> None:
    env = cel.environment(VARIABLES)
    program = env.compile("object.all(a, object.all(b, a != '' && b != ''))")
    small, large = [f"c{i}" for i in range(80)], [f"c{i}" for i in range(120)]
    assert program.evaluate(env.bindings({"object": small})) is True  # 6,480 iterations: within the budget
    with pytest.raises(cel.CostLimitExceeded):
        program.evaluate(env.bindings({"object": large}))  # 14,520
    assert program.evaluate(env.bindings({"object": small[:60]})) is True
    bindings = env.bindings({"object": small[:60]})  # 3,660 iterations: the fast path's own
    assert program.evaluate(bindings) is True and bindings._activation is None


def test_unplain_values_go_to_the_runtime() -> None:
    assert fast.plain(BASE)
    for value in ({1: "a"}, {"a": "\ud800"}, 1 << 63, -(1 << 63) - 1, b"x", (1, 2), {"a": {None: 1}}):
        assert not fast.plain(value), value
    for value in (1.5, math.nan, None, True, (1 << 63) - 1, "é", {"é": ["x", 1, None]}):
        assert fast.plain(value), value


_keys = st.sampled_from(["a", "b", "name", "spec", "é"])
_scalars = st.one_of(st.integers(-5, 5), st.sampled_from([1 << 63, -(1 << 63), 1.5, True, False, None]),
                     st.sampled_from(["", "a", "web", "kube-x", "é", "a/b"]))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                          st.dictionaries(_keys, inner, max_size=3)), max_leaves=8)

_dyn = st.sampled_from(["object.a", "object.b", "object.a.b", "object.name", "params.a", "params", "x", "x.a",
                        "object.a[0]", "object.a['b']", "object.?a.orValue(1)", "object.?a.?b.orValue('z')"])
_int: st.SearchStrategy[str] = st.deferred(lambda: st.one_of(
    st.sampled_from(["0", "1", "-3", "9223372036854775807"]), _dyn,
    st.builds("size({})".format, st.one_of(_str, _list, _dyn)),
    st.builds("({} {} {})".format, _int, st.sampled_from(["+", "-"]), _int), st.builds("-({})".format, _int)))
_str: st.SearchStrategy[str] = st.deferred(lambda: st.one_of(
    st.sampled_from(["''", "'a'", "'web'", "'é'", "'a/b'"]), _dyn, st.builds("({} + {})".format, _str, _str)))
_list: st.SearchStrategy[str] = st.deferred(lambda: st.one_of(
    st.sampled_from(["[1, 2]", "['a', 'b']", "[]", "[object.a]"]), _dyn, st.builds("({} + {})".format, _list, _list),
    st.builds("object.a.{}(x, {})".format, st.sampled_from(["map", "filter"]), _bool),
    st.builds("object.a.map(x, {}, {})".format, _bool, _dyn)))
_bool: st.SearchStrategy[str] = st.deferred(lambda: st.one_of(
    st.sampled_from(["true", "false", "has(object.a)", "has(object.a.b)", "has(x.a)", "object.?a.hasValue()"]),
    _dyn,
    st.builds("({} {} {})".format, _int, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), _int),
    st.builds("({} {} {})".format, _str, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), _str),
    st.builds("({} {} {})".format, _dyn, st.sampled_from(["==", "!="]), st.one_of(_dyn, _str, _int, _bool)),
    st.builds("({} {} {})".format, _bool, st.sampled_from(["&&", "||"]), _bool),
    st.builds("!({})".format, _bool),
    st.builds("({}).{}({})".format, _str, st.sampled_from(["startsWith", "endsWith", "contains"]), _str),
    st.builds("({} in {})".format, st.one_of(_str, _int, _dyn), st.one_of(_list, _dyn)),
    st.builds("({} ? {} : {})".format, _bool, _bool, _bool),
    st.builds("object.{}.{}(x, {})".format, st.sampled_from(["a", "b"]),
              st.sampled_from(["all", "exists", "exists_one"]), _bool)))
_expressions = st.one_of(_bool, _int, _str, _list)
_object = st.fixed_dictionaries({}, optional={"a": _values, "b": _values, "name": _scalars})


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(expression=_expressions, obj=_object, params=_values)
def test_random_expressions_agree_with_the_runtime(expression: str, obj: dict[str, Any], params: Any) -> None:
    env = cel.environment((*VARIABLES, "x"))
    try:
        program = env.compile(expression)
    except cel.CompileError:
        return
    values = {"object": obj, "params": params, "variables": {}}
    assert outcome(program, env.bindings(dict(values)), False) == \
        outcome(program, env.bindings(dict(values)), True), (expression, obj, params)


def test_a_fallback_keeps_no_frames_alive() -> None:
    """The fast path raises one shared ``Fallback``: the engine clears its traceback, which would
    otherwise keep the evaluation's frames (and every object they bound) until the next fallback."""
    program = cel.environment(VARIABLES).compile("object.spec.replicas <= 5")
    bound = {"object": {"spec": {}}, "params": None, "variables": {}}
    with pytest.raises(cel.EvaluationError):
        program.evaluate(bound)  # no such key: the fast path falls back, the runtime reports it
    assert fast._FALLBACK.__traceback__ is None
