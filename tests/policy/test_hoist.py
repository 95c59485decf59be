"""Rules that read no input are computed once (``rego/hoist.py``): the same results, and only those rules."""

from __future__ import annotations

from typing import Any

import pytest

from gatekeeper.rego import hoist
from gatekeeper.rego.engine import PolicyEvalError, RegorusEngine, RegorusProgram
from gatekeeper.rego.modules import Module, load_modules

INVENTORY = {"inventory": {"namespace": {
    "shop": {"networking.k8s.io/v1": {"Ingress": {
        "web": {"spec": {"rules": [{"host": "a.example"}, {"host": "b.example"}]}},
        "api": {"spec": {"rules": [{"host": "c.example"}]}}}}},
    "blog": {"networking.k8s.io/v1": {"Ingress": {
        "front": {"spec": {"rules": [{"host": "a.example"}]}}}}},
}}}

# an index over the inventory (input-independent) used by a rule that reads the input
INDEXED = """package unique
import rego.v1

by_host[host] := owners if {
  host := data.inventory.namespace[_][_].Ingress[_].spec.rules[_].host
  owners := [[ns, name] | some ns, name
    data.inventory.namespace[ns][_].Ingress[name].spec.rules[_].host == host]
}

hosts contains h if some h, _ in by_host

default limit := 2

violation contains {"msg": sprintf("%v taken by %v/%v", [h, ns, name]), "count": count(hosts)} if {
  h := input.review.object.spec.rules[_].host
  [ns, name] := by_host[h][_]
  name != input.review.name
  count(by_host[h]) < limit + 1
}
"""


def _modules(*sources: str) -> list[Module]:
    return load_modules([(f"m{i}.rego", src, "auto") for i, src in enumerate(sources)])


def _program(modules: list[Module], data: dict[str, Any], query: list[str]) -> RegorusProgram:
    return RegorusEngine().compile(modules, data, {"v": query})


def _review(name: str, *hosts: str) -> dict[str, Any]:
    return {"review": {"name": name, "object": {"spec": {"rules": [{"host": h} for h in hosts]}}}}


def test_an_inventory_index_is_hoisted_and_gives_the_same_violations() -> None:
    modules = _modules(INDEXED)
    plain = _program(modules, INVENTORY, ["unique", "violation"])
    hoisted = _program(modules, INVENTORY, ["unique", "violation"])
    values = hoisted.hoisted_values()
    # ``by_host`` and ``hosts`` read no input and the violation reads them; ``limit`` too
    assert sorted(k[1] for k in values) == ["by_host", "hosts", "limit"]
    assert values[(("unique",), "hosts")] == {"a.example", "b.example", "c.example"}  # a set stays a set
    hoisted.use_hoisted(values)
    inputs = [_review("new", "a.example"), _review("web", "a.example", "c.example"), _review("x", "z.example"),
              _review("web", "b.example"), {}]
    for value in inputs:
        assert hoisted.evaluate(value) == plain.evaluate(value)
    assert plain.evaluate(inputs[0]) == {"v": [
        {"count": 3, "msg": "a.example taken by blog/front"}, {"count": 3, "msg": "a.example taken by shop/web"}]}


def test_the_rewritten_module_keeps_its_lines() -> None:
    modules = _modules(INDEXED)
    [rewritten] = hoist.rewrite(modules, hoist.hoistable(modules))
    assert rewritten.source.count("\n") == modules[0].source.count("\n")
    assert "by_host := data.__gatekeeper_hoisted" in rewritten.source
    assert rewritten.source.splitlines()[-6:] == modules[0].source.splitlines()[-6:]  # the violation untouched


@pytest.mark.parametrize("helper", [
    # reads the input through another rule
    "kinds contains k if k := input.review.kind.kind\nindex := {k: 1 | some k in kinds}",
    # through a function
    "f(x) := y if y := concat(x, [input.review.name])\nindex := {f(\"a\"): 1}",
    # through an import alias of the input
    "import input.review as r\nindex := {r.name: 1}",
    # through a whole package (which holds the violation)
    "index := {k: 1 | some k, _ in data.t}",
    # a builtin whose value varies between evaluations
    "index := {\"t\": time.now_ns()}",
    # print output would be shown once instead of per object
    "index := {\"a\": 1} if print(\"x\")",
])
def test_a_rule_that_reads_the_input_indirectly_is_not_hoisted(helper: str) -> None:
    src = f"package t\nimport rego.v1\n{helper}\nviolation contains {{\"msg\": m}} if {{\n" \
          "  some m, _ in index\n  input.review.name != m\n}\n"
    [module] = _modules(src)
    assert (("t",), "index") not in hoist.hoistable([module])


def test_with_on_data_anywhere_disables_hoisting() -> None:
    src = ("package t\nimport rego.v1\nindex := {h: 1 | h := data.hosts[_]}\n"
           "violation contains {\"msg\": \"x\"} if { index[input.h] }\n"
           "other contains 1 if { index.a with data.hosts as [\"a\"] }\n")
    modules = _modules(src)
    assert hoist.hoistable(modules) == []
    # ``with input`` alone does not: the hoisted rules read no input
    modules = _modules(src.replace("with data.hosts as [\"a\"]", "with input as {}"))
    assert hoist.hoistable(modules) == [(("t",), "index")]


def test_conftest_file_data_varies_per_document() -> None:
    src = ("package main\nimport rego.v1\ndir := data.conftest.file.dir\n"
           "deny contains m if { m := dir; input.kind == \"A\" }\n")
    assert hoist.hoistable(_modules(src)) == []


def test_a_rule_that_fails_or_has_no_python_value_stays_a_rule() -> None:
    src = ("package t\nimport rego.v1\n"
           "conflict := 1 if data.x\nconflict := 2 if data.x\n"  # conflicting values: an error per object
           "pairs := {[1, \"a\"], [2, \"b\"]}\n"  # a set of arrays: no Python value holds it
           "v contains 1 if { input.a; conflict }\nv contains p if { input.b; some p in pairs }\n")
    modules = _modules(src)
    assert sorted(k[1] for k in hoist.hoistable(modules)) == ["conflict", "pairs"]
    program = _program(modules, {"x": True}, ["t", "v"])
    values = program.hoisted_values()
    assert values == {}
    program.use_hoisted(values)
    assert program.evaluate({"b": True}) == {"v": [[1, "a"], [2, "b"]]}
    with pytest.raises(PolicyEvalError, match=r"m0\.rego:4"):
        program.evaluate({"a": True})


def test_an_undefined_rule_stays_undefined() -> None:
    src = ("package t\nimport rego.v1\nmissing := data.nothing.here\n"
           "v contains 1 if { input.a; not missing }\nv contains 2 if { input.a; missing }\n")
    modules = _modules(src)
    program = _program(modules, {}, ["t", "v"])
    values = program.hoisted_values()
    assert values == {(("t",), "missing"): hoist.UNDEFINED}
    program.use_hoisted(values)
    assert program.evaluate({"a": True}) == {"v": [1]}


# the starter unique-ingress-host template before it indexed hosts: every Ingress scanned per review
SCANNING = """package k8suniqueingresshost
identical(ns, name) {
  ns == input.review.namespace
  name == input.review.name
}
violation[{"msg": msg, "details": {"field": ["spec", "rules", i, "host"], "other": sprintf("%v/%v", [ns, name])}}] {
  input.review.kind.kind == "Ingress"
  re_match("^(extensions|networking.k8s.io)$", input.review.kind.group)
  host := input.review.object.spec.rules[i].host
  other := data.inventory.namespace[ns][otherapiversion]["Ingress"][name]
  other.spec.rules[_].host == host
  ingress_api(otherapiversion)
  not identical(ns, name)
  msg := sprintf("ingress host conflicts with an existing ingress <%v>", [host])
}
ingress_api(api_version) { startswith(api_version, "networking.k8s.io/") }
ingress_api(api_version) { startswith(api_version, "extensions/") }
"""


def test_starter_unique_host_index_is_hoisted_and_matches_the_scanning_template() -> None:
    from gatekeeper.checks.policy.templates import load_template
    from gatekeeper.rego.library import library_path
    from gatekeeper.sources.files import SourceFile
    from gatekeeper.sources.yamlload import parse

    path = library_path() / "gatekeeper" / "unique-ingress-host" / "template.yaml"
    template = load_template(parse(SourceFile("template.yaml", path.read_bytes())).documents[0], "auto")
    inventory = {"inventory": {"namespace": {
        **INVENTORY["inventory"]["namespace"],
        "old": {"extensions/v1beta1": {"Ingress": {"legacy": {"spec": {"rules": [{"host": "c.example"}]}}}},
                "example.com/v1": {"Ingress": {"lookalike": {"spec": {"rules": [{"host": "d.example"}]}}}}}}}}
    indexed = _program(template.modules, inventory, ["k8suniqueingresshost", "violation"])
    values = indexed.hoisted_values()
    assert list(values) == [(("k8suniqueingresshost",), "ingresses_by_host")]
    indexed.use_hoisted(values)
    scanning = _program(_modules(SCANNING), inventory, ["k8suniqueingresshost", "violation"])
    reviews = []
    for ns, name, hosts in [("shop", "web", ["a.example", "c.example"]), ("shop", "new", ["a.example"]),
                            ("blog", "front", ["a.example"]), ("x", "y", ["d.example", "c.example", 7]),
                            ("x", "z", [])]:
        review = _review(name, *hosts)
        review["review"].update(namespace=ns, kind={"group": "networking.k8s.io", "kind": "Ingress"})
        reviews.append(review)
    got = [indexed.evaluate(r) for r in reviews]
    assert got == [scanning.evaluate(r) for r in reviews]
    assert [len(v.get("v", [])) for v in got] == [3, 2, 1, 2, 0]


@pytest.mark.parametrize("value", ['"policy.example/approved"', "`raw\ntext`", '"with \\" quote"', "{\"a\", \"b\"}"])
def test_a_rule_whose_text_ends_with_a_string_is_rewritten_whole(value: str) -> None:
    # regorus's span of ``name := "x"`` stops before the closing quote: the rewrite must not leave it behind
    src = (f"package t\nimport rego.v1\nname := {value}\n"
           "v contains name if input.a\nw := 1 if input.b\n")
    modules = _modules(src)
    assert hoist.hoistable(modules) == [(("t",), "name")]
    plain = _program(modules, {}, ["t", "v"])
    program = _program(modules, {}, ["t", "v"])
    program.use_hoisted(program.hoisted_values())
    assert program.hoisted  # the rewritten module parsed: the program reads the value as data
    [rewritten] = hoist.rewrite(modules, hoist.hoistable(modules))
    assert rewritten.source.count("\n") == src.count("\n")
    assert rewritten.source.splitlines()[-2:] == src.splitlines()[-2:]  # the other rules where they were
    for value_ in ({"a": True}, {"b": True}, {}):
        assert program.evaluate(value_) == plain.evaluate(value_)


def test_starter_loadbalancer_default_annotation_is_hoisted() -> None:
    from gatekeeper.checks.policy.templates import load_template
    from gatekeeper.rego.library import library_path
    from gatekeeper.sources.files import SourceFile
    from gatekeeper.sources.yamlload import parse

    path = library_path() / "gatekeeper" / "loadbalancer-annotation" / "template.yaml"
    [doc] = parse(SourceFile(str(path), path.read_bytes())).documents
    template = load_template(doc, "auto")
    plain = RegorusEngine().compile(template.modules, {}, {"v": [*template.package, "violation"]})
    program = RegorusEngine().compile(template.modules, {}, {"v": [*template.package, "violation"]})
    program.use_hoisted(program.hoisted_values())
    assert program.hoisted
    for given in ({}, {"policy.gatekeeper.dev/loadbalancer-approved": "yes"}, {"other": "x"}):
        for parameters in ({}, {"annotation": "other"}):
            value = {"review": {"object": {"metadata": {"name": "lb", "annotations": given},
                                           "spec": {"type": "LoadBalancer"}}}, "parameters": parameters}
            assert program.evaluate(value) == plain.evaluate(value)
