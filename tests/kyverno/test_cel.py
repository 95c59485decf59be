"""CEL through the CLI: validate.cel rules (variables, params, celPreconditions, messageExpression,
auto-generated controller rules) and ValidatingPolicy (matchConstraints, matchConditions,
variables, validations, validationActions, resource.Get from the tree, http -> unavailable)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper import cel
from tests.conftest import run_cli
from tests.kyverno.helpers import check, rows, rule_policy

pytestmark = pytest.mark.skipif(not cel.available(), reason="the CEL engine needs Python 3.11+")

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: shop
  labels: {{team: {team}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: app
          image: {image}
"""
LIMIT = "apiVersion: acme.io/v1\nkind: ReplicaLimit\nmetadata:\n  name: limits\n  namespace: shop\nmax: 5\n"


def test_cel_rules_with_params_variables_preconditions_and_autogen(tmp_path: Path) -> None:
    rules = """
- name: replicas
  match: {any: [{resources: {kinds: [Deployment]}}]}
  celPreconditions:
    - name: team-set
      expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
  validate:
    cel:
      paramKind: {apiVersion: acme.io/v1, kind: ReplicaLimit}
      paramRef: {name: limits}
      variables:
        - name: wanted
          expression: object.spec.replicas
      expressions:
        - expression: variables.wanted <= params.max
          messageExpression: "'replicas ' + string(variables.wanted) + ' over ' + string(params.max)"
- name: tagged
  match: {any: [{resources: {kinds: [Pod]}}]}
  validate:
    cel:
      expressions:
        - expression: "object.spec.containers.all(c, c.image.contains(':') && !c.image.endsWith(':latest'))"
          message: images carry a version tag
"""
    docs = {"limit": LIMIT,
            "ok": DEPLOY.format(name="ok", team="shop", replicas=3, image="nginx:1.27"),
            "many": DEPLOY.format(name="many", team="shop", replicas=9, image="nginx:latest")}
    code, report = check(tmp_path, rule_policy(rules), docs)
    assert code == 1
    assert rows(report) == [("many", 1, "kyverno/pol/autogen-tagged", ""), ("many", 1, "kyverno/pol/replicas", "")]
    messages = sorted(f["message"] for f in report["findings"])
    assert messages == ["images carry a version tag", "replicas 9 over 5"]
    del docs["limit"]
    code, report = check(tmp_path, rule_policy(rules), {**docs, "limit": "apiVersion: v1\nkind: List\nitems: []\n"})
    assert sorted(f["rule"] for f in report["findings"]) == [
        "kyverno-context-unavailable", "kyverno-context-unavailable", "kyverno/pol/autogen-tagged"]


VPOL = """
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: owners
spec:
  validationActions: [{action}]
  matchConstraints:
    resourceRules:
      - apiGroups: [apps]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [deployments]
  matchConditions:
    - name: not-system
      expression: "object.metadata.namespace != 'kube-system'"
  variables:
    - name: teams
      expression: "resource.Get('v1', 'configmaps', 'platform', 'owners').data.teams.split(',')"
  validations:
    - expression: "object.metadata.labels.team in variables.teams"
      messageExpression: "'team ' + object.metadata.labels.team + ' is not an owner'"
    - expression: "object.spec.replicas <= 4"
      message: at most 4 replicas
"""
OWNERS = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owners\n  namespace: platform\ndata:\n  teams: shop,pay\n"


def test_validating_policy_in_the_tree(tmp_path: Path) -> None:
    docs = {"owners": OWNERS, "vpol": VPOL.format(action="Deny"),
            "good": DEPLOY.format(name="good", team="shop", replicas=2, image="nginx:1.27"),
            "bad": DEPLOY.format(name="bad", team="ops", replicas=6, image="nginx:1.27"),
            "system": DEPLOY.format(name="system", team="ops", replicas=6, image="x").replace("shop", "kube-system")}
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies/empty.yaml").write_text("# nothing\n", encoding="utf-8")
    code, report = check(tmp_path, rule_policy("""
- name: unused
  match: {any: [{resources: {kinds: [Secret]}}]}
  validate: {message: x, deny: {}}
"""), docs)
    assert code == 1
    assert [(Path(f["path"]).stem, f["rule"], f["severity"], f["message"]) for f in report["findings"]] == [
        ("bad", "kyverno/owners/validations", "error", "team ops is not an owner; at most 4 replicas")]
    docs["vpol"] = VPOL.format(action="Audit").replace("resource.Get('v1', 'configmaps', 'platform', 'owners')",
                                                       "http.Get('https://owners.acme.io/teams')")
    code, report = check(tmp_path, rule_policy("""
- name: unused
  match: {any: [{resources: {kinds: [Secret]}}]}
  validate: {message: x, deny: {}}
"""), docs)
    assert code == 0
    assert sorted((Path(f["path"]).stem, f["rule"]) for f in report["findings"]) == [
        ("bad", "kyverno-context-unavailable"), ("good", "kyverno-context-unavailable")]


def test_cel_that_does_not_compile_is_a_load_error(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies/vpol.yaml").write_text(VPOL.format(action="Deny").replace("<= 4", "<= "),
                                                 encoding="utf-8")
    (tmp_path / "d.yaml").write_text(DEPLOY.format(name="d", team="shop", replicas=1, image="x"), encoding="utf-8")
    code, out = run_cli("check", "d.yaml", "--policy", "policies", "--checks", "kyverno", cwd=tmp_path)
    assert code == 2
    assert "policies/vpol.yaml:23: ValidatingPolicy owners: spec.validations[1].expression: CEL expression does " \
           "not compile" in out


def test_objects_in_a_namespace_are_those_the_tree_holds_there_in_order() -> None:
    """``resource.Get``/``List`` read a namespace through an index made on its first lookup: the
    same objects, in the tree's order, as reading every object of the type (an object without a
    namespace is in ``default``; a namespace that is not a string is in none)."""
    from gatekeeper.kyverno.celeval import Objects

    def cm(name: str, namespace: object = None) -> dict[str, object]:
        meta: dict[str, object] = {"name": name}
        if namespace is not None:
            meta["namespace"] = namespace
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}

    items = [cm("a", "shop"), cm("b"), cm("c", "shop"), cm("d", ["shop"]), cm("e", "default"),
             {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a", "namespace": "shop"}},
             {"apiVersion": "v1", "kind": "ConfigMap", "metadata": "not a mapping"}]
    objects = Objects(items)
    def name(obj: object) -> object:
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        return meta.get("name") if isinstance(meta, dict) else None

    names = [[name(o) for o in objects.find("v1", "configmaps", ns)] for ns in ("shop", "default", "other")]
    assert names == [["a", "c"], ["b", "e", None], []]  # metadata not a mapping: no namespace, so default
    assert len(objects.find("v1", "configmaps")) == 6  # no namespace: every one, the malformed too
    assert objects.get("v1", "ConfigMap", "shop", "c") is items[2]
    assert objects.get("v1", "ConfigMap", "default", "b") is items[1]
    assert objects.get("v1", "ConfigMap", "shop", "b") is None


def test_the_kyverno_cel_environment_is_made_once() -> None:
    from gatekeeper.kyverno import celeval

    assert celeval.environment() is celeval.environment()
