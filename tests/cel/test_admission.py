"""ValidatingAdmissionPolicy evaluation through the real CLI, with fixtures written after the examples of
the Kubernetes ValidatingAdmissionPolicy guide, giving the outcomes the guide documents, at their lines."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from gatekeeper import cel
from gatekeeper.checks.admission import RULES
from gatekeeper.checks.admission.matching import guess_resource
from tests.conftest import run_cli, run_json

pytestmark = pytest.mark.skipif(not cel.available(), reason="cel-expr-python needs Python 3.11+")

DEMO_POLICY = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: "demo-policy.example.com"
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups:   ["apps"]
      apiVersions: ["v1"]
      operations:  ["CREATE", "UPDATE"]
      resources:   ["deployments"]
  validations:
    - expression: "object.spec.replicas <= 5"
"""

DEMO_BINDING = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: "demo-binding-test.example.com"
spec:
  policyName: "demo-policy.example.com"
  validationActions: [{actions}]
  matchResources:
    namespaceSelector:
      matchLabels:
        environment: test
"""

PARAM_POLICY = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: "replicalimit-policy.example.com"
spec:
  failurePolicy: Fail
  paramKind:
    apiVersion: rules.example.com/v1
    kind: ReplicaLimit
  matchConstraints:
    resourceRules:
    - apiGroups:   ["apps"]
      apiVersions: ["v1"]
      operations:  ["CREATE", "UPDATE"]
      resources:   ["deployments"]
  validations:
    - expression: "object.spec.replicas <= params.maxReplicas"
      messageExpression: "'object.spec.replicas must be no greater than ' + string(params.maxReplicas)"
      reason: Invalid
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: "replicalimit-binding-test.example.com"
spec:
  policyName: "replicalimit-policy.example.com"
  validationActions: [Deny]
  paramRef:
    name: "replica-limit-test.example.com"
    namespace: "default"
    parameterNotFoundAction: Deny
  matchResources:
    namespaceSelector:
      matchLabels:
        environment: test
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: "replicalimit-binding-prod.example.com"
spec:
  policyName: "replicalimit-policy.example.com"
  validationActions: [Deny]
  paramRef:
    name: "replica-limit-prod.example.com"
    namespace: "default"
    parameterNotFoundAction: Deny
  matchResources:
    namespaceSelector:
      matchLabels:
        environment: production
---
apiVersion: rules.example.com/v1
kind: ReplicaLimit
metadata:
  name: "replica-limit-test.example.com"
  namespace: "default"
maxReplicas: 3
---
apiVersion: rules.example.com/v1
kind: ReplicaLimit
metadata:
  name: "replica-limit-prod.example.com"
  namespace: "default"
maxReplicas: 100
"""

MATCH_CONDITIONS_POLICY = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: "demo-policy.example.com"
spec:
  matchConstraints:
    resourceRules:
    - apiGroups:   ["*"]
      apiVersions: ["*"]
      operations:  ["CREATE", "UPDATE"]
      resources:   ["*"]
  matchConditions:
    - name: 'exclude-leases'
      expression: '!(request.resource.group == "coordination.k8s.io" && request.resource.resource == "leases")'
    - name: 'exclude-kubelet-requests'
      expression: '!("system:nodes" in request.userInfo.groups)'
    - name: 'rbac'
      expression: 'request.resource.group != "rbac.authorization.k8s.io"'
  validations:
    - expression: "!object.metadata.name.contains('demo') || object.metadata.namespace == 'demo'"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: "demo-binding.example.com"
spec:
  policyName: "demo-policy.example.com"
  validationActions: [Deny]
"""

VARIABLES_POLICY = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: "image-matches-namespace-environment.policy.example.com"
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups:   ["apps"]
      apiVersions: ["v1"]
      operations:  ["CREATE", "UPDATE"]
      resources:   ["deployments"]
  variables:
  - name: environment
    expression: >-
      'environment' in namespaceObject.metadata.labels ?
      namespaceObject.metadata.labels['environment'] : 'prod'
  - name: exempt
    expression: "'exempt' in object.metadata.labels && object.metadata.labels['exempt'] == 'true'"
  - name: containers
    expression: "object.spec.template.spec.containers"
  - name: containersToCheck
    expression: "variables.containers.filter(c, c.image.contains('example.com/'))"
  validations:
  - expression: >-
      variables.exempt ||
      variables.containersToCheck.all(c, c.image.startsWith(variables.environment + '.'))
    messageExpression: >-
      'only ' + variables.environment + ' images are allowed in namespace ' + namespaceObject.metadata.name
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: "image-matches-namespace-environment.binding.example.com"
spec:
  policyName: "image-matches-namespace-environment.policy.example.com"
  validationActions: [Deny]
"""


def namespace(name: str, **labels: str) -> str:
    label_text = "".join(f"\n    {k}: {v}" for k, v in labels.items())
    return f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:{label_text or ' {}'}\n"


def deployment(name: str, ns: str, replicas: int, image: str = "nginx:1.25", labels: str = "{app: web}") -> str:
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
          namespace: {ns}
          labels: {labels}
        spec:
          replicas: {replicas}
          selector: {{matchLabels: {{app: web}}}}
          template:
            metadata: {{labels: {{app: web}}}}
            spec:
              containers: [{{name: web, image: "{image}"}}]
        """)


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def found(report: dict[str, Any]) -> list[tuple[str, int, str, str, str]]:
    """(path, line, rule, severity, resource name) of every admission finding."""
    return [(f["path"], f["line"], f["rule"], f["severity"], (f["resource"] or {}).get("name"))
            for f in report["findings"] if f["check"] == "admission"]


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


def test_namespace_selector_binding_denies_only_in_matching_namespaces(tmp_path: Path) -> None:
    apps = "---\n".join([namespace("test-ns", environment="test"), namespace("prod-ns", environment="production"),
                        deployment("too-many", "test-ns", 6), deployment("fine", "test-ns", 5),
                        deployment("elsewhere", "prod-ns", 9)])
    write_tree(tmp_path, {"policy.yaml": DEMO_POLICY + "---\n" + DEMO_BINDING.format(actions="Deny"),
                          "apps.yaml": apps})
    code, report = run_json(str(tmp_path), "--checks", "admission")
    assert code == 1
    assert found(report) == [("apps.yaml", line_of(apps, "replicas: 6"), "admission-denied", "error", "too-many")]
    message = report["findings"][0]["message"]
    assert message == ("failed expression: object.spec.replicas <= 5 [ValidatingAdmissionPolicy "
                       "demo-policy.example.com, binding demo-binding-test.example.com]")


@pytest.mark.parametrize(("actions", "severities"), [("Warn", ["warning"]), ("Audit", ["info"]),
                                                      ("Warn, Audit", ["warning"]), ("Deny, Audit", ["error"])])
def test_validation_actions_set_the_severity(tmp_path: Path, actions: str, severities: list[str]) -> None:
    apps = namespace("t", environment="test") + "---\n" + deployment("d", "t", 7)
    write_tree(tmp_path, {"policy.yaml": DEMO_POLICY + "---\n" + DEMO_BINDING.format(actions=actions),
                          "apps.yaml": apps})
    code, report = run_json(str(tmp_path), "--checks", "admission")
    assert [f[3] for f in found(report)] == severities
    assert code == (1 if severities == ["error"] else 0)


def test_replica_limit_with_params_per_namespace_and_message_expression(tmp_path: Path) -> None:
    apps = "---\n".join([namespace("default", environment="test"), namespace("prod", environment="production"),
                        deployment("four", "default", 4), deployment("three", "default", 3),
                        deployment("fifty", "prod", 50), deployment("two-hundred", "prod", 200)])
    write_tree(tmp_path, {"policy.yaml": PARAM_POLICY, "apps.yaml": apps})
    code, report = run_json(str(tmp_path), "--checks", "admission")
    assert code == 1
    assert found(report) == [
        ("apps.yaml", line_of(apps, "replicas: 4"), "admission-denied", "error", "four"),
        ("apps.yaml", line_of(apps, "replicas: 200"), "admission-denied", "error", "two-hundred"),
    ]
    assert report["findings"][0]["message"].startswith(
        "object.spec.replicas must be no greater than 3 (reason: Invalid) [ValidatingAdmissionPolicy "
        "replicalimit-policy.example.com, binding replicalimit-binding-test.example.com]")
    assert "no greater than 100" in report["findings"][1]["message"]


def test_missing_param_follows_parameter_not_found_action(tmp_path: Path) -> None:
    without_prod_param = PARAM_POLICY.rsplit("---\n", 1)[0]
    apps = namespace("prod", environment="production") + "---\n" + deployment("one", "prod", 1)
    write_tree(tmp_path, {"policy.yaml": without_prod_param, "apps.yaml": apps})
    _, report = run_json(str(tmp_path), "--checks", "admission")
    assert found(report) == [("apps.yaml", line_of(apps, "kind: Deployment") - 1, "admission-params", "error", "one")]
    assert "no ReplicaLimit (rules.example.com/v1) named replica-limit-prod.example.com" in \
        report["findings"][0]["message"]
    write_tree(tmp_path, {"policy.yaml": without_prod_param.replace(
        "name: \"replica-limit-prod.example.com\"\n    namespace: \"default\"\n    parameterNotFoundAction: Deny",
        "name: \"replica-limit-prod.example.com\"\n    namespace: \"default\"\n    parameterNotFoundAction: Allow")})
    code, report = run_json(str(tmp_path), "--checks", "admission")
    assert (code, found(report)) == (0, [])


def test_match_conditions_skip_what_they_exclude(tmp_path: Path) -> None:
    role = ("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: demo-role\n"
            "  namespace: other\nrules: []\n")
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\ndata: {{}}\n"
    apps = "---\n".join([role, cm.format(name="demo-config", ns="other"), cm.format(name="demo-ok", ns="demo"),
                        cm.format(name="plain", ns="other")])
    write_tree(tmp_path, {"policy.yaml": MATCH_CONDITIONS_POLICY, "apps.yaml": apps})
    _, report = run_json(str(tmp_path), "--checks", "admission")
    # the Role is excluded by the rbac matchCondition; only demo-config outside namespace demo fails. The
    # policy and binding objects match too (resources "*"), and their names contain "demo": reading the
    # namespace a cluster-scoped object lacks is an evaluation error, failurePolicy Fail, as on a cluster.
    assert found(report) == [
        ("apps.yaml", line_of(apps, "kind: ConfigMap") - 1, "admission-denied", "error", "demo-config"),
        ("policy.yaml", 1, "admission-error", "error", "demo-policy.example.com"),
        ("policy.yaml", line_of(MATCH_CONDITIONS_POLICY, "kind: ValidatingAdmissionPolicyBinding") - 1,
         "admission-error", "error", "demo-binding.example.com")]


def test_variables_compose_and_message_expression_reads_them(tmp_path: Path) -> None:
    apps = "---\n".join([namespace("default", environment="staging"),
                        deployment("wrong-env", "default", 1, image="example.com/nginx"),
                        deployment("right-env", "default", 1, image="staging.example.com/nginx"),
                        deployment("exempted", "default", 1, image="example.com/nginx",
                                   labels="{app: web, exempt: 'true'}"),
                        deployment("other-registry", "default", 1, image="docker.io/nginx")])
    write_tree(tmp_path, {"policy.yaml": VARIABLES_POLICY, "apps.yaml": apps})
    code, report = run_json(str(tmp_path), "--checks", "admission")
    assert code == 1
    assert [f[4] for f in found(report)] == ["wrong-env"]
    assert report["findings"][0]["message"].startswith("only staging images are allowed in namespace default [")


def test_failure_policy_decides_what_an_evaluation_error_becomes(tmp_path: Path) -> None:
    policy = DEMO_POLICY.replace("object.spec.replicas <= 5", "object.spec.paused == false")
    binding = DEMO_BINDING.format(actions="Deny")
    apps = namespace("t", environment="test") + "---\n" + deployment("d", "t", 1)
    write_tree(tmp_path, {"policy.yaml": policy + "---\n" + binding, "apps.yaml": apps})
    code, report = run_json(str(tmp_path), "--checks", "admission")
    assert code == 1 and [(f[2], f[3]) for f in found(report)] == [("admission-error", "error")]
    assert "failurePolicy Fail" in report["findings"][0]["message"]
    assert "no such key" in report["findings"][0]["message"].lower() or \
        "not found" in report["findings"][0]["message"].lower()
    write_tree(tmp_path, {"policy.yaml": policy.replace("failurePolicy: Fail", "failurePolicy: Ignore")
                          + "---\n" + binding})
    code, report = run_json(str(tmp_path), "--checks", "admission")
    assert code == 0 and [(f[2], f[3]) for f in found(report)] == [("admission-error", "info")]


def test_cost_overrun_is_a_finding_not_a_hang(tmp_path: Path) -> None:
    policy = DEMO_POLICY.replace(
        "object.spec.replicas <= 5",
        "object.spec.template.spec.containers.all(a, object.spec.template.spec.containers.all(b, "
        "object.spec.template.spec.containers.all(c, a.name != '' && b.name != '' && c.name != '')))")
    containers = ", ".join(f"{{name: c{i}, image: 'x:1'}}" for i in range(30))
    apps = namespace("t", environment="test") + "---\n" + deployment("d", "t", 1).replace(
        '[{name: web, image: "nginx:1.25"}]', f"[{containers}]")
    write_tree(tmp_path, {"policy.yaml": policy + "---\n" + DEMO_BINDING.format(actions="Deny"), "apps.yaml": apps})
    _, report = run_json(str(tmp_path), "--checks", "admission")
    assert [f[2] for f in found(report)] == ["admission-limit"]
    assert "cost budget" in report["findings"][0]["message"]


def test_expression_that_does_not_compile_fails_the_run(tmp_path: Path) -> None:
    policy = DEMO_POLICY.replace('"object.spec.replicas <= 5"', '"object.spec.replicas <= "')
    write_tree(tmp_path, {"policy.yaml": policy + "---\n" + DEMO_BINDING.format(actions="Deny")})
    code, out = run_cli("check", str(tmp_path), "--checks", "admission")
    assert code == 2
    assert f"policy.yaml:{line_of(policy, 'expression:')}: ValidatingAdmissionPolicy demo-policy.example.com: " \
           "spec.validations.0.expression does not compile: Syntax error" in out


def test_authorizer_is_reported_as_not_evaluable_and_unbound_bindings_warn(tmp_path: Path) -> None:
    policy = DEMO_POLICY.replace('"object.spec.replicas <= 5"',
                                 "\"authorizer.group('apps').resource('deployments').check('create').allowed()\"")
    orphan = DEMO_BINDING.format(actions="Deny").replace('policyName: "demo-policy.example.com"',
                                                         "policyName: missing").replace("demo-binding-test", "orphan")
    apps = namespace("t", environment="test") + "---\n" + deployment("d", "t", 1)
    text = policy + "---\n" + DEMO_BINDING.format(actions="Deny") + "---\n" + orphan
    write_tree(tmp_path, {"policy.yaml": text, "apps.yaml": apps})
    code, report = run_json(str(tmp_path), "--checks", "admission")
    assert code == 0
    assert sorted(f[2:4] for f in found(report)) == [("admission-unbound", "warning"),
                                                    ("admission-unsupported", "info")]
    unbound = next(f for f in report["findings"] if f["rule"] == "admission-unbound")
    assert unbound["line"] == line_of(text, "policyName: missing")


def test_policies_and_params_from_a_policy_directory(tmp_path: Path) -> None:
    apps = "---\n".join([namespace("default", environment="test"), deployment("four", "default", 4)])
    write_tree(tmp_path, {"repo/apps.yaml": apps, "vap/policy.yaml": PARAM_POLICY,
                          "vap/tests/fixture.yaml": "not: [a policy"})
    code, report = run_json(str(tmp_path / "repo"), "--checks", "admission", "--policy", str(tmp_path / "vap"))
    assert code == 1 and [f[4] for f in found(report)] == ["four"]


def test_kind_to_resource_names_follow_the_api_server() -> None:
    assert [guess_resource(k) for k in ("Deployment", "Ingress", "NetworkPolicy", "Endpoints", "ConfigMap")] == \
        ["deployments", "ingresses", "networkpolicies", "endpoints", "configmaps"]


def test_rule_examples_run_through_the_pipeline(tmp_path: Path) -> None:
    rule = RULES["admission-denied"]
    write_tree(tmp_path, {"bad/x.yaml": rule.bad_example, "good/x.yaml": rule.good_example})
    _, bad = run_json(str(tmp_path / "bad"), "--checks", "admission")
    _, good = run_json(str(tmp_path / "good"), "--checks", "admission")
    assert [f[2] for f in found(bad)] == ["admission-denied"]
    assert found(good) == []


EVERYWHERE_POLICY = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: flag}
spec:
  matchConstraints:
    resourceRules:
      - {apiGroups: ["", "apps"], apiVersions: ["v1"], operations: ["CREATE"], resources: ["deployments", "namespaces"]}
  validations:
    - expression: "false"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: flag-test}
spec:
  policyName: flag
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchExpressions: [{key: environment, operator: In, values: [test]}]
"""


def test_namespace_selector_results_kept_per_namespace_never_mix_namespaces_or_kinds(tmp_path: Path) -> None:
    """Matching that depends only on the namespace is found once per namespace and kind: objects of
    the same kind in other namespaces, and Namespace objects (matched by their own labels), each get
    their own answer, in any order."""
    apps = "---\n".join([deployment("a1", "test-ns", 1), deployment("b1", "prod-ns", 1),
                         namespace("test-ns", environment="test"), deployment("a2", "test-ns", 1),
                         namespace("prod-ns", environment="production"), deployment("b2", "prod-ns", 1),
                         deployment("c1", "no-object-ns", 1), namespace("other-test", environment="test"),
                         deployment("a3", "other-test", 1)])
    write_tree(tmp_path, {"policy.yaml": EVERYWHERE_POLICY, "apps.yaml": apps})
    code, report = run_json(str(tmp_path), "--checks", "admission")
    assert code == 1
    assert sorted(name for *_rest, name in found(report)) == ["a1", "a2", "a3", "other-test", "test-ns"]


def test_a_loop_variable_shadowing_object_still_reads_the_object_it_ranges_over(tmp_path: Path) -> None:
    """``object.metadata.labels.exists(object, ...)``: the range reads the outer ``object`` (so its paths
    stay in the object's view) while the loop's ``object`` is each key."""
    # matches(): not in the fast path, so the runtime evaluates it, on the object pruned to its view
    policy = EVERYWHERE_POLICY.replace('"false"', "\"object.metadata.labels.exists(object, object.matches('^team$'))\"")
    policy = policy.split("  matchResources")[0]
    apps = "---\n".join([deployment("with-team", "x", 1, labels="{team: a}"), deployment("without", "x", 1)])
    write_tree(tmp_path, {"policy.yaml": policy, "apps.yaml": apps})
    code, report = run_json(str(tmp_path), "--checks", "admission")
    assert [(rule, name) for _p, _l, rule, _s, name in found(report)] == [("admission-denied", "without")]
    assert code == 1
