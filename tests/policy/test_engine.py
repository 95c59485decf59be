"""The embedded engine (regorus) reads Rego as OPA does: each case once differed, checked by evaluation."""

from __future__ import annotations

import pytest

from gatekeeper.rego.engine import PolicyEvalError, RegorusEngine
from gatekeeper.rego.modules import PolicyLoadError, load_module
from gatekeeper.rego.rewrite import prepare


def _eval(src: str, queries: dict[str, list[str]], input_value: object = None, version: str = "auto"
          ) -> dict[str, object]:
    engine = RegorusEngine()
    return engine.compile([load_module("p.rego", src, version)], {}, queries).evaluate(input_value)


def test_false_rule_stays_false_and_undefined_is_absent() -> None:
    src = "package p\nimport rego.v1\nallow := false\nmissing if input.nope\n"
    assert _eval(src, {"allow": ["p", "allow"], "missing": ["p", "missing"]}, {}) == {"allow": False}


@pytest.mark.parametrize("call", ["http.send({})", "crypto.sha256(\"x\")", "rego.metadata.rule()",
                                  'strings.render_template("x", {})', "io.jwt.decode(\"x\")"])
def test_missing_builtin_is_a_load_error_naming_it(call: str) -> None:
    name = call.split("(")[0]
    src = f"package p\nimport rego.v1\n\ndeny contains m if {{\n  m := {call}\n}}\n"
    with pytest.raises(PolicyLoadError, match=rf"p\.rego:5: calls {name}\(\), which the embedded"):
        RegorusEngine().compile([load_module("p.rego", src)], {}, {"deny": ["p", "deny"]})


def test_user_functions_and_imported_packages_are_not_builtins() -> None:
    lib = load_module("lib.rego", "package lib.k8s\nimport rego.v1\nname(o) := o.metadata.name\n")
    src = load_module("p.rego", "package p\nimport rego.v1\nimport data.lib.k8s\nlocal(x) := x\n"
                                "deny contains m if { m := local(k8s.name(input)) }\n")
    program = RegorusEngine().compile([lib, src], {}, {"deny": ["p", "deny"]})
    assert program.evaluate({"metadata": {"name": "web"}}) == {"deny": ["web"]}


def test_syntax_error_names_file_and_line() -> None:
    with pytest.raises(PolicyLoadError, match=r"p\.rego:4: "):
        load_module("p.rego", "package p\nimport rego.v1\n\ndeny contains m if { m := }\n")


def test_unsafe_variable_is_a_load_error_even_when_nothing_is_evaluated() -> None:
    src = 'package p\nviolation[{"msg": m}] { m := y }\n'
    program = RegorusEngine().compile([load_module("p.rego", src)], {}, {"v": ["p", "violation"]})
    with pytest.raises(PolicyLoadError, match=r"p\.rego:2: .*var y is unsafe"):
        program.check()


def test_with_input_as_object_in_tests_works() -> None:
    src = ('package p\nimport rego.v1\ndeny contains m if { input.kind == "Pod"; m := "pod" }\n'
           'test_pod if { deny == {"pod"} with input as {"kind": "Pod"} }\n'
           'test_svc if { count(deny) == 0 with input as {"kind": "Service"} }\n')
    assert _eval(src, {"a": ["p", "test_pod"], "b": ["p", "test_svc"]}) == {"a": True, "b": True}


def test_data_conftest_file_is_per_input() -> None:
    engine = RegorusEngine()
    mod = load_module("p.rego", "package p\nimport rego.v1\ndeny contains data.conftest.file.name if true\n")
    program = engine.compile([mod], {}, {"deny": ["p", "deny"]})
    assert program.evaluate({}, {"file": {"name": "a.yaml"}}) == {"deny": ["a.yaml"]}
    assert program.evaluate({}, {"file": {"name": "b.yaml"}}) == {"deny": ["b.yaml"]}


# --- the differences the old engine had, each a regression test -------------------------------------


def test_replace_with_an_empty_pattern_returns() -> None:
    """``replace(s, "", x)`` looped forever in the old engine (a unitless memory quantity in a
    container-limits template). Go inserts ``x`` between characters, as OPA does."""
    src = 'package p\nimport rego.v1\nr := replace("128974848", "", "")\ns := replace("ab", "", "-")\n'
    assert _eval(src, {"r": ["p", "r"], "s": ["p", "s"]}) == {"r": "128974848", "s": "-a-b-"}


@pytest.mark.parametrize(("expr", "want"), [
    ('sprintf("%v", [x])', 'say "hi"'),
    ('upper(x)', 'SAY "HI"'),
    ('concat("/", [x, x])', 'say "hi"/say "hi"'),
    ('replace(x, "hi", "bye")', 'say "bye"'),
    ('json.marshal({"k": x})', '{"k":"say \\"hi\\""}'),
    ('sprintf("%v %v", [lower(x), format_int(15, 16)])', 'say "hi" f'),
])
def test_strings_with_quotes_round_trip(expr: str, want: str) -> None:
    """Results holding a double quote were not valid JSON in the old engine (exit 2)."""
    src = f'package p\nimport rego.v1\nm := y if {{ x := input.s; y := {expr} }}\n'
    assert _eval(src, {"m": ["p", "m"]}, {"s": 'say "hi"'}) == {"m": want}


def test_iterated_reference_in_call_arguments() -> None:
    """``startswith(x, input.repos[_])`` was rejected by the old engine."""
    src = "package p\nallowed(image) {\n  startswith(image, input.repos[_])\n}\nok { allowed(input.image) }\n"
    assert _eval(src, {"ok": ["p", "ok"]}, {"repos": ["a/", "b/"], "image": "b/x"}) == {"ok": True}
    assert _eval(src, {"ok": ["p", "ok"]}, {"repos": ["a/"], "image": "b/x"}) == {}


def test_negated_call_with_an_undefined_argument_is_undefined_as_in_opa() -> None:
    """OPA binds call operands before a negation (opa#1877): with the argument undefined the
    body is undefined, not true. The old engine (and regorus alone) reported a violation."""
    src = ('package p\nf(x, y) { x == y }\nviolation[{"msg": "bad"}] { not f(1, input.parameters.absent) }\n'
           'other[{"msg": "bad"}] { not f(1, input.parameters.present) }\n')
    queries = {"v": ["p", "violation"], "o": ["p", "other"]}
    assert _eval(src, queries, {"parameters": {"present": 2}}) == {"v": [], "o": [{"msg": "bad"}]}
    rewritten = load_module("p.rego", src).source
    assert "__gkn0__ := input.parameters.absent; not f(1, __gkn0__)" in rewritten
    assert rewritten.count("\n") == src.count("\n")


def test_negation_binds_refs_in_operators_and_iterations() -> None:
    src = ('package p\nimport rego.v1\nneq if not input.a == "x"\n'
           'some_not_prefix if { not startswith(input.image, input.repos[_]) }\n'
           'plain if not input.absent\n')
    queries = {"neq": ["p", "neq"], "iter": ["p", "some_not_prefix"], "plain": ["p", "plain"]}
    # input.a undefined: OPA binds it first, so ``not input.a == "x"`` is undefined
    assert _eval(src, queries, {"image": "b/x", "repos": ["a/", "b/"]}) == {"iter": True, "plain": True}
    assert _eval(src, queries, {"a": "y", "image": "b/x", "repos": ["b/"]}) == {"neq": True, "plain": True}


def test_negation_inside_comprehension_and_with_unbraced_body() -> None:
    src = ('package p\nimport rego.v1\nbad := [c.name | some c in input.cs; not startswith(c.image, "ok/")]\n'
           'lone if not startswith(input.image, "ok/")\n')
    out = _eval(src, {"bad": ["p", "bad"], "lone": ["p", "lone"]},
                {"cs": [{"name": "a", "image": "ok/a"}, {"name": "b", "image": "no/b"}, {"name": "c"}]})
    assert out == {"bad": ["b"]}  # c has no image: its negation is undefined, as in OPA


def test_rule_with_several_bodies() -> None:
    """``p[x] { a } { b }`` (incremental definition) was mis-read: every body defines the rule."""
    src = ('package p\nviolation[x] { x := "a"; input.a } { x := "b"; input.b }\n'
           'level = 1 { input.a } { input.b }\nf(x) = 1 { x == 1 } { x == 2 }\nq = y { y := f(2) }\n')
    assert prepare(src).count("\n") == src.count("\n")
    queries = {"v": ["p", "violation"], "l": ["p", "level"], "q": ["p", "q"]}
    assert _eval(src, queries, {"b": True}) == {"v": ["b"], "l": 1, "q": 1}
    assert _eval(src, queries, {"a": True, "b": True}) == {"v": ["a", "b"], "l": 1, "q": 1}


def test_parenthesised_expression_on_the_next_line_is_a_new_expression() -> None:
    src = ("package p\nimport rego.v1\nok if {\n  x := input.a\n  (x == 1)\n}\n"
           "list if {\n  y := input.b\n  [1][0] == y\n}\n")
    assert _eval(src, {"ok": ["p", "ok"], "list": ["p", "list"]}, {"a": 1, "b": 1}) == {"ok": True, "list": True}
    assert _eval(src, {"ok": ["p", "ok"]}, {"a": 2}) == {}


@pytest.mark.parametrize(("body", "builtin"), [
    ('x := to_number("abc")', "to_number"),
    ("x := 1 / input.zero", None),
    ('regex.match("(", "abc"); x := 1', "regex.match"),
])
def test_builtin_errors_fail_closed_naming_rule_and_builtin(body: str, builtin: str | None) -> None:
    """Builtin errors made the rule undefined in the old engine, so the run passed."""
    src = f"package p\nimport rego.v1\ndeny contains x if {{\n  {body}\n}}\n"
    program = RegorusEngine().compile([load_module("p.rego", src)], {}, {"deny": ["p", "deny"]})
    with pytest.raises(PolicyEvalError) as caught:
        program.evaluate({"zero": 0})
    message = str(caught.value)
    assert message.startswith("p.rego:4: rule deny: ")
    if builtin:
        assert f"builtin {builtin}: " in message


def test_recursion_is_refused_like_opa() -> None:
    """A recursive function grew without bound in the old engine (and overflows regorus's stack)."""
    src = 'package p\nf(x) = y { y := g(x) }\ng(x) = y { y := f(x + 1) }\nviolation[{"msg": "x"}] { f(1) }\n'
    with pytest.raises(PolicyLoadError, match=r"p\.rego:\d: rule [fg] is recursive \([fg] -> [fg] -> [fg]\)"):
        RegorusEngine().compile([load_module("p.rego", src)], {}, {"v": ["p", "violation"]})


def test_local_variable_named_like_a_rule_is_not_recursion() -> None:
    src = 'package p\nimport rego.v1\nname(o) := n if { n := o.metadata.name }\nx := name(input)\n'
    assert _eval(src, {"x": ["p", "x"]}, {"metadata": {"name": "w"}}) == {"x": "w"}


def test_deprecated_builtins_of_v0_work() -> None:
    src = ("package p\nbad[c.name] {\n  c := input.containers[_]\n"
           "  ok := [good | prefix = input.repos[_]; good = startswith(c.image, prefix)]\n  not any(ok)\n}\n"
           'pinned { all([contains(c.image, ":") | c := input.containers[_]]) }\n'
           'm { re_match("^a", "abc") }\nd = x { x := set_diff({1, 2}, {2}) }\n')
    doc = {"repos": ["a/"], "containers": [{"name": "x", "image": "a/x:1"}, {"name": "y", "image": "b/y"}]}
    queries = {"bad": ["p", "bad"], "pinned": ["p", "pinned"], "m": ["p", "m"], "d": ["p", "d"]}
    assert _eval(src, queries, doc) == {"bad": ["y"], "m": True, "d": [1]}


def test_v0_and_v1_modules_mix_and_rego_version_is_honoured() -> None:
    v0 = load_module("a.rego", 'package a\nviolation[{"msg": "x"}] { true }\n')
    v1 = load_module("b.rego", "package b\nq contains 1 if { data.a.violation[_] }\n")
    assert (v0.version, v1.version) == ("v0", "v1")
    program = RegorusEngine().compile([v0, v1], {}, {"q": ["b", "q"]})
    assert program.evaluate({}) == {"q": [1]}
    with pytest.raises(PolicyLoadError, match=r"`if` keyword is required.*load it with rego version v0 or auto"):
        load_module("a.rego", 'package a\nviolation[{"msg": "x"}] { true }\n', "v1")


def test_print_output_is_gathered_not_written() -> None:
    program = RegorusEngine().compile([load_module("p.rego", 'package p\nimport rego.v1\nx if print("hi", input.a)\n')],
                                      {}, {"x": ["p", "x"]})
    assert program.evaluate({"a": 1}) == {"x": True}
    assert program.take_prints() == ["p.rego:3: hi 1"]


def test_hoisting_keeps_with_modifiers() -> None:
    src = 'package p\nimport rego.v1\nf(x) if x == 1\nt if { not f(input.v) with input as {"v": 2} }\n'
    module = load_module("p.rego", src)
    assert '__gkn0__ := input.v with input as {"v": 2}; not f(__gkn0__) with input as {"v": 2}' in module.source
    assert _eval(src, {"t": ["p", "t"]}, {"v": 1}) == {"t": True}


@pytest.mark.parametrize(("env", "captured"), [({"RUST_BACKTRACE": "1"}, False),
                                                ({"RUST_BACKTRACE": "1", "RUST_LIB_BACKTRACE": "1"}, True)])
def test_engine_errors_capture_no_rust_backtrace_unless_asked(env: dict[str, str], captured: bool) -> None:
    # a backtrace costs 0.05-0.15 s of CPU per error and is dropped from every message the gate reads;
    # RUST_BACKTRACE=1 alone (panics) does not turn it on, an explicit RUST_LIB_BACKTRACE does
    import os
    import subprocess
    import sys

    code = ("from gatekeeper.rego import native\n"
            "engine = native.new_engine(v0=False)\n"
            "try:\n    engine.add_policy('x.rego', 'package x\\na := \"b\\n')\n"
            "except RuntimeError as exc:\n    print('Stack backtrace' in str(exc), native.parse_error(exc).where())\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith("RUST_")}
    out = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True,
                         check=True).stdout
    assert out.startswith(f"{captured} x.rego:2: ")


def test_print_output_is_gathered_only_from_programs_that_print() -> None:
    quiet = RegorusEngine().compile([load_module("q.rego", "package q\nimport rego.v1\nv := input.a\n")], {},
                                    {"v": ["q", "v"]})
    loud = RegorusEngine().compile([load_module("l.rego", 'package l\nimport rego.v1\nv := x if {\n  x := input.a\n'
                                                          '  print("saw", x)\n}\n')], {}, {"v": ["l", "v"]})
    assert not quiet.may_print and loud.may_print
    assert quiet.evaluate({"a": 1}) == {"v": 1} and quiet.take_prints() == []
    assert loud.evaluate({"a": 2}) == {"v": 2}
    assert loud.evaluate({"a": 3}) == {"v": 3}
    assert [line.split(": ", 1)[1] for line in loud.take_prints()] == ["saw 2", "saw 3"]
    assert loud.take_prints() == []
