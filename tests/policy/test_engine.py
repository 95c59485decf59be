"""The embedded engine and the rego-cpp differences it handles (each checked by evaluation)."""

from __future__ import annotations

import pytest

from gatekeeper.rego.engine import RegoEngine
from gatekeeper.rego.hoist import fix_sprintf, hoist
from gatekeeper.rego.modules import PolicyLoadError, load_module


def _eval(src: str, queries: dict[str, list[str]], input_value: object = None) -> dict[str, object]:
    engine = RegoEngine()
    return engine.compile([load_module("p.rego", src)], {}, queries).evaluate(input_value)


def test_false_rule_stays_false_and_undefined_is_absent() -> None:
    src = "package p\nimport rego.v1\nallow := false\nmissing if input.nope\n"
    assert _eval(src, {"allow": ["p", "allow"], "missing": ["p", "missing"]}, {}) == {"allow": False}


@pytest.mark.parametrize("call", ["http.send({})", 'net.cidr_contains("10.0.0.0/8", "10.1.1.1")',
                                  "json.match_schema({}, {})", "rego.metadata.rule()",
                                  'strings.render_template("x", {})'])
def test_missing_builtin_is_a_load_error_naming_it(call: str) -> None:
    name = call.split("(")[0]
    src = f"package p\nimport rego.v1\n\ndeny contains m if {{\n  m := {call}\n}}\n"
    with pytest.raises(PolicyLoadError, match=rf"p\.rego:5: calls {name}\(\), which the embedded"):
        RegoEngine().compile([load_module("p.rego", src)], {}, {"deny": ["p", "deny"]})


def test_user_functions_and_imported_packages_are_not_builtins() -> None:
    lib = load_module("lib.rego", "package lib.k8s\nimport rego.v1\nname(o) := o.metadata.name\n")
    src = load_module("p.rego", "package p\nimport rego.v1\nimport data.lib.k8s\nlocal(x) := x\n"
                                "deny contains m if { m := local(k8s.name(input)) }\n")
    program = RegoEngine().compile([lib, src], {}, {"deny": ["p", "deny"]})
    assert program.evaluate({"metadata": {"name": "web"}}) == {"deny": ["web"]}


def test_syntax_error_names_file_and_line() -> None:
    with pytest.raises(PolicyLoadError, match=r"p\.rego:4: "):
        RegoEngine().compile([load_module("p.rego", "package p\nimport rego.v1\n\ndeny contains m if {\n")],
                             {}, {"deny": ["p", "deny"]})


def test_with_input_as_object_in_tests_works() -> None:
    src = ('package p\nimport rego.v1\ndeny contains m if { input.kind == "Pod"; m := "pod" }\n'
           'test_pod if { deny == {"pod"} with input as {"kind": "Pod"} }\n'
           'test_svc if { count(deny) == 0 with input as {"kind": "Service"} }\n')
    assert _eval(src, {"a": ["p", "test_pod"], "b": ["p", "test_svc"]}) == {"a": True, "b": True}


def test_data_conftest_file_is_per_input() -> None:
    engine = RegoEngine()
    mod = load_module("p.rego", "package p\nimport rego.v1\ndeny contains data.conftest.file.name if true\n")
    program = engine.compile([mod], {}, {"deny": ["p", "deny"]})
    assert program.evaluate({}, {"file": {"name": "a.yaml"}}) == {"deny": ["a.yaml"]}
    assert program.evaluate({}, {"file": {"name": "b.yaml"}}) == {"deny": ["b.yaml"]}


def test_iterated_reference_in_call_arguments_matches_opa() -> None:
    src = ("package p\nallowed(image) {\n  startswith(image, input.repos[_])\n}\n"
           "ok { allowed(input.image) }\n")
    assert "__gkw1 = input.repos[_]; startswith(image, __gkw1)" in hoist(src)
    assert _eval(src, {"ok": ["p", "ok"]}, {"repos": ["a/", "b/"], "image": "b/x"}) == {"ok": True}
    assert _eval(src, {"ok": ["p", "ok"]}, {"repos": ["a/"], "image": "b/x"}) == {}


def test_iterated_reference_under_not_is_refused() -> None:
    with pytest.raises(PolicyLoadError, match="'not' over a call whose argument iterates"):
        load_module("p.rego", "package p\nbad { not startswith(input.image, input.repos[_]) }\n")


def test_literal_index_and_iterated_assignment_evaluate() -> None:
    src = ('package p\nimport rego.v1\nimages contains c.image if {\n  group := ["a", "b"][_]\n'
           "  c := input.spec[group][i]\n}\n")
    assert _eval(src, {"i": ["p", "images"]}, {"spec": {"a": [{"image": "x"}], "b": [{"image": "y"}]}}) \
        == {"i": ["x", "y"]}


def test_sprintf_q_quotes_like_opa() -> None:
    src = 'package p\nimport rego.v1\nm := sprintf("name %q, 100%%", ["web"])\n'
    assert fix_sprintf(src) == 'package p\nimport rego.v1\nm := sprintf("name \\"%v\\", 100%%", ["web"])\n'
    assert _eval(src, {"m": ["p", "m"]}) == {"m": 'name "web", 100%'}


def test_deprecated_any_all_and_comprehension_unification_match_opa() -> None:
    src = ("package p\n\nbad[c.name] {\n  c := input.containers[_]\n"
           "  ok := [good | prefix = input.repos[_]; good = startswith(c.image, prefix)]\n  not any(ok)\n}\n\n"
           "all_pinned { all([contains(c.image, \":\") | c := input.containers[_]]) }\n")
    doc = {"repos": ["a/"], "containers": [{"name": "x", "image": "a/x:1"}, {"name": "y", "image": "b/y"}]}
    assert _eval(src, {"bad": ["p", "bad"], "pinned": ["p", "all_pinned"]}, doc) == {"bad": ["y"]}  # false: undefined
    doc["containers"] = doc["containers"][:1]
    assert _eval(src, {"bad": ["p", "bad"], "pinned": ["p", "all_pinned"]}, doc) == {"bad": [], "pinned": True}


def test_strings_with_quotes_and_newlines_compare_like_literals() -> None:
    src = ('package p\nimport rego.v1\neq := input.s == "say \\"hi\\"\\nbye"\n'
           'pre := startswith(input.s, "say \\"")\nmsg := sprintf("value: %v", [input.s])\necho := input\n')
    doc = {"s": 'say "hi"\nbye', "nested": {"k\\ey": ["tab\there", "ctl\x01"]}}
    out = _eval(src, {"eq": ["p", "eq"], "pre": ["p", "pre"], "msg": ["p", "msg"], "echo": ["p", "echo"]}, doc)
    assert out == {"eq": True, "pre": True, "msg": 'value: say "hi"\nbye', "echo": doc}


def test_values_without_a_rego_form_are_refused() -> None:
    from gatekeeper.rego.engine import PolicyEvalError

    with pytest.raises(PolicyEvalError, match="cannot give a bytes to a policy"):
        _eval("package p\nimport rego.v1\nx := 1\n", {"x": ["p", "x"]}, {"b": b"raw"})
