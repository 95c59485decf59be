"""Kind guards: which documents a conftest package can report on, decided from its rules' ASTs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gatekeeper.rego.guards import kind_guard
from gatekeeper.rego.library import library_path
from gatekeeper.rego.modules import load_module
from tests.conftest import run_json

Write = Callable[[str, str], Path]


def _guard(source: str, rules: tuple[str, ...] = ("deny",)) -> frozenset[str] | None:
    module = load_module("p.rego", source)
    return kind_guard([module], [module.package], {module.package_name: set(rules)})


def test_starter_rules_are_guarded_by_the_kinds_they_read() -> None:
    text = (library_path() / "conftest" / "main.rego").read_text()
    assert _guard(text, ("deny_ssh_port", "warn_wildcard_host")) == {
        "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Ingress"}


@pytest.mark.parametrize(("body", "kinds"), [
    ('deny[m] { input.kind == "A"; m := "x" }', {"A"}),
    ('deny[m] { "A" == input["kind"]; m := "x" }', {"A"}),
    ('deny[m] { input.kind in {"A", "B"}; m := "x" }', {"A", "B"}),
    ('k := ["A"]\ndeny[m] { input.kind in k; m := "x" }', {"A"}),
    ('p[x] { input.kind == "A"; x := 1 }\ndeny[m] { p[x]; m := "x" }', {"A"}),
    ('p[x] { input.kind == "A"; x := 1 }\ndeny[m] { some x in p; m := "x" }', {"A"}),
    ('p = ["a"] { input.kind == "A" }\ndeny[m] { s := object.get(input, p, {}); m := "x" }', {"A"}),
    ('deny[m] { input.kind == "A"; m := "x" }\ndeny[m] { input.kind == "B"; m := "y" }', {"A", "B"}),
])
def test_accepted_guards(body: str, kinds: set[str]) -> None:
    assert _guard("package main\nimport future.keywords.in\n" + body + "\n") == kinds


@pytest.mark.parametrize("body", [
    'deny[m] { not input.kind == "A"; m := "x" }',  # negation
    'deny[m] { n := to_number(input.a); input.kind == "A"; m := "x" }',  # an error could come first
    'deny[m] { print("seen"); input.kind == "A"; m := "x" }',  # print output would be lost
    'deny[m] { input.kind == "A" with input as {"kind": "A"}; m := "x" }',  # with
    'default p = 1\np = 2 { input.kind == "A" }\ndeny[m] { x := p; m := "x" }',  # default makes p defined
    'p = 2 { input.kind == "A" } else = 3\ndeny[m] { x := abs(p); m := "x" }',  # else without a guard
    'p[x] { input.kind == "A"; x := 1 }\ndeny[m] { count(p) == 0; m := "x" }',  # an empty set is defined
    'p = ["a"] { input.kind == "A" }\nf(a, b) = 1\ndeny[m] { x := f(input, p); m := "x" }',  # own function
    'deny[m] { m := "x" }',  # no guard at all
])
def test_refused_guards(body: str) -> None:
    assert _guard("package main\nimport future.keywords.in\n" + body + "\n") is None


def test_one_unguarded_rule_means_every_document_is_evaluated() -> None:
    source = 'package main\ndeny[m] { input.kind == "A"; m := "x" }\nwarn[m] { input.x; m := "y" }\n'
    assert _guard(source, ("deny",)) == {"A"}
    assert _guard(source, ("deny", "warn")) is None


def test_documents_outside_the_guard_are_not_evaluated(write: Write, tmp_path: Path) -> None:
    """A document no rule can report on is never given to a policy: a value no policy could be
    given exactly (an integer beyond 64 bits) is then no finding; on a guarded kind it is."""
    big = "123456789012345678901234567890"
    write("repo/cm.yaml", f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\ndata: {{}}\nextra: {big}\n")
    write("repo/deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
                              f"  replicas: {big}\n")
    write("repo/svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: NodePort\n")
    write("pol/main.rego", 'package main\nimport rego.v1\n'
                           'deny contains "no NodePort" if {\n  input.kind == "Service"\n'
                           '  input.spec.type == "NodePort"\n}\n'
                           'deny contains "replicas" if {\n  input.kind == "Deployment"\n'
                           '  input.spec.replicas > 3\n}\n')
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert report["errors"] == []
    assert code == 1
    got = sorted((f["rule"], f["path"], f["line"], f["field"]) for f in report["findings"])
    assert got == [("policy-input", "deploy.yaml", 5, "spec.replicas"),
                   ("policy/main/deny", "svc.yaml", 1, "")]
