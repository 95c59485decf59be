"""The v0 -> v1 upgrade: rule-head shapes, strings and comments left alone, and evaluation equality."""

from __future__ import annotations

from typing import Any

import pytest

from gatekeeper.rego.engine import RegoEngine
from gatekeeper.rego.modules import PolicyLoadError, load_module
from gatekeeper.rego.upgrade import UpgradeError, detect_version, prepare_module, upgrade

HEADS = [
    ('deny[msg] { msg := "a" }', 'deny contains msg if { msg := "a" }'),
    ('violation[{"msg": m, "details": {}}] { m := "a" }',
     'violation contains {"msg": m, "details": {}} if { m := "a" }'),
    ("allow { true }", "allow if { true }"),
    ("x = 1 { true }", "x = 1 if { true }"),
    ("x := 1 { true }", "x := 1 if { true }"),
    ('x = {"a": 1} { true }', 'x = {"a": 1} if { true }'),
    ("obj[k] = v { k := \"a\"; v := 1 }", "obj[k] = v if { k := \"a\"; v := 1 }"),
    ("f(x) = y { y := x + 1 }", "f(x) = y if { y := x + 1 }"),
    ("f(x) { x > 1 }", "f(x) if { x > 1 }"),
    ("f(x) = 1 { x > 1 } else = 2 { x > 0 } else = 3", "f(x) = 1 if { x > 1 } else = 2 if { x > 0 } else = 3"),
    ("g(x) { x == 1 } else { false }", "g(x) if { x == 1 } else if { false }"),
    ("allow { input.a } { input.b }", "allow if { input.a } { input.b }"),
    ('s["static"]', 's contains "static"'),
    ("default allow = false", "default allow = false"),
    ("t = 5", "t = 5"),
    ("deny[msg]{ msg := 1 }", "deny contains msg if { msg := 1 }"),
    ("deny contains msg if { msg := 1 }", "deny contains msg if { msg := 1 }"),
    ("allow if { true }", "allow if { true }"),
    ('m := re_match("^a", "ab")', 'm := regex.match("^a", "ab")'),
]


@pytest.mark.parametrize(("v0", "v1"), HEADS)
def test_rule_head_shapes(v0: str, v1: str) -> None:
    assert upgrade(f"package p\n{v0}\n") == f"package p\n{v1}\n"


def test_multiline_head_and_body_on_next_line() -> None:
    src = "package p\nwarn[msg]\n{\n  msg := \"w\"\n}\n"
    assert upgrade(src) == "package p\nwarn contains msg\nif {\n  msg := \"w\"\n}\n"


def test_strings_and_comments_are_never_rewritten() -> None:
    src = 'package p\n# deny[x] { comment }\ndeny[m] {\n  m := "deny[x] { x } re_match("\n  r := `allow { raw }`\n}\n'
    out = upgrade(src)
    assert "# deny[x] { comment }" in out
    assert 'm := "deny[x] { x } re_match("' in out
    assert "r := `allow { raw }`" in out
    assert out.startswith("package p\n# deny[x] { comment }\ndeny contains m if {")


def test_lines_never_move() -> None:
    src = "package p\n\ndeny[m] {\n  m := 1\n}\n\nf(x) = y {\n  y := x\n} else = 0 {\n  true\n}\n"
    assert upgrade(src).count("\n") == src.count("\n")


def test_upgrade_is_idempotent() -> None:
    src = "package p\nimport future.keywords.if\ndeny[m] { m := 1 }\nallow if { true }\n"
    once = upgrade(src)
    assert upgrade(once) == once


@pytest.mark.parametrize(("text", "version"), [
    ("package p\ndeny[m] { m := 1 }\n", "v0"),
    ("package p\nimport rego.v1\nx := 1\n", "v1"),
    ("package p\ndeny contains m if { m := 1 }\n", "v1"),
    ("package p\nimport future.keywords.if\nallow if { true }\ndeny[m] { m := 1 }\n", "v0"),
    ('package p\nx { contains("abc", "b") }\n', "v0"),
])
def test_detect_version(text: str, version: str) -> None:
    assert detect_version(text) == version


def test_forcing_v1_on_a_v0_module_is_an_error() -> None:
    with pytest.raises(UpgradeError, match="Rego v0 rule heads"):
        prepare_module("package p\ndeny[m] { m := 1 }\n", "v1")


def test_v0_rule_named_like_a_v1_keyword_is_refused() -> None:
    with pytest.raises(PolicyLoadError, match="clashes with a Rego v1 keyword"):
        load_module("p.rego", "package p\ncontains(arr, x) { arr[_] == x }\n", "v0")


V0_POLICY = '''package main
import future.keywords.in

default threshold = 2

deny[msg] {
  input.kind == "Deployment"
  input.spec.replicas > threshold
  msg := sprintf("%v has too many replicas", [input.metadata.name])
}

deny[{"msg": msg, "field": ["spec", "template"]}] {
  c := input.spec.template.spec.containers[_]
  not startswith(c.image, "registry.example/")
  msg := sprintf("image %v", [c.image])
}

warn[msg] {
  not labelled
  msg := "no labels"
}

labelled { count(input.metadata.labels) > 0 }

size(x) = "big" { x > 10 } else = "small" { x > 0 } else = "none"

warn[msg] {
  s := size(input.spec.replicas)
  s != "small"
  msg := sprintf("size %v", [s])
}

flag = false
'''

V1_POLICY = '''package main
import rego.v1

default threshold := 2

deny contains msg if {
  input.kind == "Deployment"
  input.spec.replicas > threshold
  msg := sprintf("%v has too many replicas", [input.metadata.name])
}

deny contains {"msg": msg, "field": ["spec", "template"]} if {
  some c in input.spec.template.spec.containers
  not startswith(c.image, "registry.example/")
  msg := sprintf("image %v", [c.image])
}

warn contains msg if {
  not labelled
  msg := "no labels"
}

labelled if count(input.metadata.labels) > 0

size(x) := "big" if { x > 10 } else := "small" if { x > 0 } else := "none"

warn contains msg if {
  s := size(input.spec.replicas)
  s != "small"
  msg := sprintf("size %v", [s])
}

flag := false
'''

INPUTS: list[dict[str, Any]] = [
    {"kind": "Deployment", "metadata": {"name": "a", "labels": {"x": "y"}},
     "spec": {"replicas": 3, "template": {"spec": {"containers": [{"image": "docker.io/a"}]}}}},
    {"kind": "Deployment", "metadata": {"name": "b"}, "spec": {"replicas": 12}},
    {"kind": "Service", "metadata": {"name": "c", "labels": {"a": "b"}}, "spec": {"replicas": 1}},
]


def test_v0_and_v1_forms_evaluate_identically() -> None:
    engine = RegoEngine()
    queries = {"deny": ["main", "deny"], "warn": ["main", "warn"], "flag": ["main", "flag"]}
    v0 = engine.compile([load_module("v0.rego", V0_POLICY)], {}, queries)
    v1 = engine.compile([load_module("v1.rego", V1_POLICY)], {}, queries)
    results = [v0.evaluate(doc) for doc in INPUTS]
    assert results == [v1.evaluate(doc) for doc in INPUTS]
    assert results[0]["deny"] == ["a has too many replicas",
                                  {"field": ["spec", "template"], "msg": "image docker.io/a"}]
    assert results[1]["warn"] == ["no labels", "size big"]
    assert results[2] == {"deny": [], "warn": [], "flag": False}
