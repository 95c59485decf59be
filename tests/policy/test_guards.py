"""Kind guards: which documents a conftest package can report on, decided from its rules' ASTs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gatekeeper.rego.guards import kind_guard
from gatekeeper.rego.library import library_path
from gatekeeper.rego.modules import load_module
from tests.conftest import run_json, run_subprocess

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


# --- input guards: the Gatekeeper dialect skips inputs on which no body of ``violation`` gets past
# its first statement ---------------------------------------------------------------------------

def _input_guards(source: str) -> tuple[tuple[tuple[str, ...], str | bool], ...] | None:
    from gatekeeper.rego.guards import input_guards

    module = load_module("t.rego", source)
    return input_guards([module], module.package, "violation")


@pytest.mark.parametrize(("body", "guards"), [
    ('violation[{"msg": "m"}] { input.review.object.spec.type == "LoadBalancer" }',
     ((("review", "object", "spec", "type"), "LoadBalancer"),)),
    ('violation[{"msg": "m"}] { "default" == input["review"].object.metadata["namespace"]; true }',
     ((("review", "object", "metadata", "namespace"), "default"),)),
    ('violation[{"msg": "m"}] { input.parameters.strict == true }\n'
     'violation[{"msg": "n"}] { input.review.kind.kind == `Pod` }',
     ((("parameters", "strict"), True), (("review", "kind", "kind"), "Pod"))),
])
def test_accepted_input_guards(body: str, guards: object) -> None:
    assert _input_guards("package t\n" + body + "\n") == guards


@pytest.mark.parametrize("body", [
    'violation[{"msg": "m"}] { x := 1; input.review.kind.kind == "Pod" }',  # not the first statement
    'violation[{"msg": "m"}] { not input.review.kind.kind == "Pod" }',  # negation
    'violation[{"msg": "m"}] { input.review.kind.kind != "Pod" }',  # another comparison
    'violation[{"msg": "m"}] { input.review.kind.kind = "Pod" }',  # unification
    'violation[{"msg": "m"}] { input.parameters.n == 1 }',  # a number: 1 == 1.0 in Rego
    'violation[{"msg": "m"}] { input.review.object.spec[k] == "a" }',  # a variable key
    'violation[{"msg": "m"}] { input.review.object.spec[0] == "a" }',  # an index
    'violation[{"msg": "m"}] { input.review.kind.kind == x; x := "Pod" }',  # a variable
    'violation[{"msg": "m"}] { input == "Pod" }',  # input whole
    'violation[{"msg": "m"}] { input.review.kind.kind == "Pod" with input.review.kind.kind as "Pod" }',
    'violation[{"msg": "m"}] { input.review.kind.kind == "Pod" }\nviolation[{"msg": "n"}] { input.a }',
    'violation[{"msg": "m"}] { input.review.kind.kind == "Pod"; print("x") }',  # its output would be lost
    'default violation := []\nviolation := [{"msg": "m"}] { input.review.kind.kind == "Pod" }',
    'violation := [{"msg": "m"}]',  # no body
    'other[{"msg": "m"}] { input.review.kind.kind == "Pod" }',  # no violation rule
])
def test_refused_input_guards(body: str) -> None:
    assert _input_guards("package t\nimport future.keywords.in\n" + body + "\n") is None


def test_an_import_named_input_refuses_guards() -> None:
    assert _input_guards('package t\nimport data.other as input\nviolation[{"msg": "m"}] { input.a == "b" }\n') \
        is None


def test_guards_compare_as_rego_does() -> None:
    from gatekeeper.rego.guards import holds

    guard = ((("a", "b"), True), (("c",), "x"))
    assert holds(guard, {"a": {"b": True}})
    assert holds(guard, {"c": "x"})
    for value in ({"a": {"b": 1}}, {"a": {"b": "true"}}, {"a": [True]}, {"a": "b"}, {"c": "X"}, {"c": ["x"]},
                  {"a": None}, {}, {"c": None}):
        assert not holds(guard, value), value
    assert holds(guard, {"a": {"b": object()}})  # a value no document holds: evaluated


GUARDED = """package t
violation[{"msg": msg}] {
  input.review.object.metadata.namespace == "default"
  n := to_number(input.review.object.metadata.name)
  msg := sprintf("%v", [n])
}
violation[{"msg": "strict"}] {
  input.parameters.strict == true
  not input.review.object.metadata.labels.owner
}
"""


@pytest.mark.parametrize("namespace", ["default", "shop", None, 7, ["default"]])
@pytest.mark.parametrize("name", ["12", "web"])
@pytest.mark.parametrize("parameters", [{}, {"strict": True}, {"strict": 1}, {"strict": "true"}])
def test_an_input_no_guard_holds_on_gives_no_violation_and_no_error(
        namespace: object, name: str, parameters: dict[str, object]) -> None:
    """The property the Gatekeeper dialect relies on when it skips an input: evaluated anyway, the
    template reports nothing and raises nothing (the error in the first body, ``to_number`` of a
    name, happens only where its guard holds)."""
    from gatekeeper.rego.engine import PolicyEvalError, RegorusEngine
    from gatekeeper.rego.guards import holds

    module = load_module("t.rego", GUARDED)
    guards = _input_guards(GUARDED)
    assert guards is not None
    program = RegorusEngine().compile([module], {}, {"violation": ["t", "violation"]})
    meta: dict[str, object] = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    value = {"review": {"object": {"metadata": meta}}, "parameters": parameters}
    if holds(guards, value):
        try:
            result = program.evaluate(value).get("violation")
        except PolicyEvalError:
            return  # evaluated: the error ends the run as before
        assert namespace == "default" or parameters.get("strict") is True or not result
        return
    assert program.evaluate(value).get("violation", []) == []


def test_the_gatekeeper_dialect_skips_only_inputs_no_guard_holds_on(write: Write, tmp_path: Path) -> None:
    """Objects outside the guard are not evaluated, and the findings are those of evaluating every
    object: a violation in the guarded namespace, an error raised past the guard ends the run."""
    template = """apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8snumbered}
spec:
  crd: {spec: {names: {kind: K8sNumbered}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
""" + "".join(f"        {line}\n" for line in GUARDED.splitlines()) + """---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sNumbered
metadata: {name: numbered}
spec:
  match: {kinds: [{apiGroups: [""], kinds: ["ConfigMap"]}]}
"""
    write("pol/t.yaml", template)
    write("repo/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '12', namespace: default}\n---\n"
          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: shop}\n")
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert code == 1
    assert [f["message"] for f in report["findings"]] == ["12 [K8sNumbered/numbered]"]
    write("repo/b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: db, namespace: default}\n")
    proc = run_subprocess("check", str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks",
                          "policy", cwd=tmp_path)
    assert proc.returncode == 2 and "to_number" in proc.stdout + proc.stderr


def _planned(root: Path, policy: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """The objects the policy check plans to evaluate (by name), and its findings (rule, message)."""
    from gatekeeper.checks.base import Context
    from gatekeeper.checks.policy import PolicyCheck
    from gatekeeper.pipeline import Run, load

    run = Run(root=root, paths=[root], options={"policy": [str(policy)]})
    loaded = load(run)
    ctx = Context(run.root, loaded.documents, loaded.resources, run.config, "1.31", dict(run.options))
    check = PolicyCheck()
    check.prepare(ctx)
    tasks = check._plan(ctx, None)
    names = sorted(str(check._resources[t.item].name) for t in tasks if t.dialect == "gatekeeper")
    findings = sorted((f.rule, f.message) for f in check.check_all(ctx) if f.check == "policy")
    return names, findings


def test_objects_no_guard_holds_on_are_not_planned_but_keep_their_policy_input_finding(
        write: Write, tmp_path: Path) -> None:
    template = """apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8sdefaultns}
spec:
  crd: {spec: {names: {kind: K8sDefaultNs}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sdefaultns
        violation[{"msg": "in default"}] { input.review.object.metadata.namespace == "default" }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sDefaultNs
metadata: {name: defaultns}
spec:
  match: {kinds: [{apiGroups: [""], kinds: ["ConfigMap"]}]}
"""
    write("pol/t.yaml", template)
    write("repo/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: in-default, namespace: default}\n---\n"
          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: in-shop, namespace: shop}\n---\n"
          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge, namespace: shop}\n"
          "spec: {n: 123456789012345678901234567890}\n")
    names, findings = _planned(tmp_path / "repo", tmp_path / "pol")
    assert names == ["huge", "in-default"]  # in-shop: its one template would stop at the first statement
    assert [rule for rule, _ in findings] == ["policy-input", "policy/K8sDefaultNs/defaultns"]


def test_a_guard_on_marker_text_still_sees_the_replaced_value(write: Write, tmp_path: Path) -> None:
    """A value the secrets check detects reaches a policy replaced by a marker, after planning: a
    guard comparing with marker text cannot be decided on the object as planned, so it is left
    to the evaluation."""
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    template = """apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8smarker}
spec:
  crd: {spec: {names: {kind: K8sMarker}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8smarker
        violation[{"msg": "replaced"}] { input.review.object.data.note == "<redacted: 40 characters>" }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sMarker
metadata: {name: marker}
spec:
  match: {kinds: [{apiGroups: [""], kinds: ["ConfigMap"]}]}
"""
    write("pol/t.yaml", template)
    write("repo/a.yaml", f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm, namespace: shop}}\n"
          f"data: {{note: {token}}}\n")
    names, findings = _planned(tmp_path / "repo", tmp_path / "pol")
    assert names == ["cm"]
    assert findings == [("policy/K8sMarker/marker", "replaced [K8sMarker/marker]")]
