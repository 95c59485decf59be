"""The cost bound of an evaluation: expressions that would build strings or lists past the budget
stop before they run, for every user of the engine (admission policies, CRD rules, Kyverno CEL),
and ordinary expressions on large objects are not stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gatekeeper import cel
from gatekeeper.cel import cost
from tests.conftest import run_json
from tests.kyverno.helpers import check, rule_policy

pytestmark = pytest.mark.skipif(not cel.available(), reason="cel-expr-python needs Python 3.11+")

L99 = "[" + ",".join(str(i) for i in range(99)) + "]"
L100 = "[" + ",".join(str(i) for i in range(100)) + "]"
# 9,900 iterations (under the iteration budget), each building a 1 M-character string from "a".
EXPLODING = f"{L99}.all(i, {L100}.all(j, NAME" + ".replace('a','aaaaaaaaaa')" * 6 + ".size() > 0))"


def run(source: str, **values: Any) -> Any:
    return cel.environment(tuple(sorted(values))).compile(source).evaluate(values)


def test_string_explosion_under_the_iteration_budget_stops_before_running() -> None:
    with pytest.raises(cel.CostLimitExceeded, match="over the cost budget of 1,000,000"):
        run(EXPLODING.replace("NAME", "self"), self="a")


def test_lists_of_large_strings_built_in_a_loop_are_charged_by_size() -> None:
    big = "x" * 200_000
    steps = list(range(9999))
    with pytest.raises(cel.CostLimitExceeded):
        run("n.map(i, self + self).size() > 0", self=big, n=steps)
    with pytest.raises(cel.CostLimitExceeded):  # shared strings handed back whole are charged too
        run("n.map(i, self)", self=big, n=steps)
    with pytest.raises(cel.CostLimitExceeded):  # a doubling join
        run("self.join(self[0]).size() > 0", self=[big] * 40)


def test_ordinary_expressions_on_large_objects_run() -> None:
    data = {f"key-{i}": "v" * 1000 for i in range(1000)}  # a 1 MB ConfigMap
    obj = {"metadata": {"name": "big", "labels": {"app": "web"}}, "data": data}
    assert run("object.data.all(k, object.data[k].size() < 4096)", object=obj) is True
    assert run("object.metadata.name.startsWith('b') && 'app' in object.metadata.labels", object=obj) is True
    assert run("object.data.exists(k, object.data[k].contains('w'))", object=obj) is False
    containers = [{"name": f"c{i}", "image": f"registry.example.com/app{i}:1"} for i in range(90)]
    assert run("object.containers.all(a, object.containers.exists_one(b, a.name == b.name))",
               object={"containers": containers}) is True
    assert run("self.map(s, s.replace('a', 'b')).size() == 2", self=["a" * 1000, "abc"]) is True


def test_library_results_the_bound_cannot_know_are_metered_as_they_are_built() -> None:
    from gatekeeper.cel.lib import Library, glob

    calls: list[int] = []

    def everything() -> str:  # like resource.List: a result no argument tells the size of
        calls.append(1)
        return "x" * 1_000_000

    env = cel.environment(("n",), (*cel.kubernetes_libraries(),
                                   Library("test", (glob("everything", ("everything", (), "string", everything)),))))
    program = env.compile("n.all(i, everything().size() > 0)")
    with pytest.raises(cel.CostLimitExceeded, match="library functions built"):
        program.evaluate({"n": list(range(5000))})
    assert len(calls) == 10  # each result costs 100,001: the eleventh call is refused before it runs
    assert program.evaluate({"n": [1, 2]}) is True


def test_bound_is_exact_where_the_values_are_known() -> None:
    env = cel.environment(("self",))
    program = env.compile("self.replace('a', 'aa').size() > 0")
    bound = cost.Bound(program.ast)
    bound.check({"self": "a" * 1000})
    with pytest.raises(cost.TooCostly) as err:
        bound.check({"self": "a" * 6_000_000})
    assert err.value.bound > cost.LIMIT


VAP = f"""\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: slow}}
spec:
  matchConstraints:
    resourceRules:
      - {{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}}
  validations:
    - expression: "{EXPLODING.replace('NAME', 'object.metadata.name')}"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: slow-b}}
spec: {{policyName: slow, validationActions: [Deny]}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  namespace: shop
data: {{a: b}}
"""


def test_admission_policy_over_the_cost_budget_is_a_limit_finding_at_the_field_it_reads(tmp_path: Path) -> None:
    (tmp_path / "vap.yaml").write_text(VAP, encoding="utf-8")
    code, report = run_json(str(tmp_path), "--checks", "admission")
    assert code == 1
    name_line = VAP.splitlines().index("  name: a") + 1
    assert [(f["rule"], f["severity"], f["line"], f["resource"]["name"]) for f in report["findings"]] == [
        ("admission-limit", "error", name_line, "a")]
    assert "over the cost budget of 1,000,000" in report["findings"][0]["message"]


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: notes.example.com
spec:
  group: example.com
  names: {kind: Note, plural: notes}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                text:
                  type: string
                  x-kubernetes-validations:
                    - rule: "RULE"
---
apiVersion: example.com/v1
kind: Note
metadata:
  name: n
spec:
  text: a
"""


def test_crd_rule_over_the_cost_budget_is_a_schema_cel_finding_at_its_field(tmp_path: Path) -> None:
    text = CRD.replace("RULE", EXPLODING.replace("NAME", "self"))
    (tmp_path / "notes.yaml").write_text(text, encoding="utf-8")
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 1
    found = [(f["rule"], f["line"], f["resource"]["name"], f["message"]) for f in report["findings"]]
    assert len(found) == 1 and found[0][:3] == ("schema-cel", text.splitlines().index("  text: a") + 1, "n")
    assert "over the cost budget" in found[0][3]


VPOL = f"""
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: slow
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [configmaps]
  validations:
    - expression: "{EXPLODING.replace('NAME', 'object.metadata.name')}"
"""
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: shop\ndata:\n  a: b\n"


def test_kyverno_cel_over_the_cost_budget_is_an_error_finding(tmp_path: Path) -> None:
    unused = rule_policy("""
- name: unused
  match: {any: [{resources: {kinds: [Secret]}}]}
  validate: {message: x, deny: {}}
""")
    code, report = check(tmp_path, unused, {"vpol": VPOL, "cm": CONFIGMAP})
    assert code == 1
    found = [(Path(f["path"]).stem, f["line"], f["severity"], f["message"]) for f in report["findings"]]
    assert len(found) == 1 and found[0][:3] == ("cm", 1, "error")
    assert "over the cost budget" in found[0][3]
