"""CEL code of Gatekeeper ConstraintTemplates: which engine runs, and what the CEL code says, on real
templates written after Gatekeeper's K8sRequiredLabels example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gatekeeper import cel
from gatekeeper.checks.base import CheckLoadError
from gatekeeper.checks.policy.celcode import CelTemplate, runs_cel
from gatekeeper.model import Resource
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.resources import extract
from gatekeeper.sources.yamlload import parse
from tests.conftest import run_cli, run_json

pytestmark = pytest.mark.skipif(not cel.available(), reason="cel-expr-python needs Python 3.11+")

CEL_TEMPLATE = """\
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8srequiredlabels
spec:
  crd:
    spec:
      names:
        kind: K8sRequiredLabels
      validation:
        openAPIV3Schema:
          type: object
          properties:
            labels:
              type: array
              items:
                type: object
                properties:
                  key: {type: string}
                  allowedRegex: {type: string}
  targets:
    - target: admission.k8s.gatekeeper.sh
      code:
        - engine: K8sNativeValidation
          source:
            validations:
            - expression: >-
                [object, oldObject].exists(obj, obj != null && has(obj.metadata) &&
                variables.params.labels.all(entry, has(obj.metadata.labels) && entry.key in obj.metadata.labels))
              messageExpression: >-
                "missing required label, requires all of: " + variables.params.labels.map(entry, entry.key).join(", ")
            - expression: >-
                [object, oldObject].exists(obj, obj != null && !variables.params.labels.exists(entry,
                has(obj.metadata.labels) && entry.key in obj.metadata.labels &&
                !string(obj.metadata.labels[entry.key]).matches(string(entry.allowedRegex))))
              message: regex mismatch
"""

REGO = """\
      rego: |
        package k8srequiredlabels
        violation[{"msg": "from rego"}] { true }
"""


def template(text: str) -> Resource:
    parsed = parse(SourceFile("template.yaml", text.encode()))
    doc = parsed.documents[0]
    extract(doc)
    return doc.resources[0]


def namespace(labels: dict[str, str]) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": labels}}


CONSTRAINT = {"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sRequiredLabels",
              "metadata": {"name": "owner"},
              "spec": {"parameters": {"labels": [{"key": "owner", "allowedRegex": "^[a-z]+$"}]}}}


def test_cel_code_gives_the_documented_messages() -> None:
    code = CelTemplate(template(CEL_TEMPLATE))
    results = {str(labels): [v.message for v in code.violations(namespace(labels), CONSTRAINT, group="",
                                                                 version="v1", resource_name="namespaces")]
               for labels in ({}, {"owner": "Bob1"}, {"owner": "bob"})}
    assert results == {"{}": ["missing required label, requires all of: owner"],
                       "{'owner': 'Bob1'}": ["regex mismatch"], "{'owner': 'bob'}": []}


def test_engine_choice_follows_gatekeeper() -> None:
    cel_only = template(CEL_TEMPLATE).obj
    both = template(CEL_TEMPLATE + REGO).obj
    generate_vap = template(CEL_TEMPLATE.replace("          source:\n", "          source:\n"
                                                 "            generateVAP: true\n") + REGO).obj
    scoped = {**CONSTRAINT, "spec": {**CONSTRAINT["spec"], "enforcementAction": "scoped",
                                     "scopedEnforcementActions": [{"action": "deny", "enforcementPoints": [
                                         {"name": "vap.k8s.io"}]}]}}
    assert runs_cel(cel_only, CONSTRAINT)
    assert not runs_cel(both, CONSTRAINT)
    assert runs_cel(generate_vap, CONSTRAINT)
    assert runs_cel(both, scoped)


def test_an_expression_that_does_not_compile_names_file_and_line() -> None:
    broken = CEL_TEMPLATE.replace("message: regex mismatch", "message: regex mismatch\n"
                                  "            - expression: object.metadata.name ==")
    with pytest.raises(CheckLoadError, match=r"template\.yaml:\d+: ConstraintTemplate k8srequiredlabels: "
                                             r"spec\.targets\.0\.code\.0\.source\.validations\.2\.expression does "
                                             r"not compile"):
        CelTemplate(template(broken))


def test_runtime_error_is_an_error_result() -> None:
    code = CelTemplate(template(CEL_TEMPLATE))
    without_params = {"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sRequiredLabels",
                      "metadata": {"name": "x"}, "spec": {}}
    found = code.violations(namespace({}), without_params, group="", version="v1", resource_name="namespaces")
    assert [v.error for v in found] == [True]
    assert "could not be evaluated" in found[0].message


REQUIRED_OWNER = """\
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: owner
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: [Namespace]
  parameters:
    labels:
      - key: owner
        allowedRegex: "^[a-z]+$"
"""
NAMESPACES = """\
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
  labels:
    owner: Bob1
---
apiVersion: v1
kind: Namespace
metadata:
  name: team-b
  labels:
    owner: bob
---
apiVersion: v1
kind: Namespace
metadata:
  name: team-c
"""


def test_policy_check_runs_cel_only_templates_and_rego_where_gatekeeper_would(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "pol").mkdir()
    (tmp_path / "repo" / "ns.yaml").write_text(NAMESPACES, encoding="utf-8")
    (tmp_path / "pol" / "template.yaml").write_text(CEL_TEMPLATE, encoding="utf-8")
    (tmp_path / "pol" / "constraint.yaml").write_text(REQUIRED_OWNER, encoding="utf-8")
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert code == 1
    rows = [(f["line"], f["resource"]["name"], f["rule"], f["message"]) for f in report["findings"]]
    assert rows == [(1, "team-a", "policy/K8sRequiredLabels/owner", "regex mismatch [K8sRequiredLabels/owner]"),
                    (15, "team-c", "policy/K8sRequiredLabels/owner",
                     "missing required label, requires all of: owner [K8sRequiredLabels/owner]")]
    (tmp_path / "pol" / "template.yaml").write_text(CEL_TEMPLATE + REGO, encoding="utf-8")  # both: Rego runs
    _, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert sorted((f["resource"]["name"], f["message"]) for f in report["findings"]) == [
        (name, "from rego [K8sRequiredLabels/owner]") for name in ("team-a", "team-b", "team-c")]


SUITE = """\
apiVersion: test.gatekeeper.sh/v1alpha1
kind: Suite
tests:
  - name: required-owner
    template: template.yaml
    constraint: constraint.yaml
    cases:
      - name: bad-regex
        object: team-a.yaml
        assertions:
          - violations: 1
            message: regex mismatch
      - name: good
        object: team-b.yaml
        assertions:
          - violations: no
      - name: missing
        object: team-c.yaml
        assertions:
          - violations: yes
            message: requires all of
"""


def test_cel_only_template_suite_passes_verify(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(CEL_TEMPLATE, encoding="utf-8")
    (tmp_path / "constraint.yaml").write_text(REQUIRED_OWNER, encoding="utf-8")
    for name, text in zip(("team-a", "team-b", "team-c"), NAMESPACES.split("---\n"), strict=True):
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "suite.yaml").write_text(SUITE, encoding="utf-8")
    code, out = run_cli("verify", str(tmp_path), "--format", "json")
    doc = json.loads(out)
    assert code == 0 and (doc["passed"], doc["failed"], doc["skipped"]) == (3, 0, 0)
    (tmp_path / "suite.yaml").write_text(SUITE.replace("violations: no", "violations: 1"), encoding="utf-8")
    code, out = run_cli("verify", str(tmp_path), "--format", "json")
    failed = [c for c in json.loads(out)["cases"] if not c["passed"]]
    assert code == 1 and [c["case"] for c in failed] == ["good"]
