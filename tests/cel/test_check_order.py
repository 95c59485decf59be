"""Every policy engine in one process, in registry order (Rego before CEL): each check finds what it
finds when it runs alone, so no check's engine depends on running before another's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gatekeeper import cel
from gatekeeper.checks import names
from tests.conftest import run_subprocess

pytestmark = pytest.mark.skipif(not cel.available(), reason="cel-expr-python needs Python 3.11+")

CONFTEST = """\
package main
import rego.v1

deny contains msg if {
  input.kind == "Deployment"
  input.spec.replicas > 3
  msg := sprintf("%s: too many replicas", [input.metadata.name])
}
"""
TEMPLATE = """\
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sminreplicas
spec:
  crd:
    spec:
      names:
        kind: K8sMinReplicas
  targets:
    - target: admission.k8s.gatekeeper.sh
      code:
        - engine: K8sNativeValidation
          source:
            validations:
              - expression: "object.spec.replicas >= 2"
                message: at least 2 replicas
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sMinReplicas
metadata:
  name: min-replicas
spec:
  match:
    kinds:
      - apiGroups: [apps]
        kinds: [Deployment]
"""
TREE = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: named
spec:
  matchConstraints:
    resourceRules:
      - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  validations:
    - expression: "object.metadata.name.startsWith('app-')"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: named-b
spec: {policyName: named, validationActions: [Deny]}
---
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: labelled
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
      - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}
  validations:
    - expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
      message: a team label is required
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-big
  namespace: shop
  labels: {team: a}
spec:
  replicas: 5
"""
CHECKS = ("policy", "kyverno", "admission")


def _findings(tmp_path: Path, checks: str) -> set[tuple[str, str, int, str]]:
    done = run_subprocess("check", "repo", "--policy", "pol", "--checks", checks, "--format", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    assert not report.get("errors")
    return {(f["check"], f["rule"], f["line"], f["resource"]["name"]) for f in report["findings"]}


def test_rego_and_cel_checks_find_alone_what_they_find_together(tmp_path: Path) -> None:
    assert names().index("policy") < names().index("kyverno") < names().index("admission")
    (tmp_path / "pol").mkdir()
    (tmp_path / "repo").mkdir()
    (tmp_path / "pol" / "main.rego").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "pol" / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    (tmp_path / "repo" / "all.yaml").write_text(TREE, encoding="utf-8")
    lines = TREE.splitlines()
    web = lines.index("  name: web") + 1
    big = lines.index("  name: app-big") + 1
    together = _findings(tmp_path, ",".join(CHECKS))
    alone = set().union(*(_findings(tmp_path, check) for check in CHECKS))
    assert together == alone
    assert {(check, line, name) for check, _rule, line, name in together} == {
        ("policy", web + 3, "web"),  # the CEL template: spec.replicas
        ("policy", big - 3, "app-big"),  # the Rego rule: the object
        ("kyverno", web - 3, "web"),  # the object
        ("admission", web, "web")}  # metadata.name
