"""The Kubernetes CEL environment additions through the real CLI, at lines: a ValidatingAdmissionPolicy
using ``string(cidr)``, ``transformMap`` and ``findAll``; the total cost budget of one policy evaluation
and of a CRD's rules on one object; and messages cut short that the report still masks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gatekeeper import cel
from tests.cel.test_admission import found, line_of, namespace, write_tree
from tests.conftest import run_json

pytestmark = pytest.mark.skipif(not cel.available(), reason="cel-expr-python needs Python 3.11+")


def policy(validations: str, resources: str = '["services"]', group: str = '[""]') -> str:
    return f"""\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: env-policy
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: {group}
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: {resources}
  validations:
{validations}---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: env-binding
spec:
  policyName: env-policy
  validationActions: [Deny]
"""


def service(name: str, ip: str, ports: str) -> str:
    return (f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: t\n"
            f"  annotations: {{owners: 'team-a,team-b'}}\nspec:\n  clusterIP: {ip}\n  ports: {ports}\n")


ENVIRONMENT_VALIDATIONS = """\
    - expression: "!has(object.spec.clusterIP) || cidr('10.96.0.0/12').containsIP(object.spec.clusterIP)"
      messageExpression: "'clusterIP ' + object.spec.clusterIP + ' is outside ' + string(cidr('10.96.0.0/12'))"
    - expression: "object.spec.ports.transformMap(i, p, p.port).all(i, i >= 0) &&
        object.spec.ports.transformMapEntry(i, p, {p.name: p.port}).size() == object.spec.ports.size()"
      message: port names must be unique
    - expression: "object.metadata.annotations.owners.findAll('[a-z]*').size() <= 4"
      message: at most two owners
"""


def test_policy_with_string_of_cidr_transform_map_and_find_all(tmp_path: Path) -> None:
    ok = service("ok", "10.96.0.10", "[{name: http, port: 80}, {name: https, port: 443}]")
    outside = service("outside", "192.168.1.5", "[{name: http, port: 80}]")
    repeated = service("repeated", "10.96.0.11", "[{name: http, port: 80}, {name: http, port: 8080}]")
    apps = "---\n".join([namespace("t"), ok, outside, repeated])
    write_tree(tmp_path, {"policy.yaml": policy(ENVIRONMENT_VALIDATIONS), "apps.yaml": apps})
    code, report = run_json(str(tmp_path), "--checks", "admission")
    assert code == 1
    assert found(report) == [
        ("apps.yaml", line_of(apps, "clusterIP: 192.168.1.5"), "admission-denied", "error", "outside"),
        ("apps.yaml", line_of(apps, "port: 8080}]"), "admission-error", "error", "repeated"),  # the field read
    ]
    messages = [f["message"] for f in report["findings"]]
    assert messages[0].startswith("clusterIP 192.168.1.5 is outside 10.96.0.0/12 [")
    assert "insert failed: key '…' already exists" in messages[1]  # mapInsert's error, the data elided
    # Go's FindAllString: 'team-a,team-b'.findAll('[a-z]*') is ['team', 'a', 'team', 'b'] (no empty match
    # right after a match), '--a--' gives ['', '', 'a', '', '']: empty matches count
    text = service("owners", "10.96.0.12", "[{name: http, port: 80}]").replace("team-a,team-b", "--a--")
    write_tree(tmp_path, {"apps.yaml": namespace("t") + "---\n" + text})
    code, report = run_json(str(tmp_path), "--checks", "admission")
    assert code == 1
    assert found(report) == [("apps.yaml", line_of(namespace("t") + "---\n" + text, "owners: '--a--'"),
                              "admission-denied", "error", "owners")]


def costly(count: int) -> str:
    # each (9000 / 10)^2 = 810,000: under the per-expression limit, 13 of them past the total budget
    return "".join(f"    - expression: \"object.data.k.contains(object.data.k) || {i} < 0\"\n" for i in range(count))


def config_map(name: str, size: int) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: t\ndata:\n  k: {'x' * size}\n"


def test_total_cost_budget_of_one_policy_evaluation_is_a_finding(tmp_path: Path) -> None:
    apps = "---\n".join([namespace("t"), config_map("small", 100), config_map("large", 9000)])
    write_tree(tmp_path, {"policy.yaml": policy(costly(13), '["configmaps"]'), "apps.yaml": apps})
    code, report = run_json(str(tmp_path), "--checks", "admission")
    assert code == 1
    assert found(report) == [("apps.yaml", line_of(apps, "k: xxx", 2), "admission-limit", "error", "large")]
    message = report["findings"][0]["message"]
    assert "total cost budget of 10,000,000" in message and "|| 12 < 0" in message
    write_tree(tmp_path, {"policy.yaml": policy(costly(12), '["configmaps"]')})
    code, report = run_json(str(tmp_path), "--checks", "admission")
    assert (code, found(report)) == (0, [])


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
                texts:
                  type: array
                  items:
                    type: string
                    x-kubernetes-validations:
                      - rule: self.contains(self)
                        message: never fails
"""


def note(name: str, count: int) -> str:
    texts = "".join(f"    - {'y' * 9000}\n" for _ in range(count))
    return f"---\napiVersion: example.com/v1\nkind: Note\nmetadata:\n  name: {name}\nspec:\n  texts:\n{texts}"


def schema_cel(report: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(f["line"], f["resource"]["name"], f["message"]) for f in report["findings"] if f["rule"] == "schema-cel"]


def test_total_cost_budget_of_a_crds_rules_on_one_object(tmp_path: Path) -> None:
    text = CRD + note("twelve", 12) + note("thirteen", 13)
    write_tree(tmp_path, {"notes.yaml": text})
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 1
    (line, name, message), = schema_cel(report)
    assert name == "thirteen" and "total cost budget" in message and "no further rule" in message
    assert line == line_of(text, "- yyy", 25)  # the 13th item of the second note


def test_a_message_cut_short_still_masks_the_secret_it_cuts(tmp_path: Path) -> None:
    secret = "hunter2-Zq8vX3pL0rT6wY9sK1mN4bV7cE2dF5gH"
    validation = ("    - expression: \"object.data.size() == 0\"\n      messageExpression: \"'" + "m" * 380
                  + " ' + object.data.password\"\n")
    apps = (namespace("t") + "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: t\n"
            f"stringData:\n  password: {secret}\ndata: {{}}\n---\n" + config_map("cm", 1).replace(
                "k: x", f"password: {secret}"))
    write_tree(tmp_path, {"policy.yaml": policy(validation, '["configmaps"]'), "apps.yaml": apps})
    _, report = run_json(str(tmp_path), "--checks", "admission,secrets")
    denied = [f["message"] for f in report["findings"] if f["rule"] == "admission-denied"]
    assert len(denied) == 1 and "…" in denied[0]
    # the policy sees the value redacted already (``<redacted: N characters>``), else the cut is masked
    assert secret[:8] not in denied[0] and ("<redacted>…" in denied[0] or "<redacted: " in denied[0])
