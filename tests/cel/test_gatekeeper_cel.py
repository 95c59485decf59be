"""CEL code of Gatekeeper ConstraintTemplates: which engine runs, and what the CEL code says, on real
templates written after Gatekeeper's K8sRequiredLabels example."""

from __future__ import annotations

import pytest

from gatekeeper import cel
from gatekeeper.checks.base import CheckLoadError
from gatekeeper.checks.policy.celcode import CelTemplate, runs_cel
from gatekeeper.model import Resource
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.resources import extract
from gatekeeper.sources.yamlload import parse

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
