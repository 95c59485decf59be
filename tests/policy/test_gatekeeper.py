"""The Gatekeeper dialect through the real CLI: templates, constraints, inventory, parameters."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gatekeeper.config import Config
from gatekeeper.pipeline import Run, execute
from gatekeeper.rego.library import library_path
from tests.conftest import run_json

Write = Callable[[str, str], Path]

TEMPLATE_V0 = """
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sreplicalimit
spec:
  crd:
    spec:
      names:
        kind: K8sReplicaLimit
      validation:
        openAPIV3Schema:
          type: object
          properties:
            max:
              type: integer
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sreplicalimit

        violation[{"msg": msg, "details": {"field": ["spec", "replicas"]}}] {
          input.review.object.spec.replicas > input.parameters.max
          msg := sprintf("%v replicas, at most %v", [input.review.object.spec.replicas, input.parameters.max])
        }
"""

TEMPLATE_V1 = """
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sreplicalimit
spec:
  crd:
    spec:
      names:
        kind: K8sReplicaLimit
      validation:
        openAPIV3Schema:
          type: object
          properties:
            max:
              type: integer
  targets:
    - target: admission.k8s.gatekeeper.sh
      code:
        - engine: Rego
          source:
            version: v1
            rego: |
              package k8sreplicalimit

              violation contains {"msg": msg, "details": {"field": ["spec", "replicas"]}} if {
                input.review.object.spec.replicas > input.parameters.max
                msg := sprintf("%v replicas, at most %v", [input.review.object.spec.replicas, input.parameters.max])
              }
"""


def constraint(action: str = "deny", max_: Any = 2, extra: str = "") -> str:
    return f"""
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sReplicaLimit
metadata:
  name: replica-limit
spec:
  enforcementAction: {action}
  match:
    kinds:
      - apiGroups: ["apps"]
        kinds: ["Deployment"]
    excludedNamespaces: ["kube-*"]
{extra}
  parameters:
    max: {max_}
"""


def deployment(name: str, ns: str, replicas: int) -> str:
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
            f"spec:\n  replicas: {replicas}\n")


def _findings(report: dict[str, Any]) -> list[tuple[str, int, str, str, str]]:
    return [(f["path"], f["line"], f["rule"], f["severity"], f["message"])
            for f in report["findings"] if f["check"] == "policy"]


def _repo(write: Write) -> None:
    write("repo/a.yaml", deployment("big", "shop", 5) + "---\n" + deployment("small", "shop", 1))
    write("repo/sys.yaml", deployment("big", "kube-system", 9))


def test_constraint_findings_at_the_field(write: Write, tmp_path: Path) -> None:
    _repo(write)
    write("pol/template.yaml", TEMPLATE_V0)
    write("pol/constraint.yaml", constraint())
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert code == 1
    assert _findings(report) == [("a.yaml", 7, "policy/K8sReplicaLimit/replica-limit", "error",
                                  "5 replicas, at most 2 [K8sReplicaLimit/replica-limit]")]
    finding = report["findings"][0]
    assert finding["field"] == "spec.replicas"
    assert "template k8sreplicalimit" in finding["hint"]


def test_v0_and_v1_templates_give_identical_findings(write: Write, tmp_path: Path) -> None:
    _repo(write)
    write("pol0/template.yaml", TEMPLATE_V0)
    write("pol0/constraint.yaml", constraint())
    write("pol1/template.yaml", TEMPLATE_V1)
    write("pol1/constraint.yaml", constraint())
    _, v0 = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol0"), "--checks", "policy")
    _, v1 = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol1"), "--checks", "policy")
    assert _findings(v0) == _findings(v1)
    assert len(_findings(v0)) == 1


def test_enforcement_actions(write: Write, tmp_path: Path) -> None:
    _repo(write)
    write("pol/template.yaml", TEMPLATE_V0)
    for action, severity, code in (("warn", "warning", 0), ("dryrun", "info", 0)):
        write("pol/constraint.yaml", constraint(action))
        got, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
        assert (got, [f[3] for f in _findings(report)]) == (code, [severity])
    scoped = """  scopedEnforcementActions:
    - action: warn
      enforcementPoints: [{name: "gatekeeper.io/ci"}]
    - action: deny
      enforcementPoints: [{name: "validation.gatekeeper.sh"}]"""
    write("pol/constraint.yaml", constraint("scoped", extra=scoped))
    _, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert [f[3] for f in _findings(report)] == ["warning"]
    write("pol/constraint.yaml", constraint("scoped", extra=scoped.replace("gatekeeper.io/ci", "audit")))
    _, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert _findings(report) == []  # not enforced at the CI enforcement point


def test_parameters_are_validated_against_the_template_schema(write: Write, tmp_path: Path) -> None:
    _repo(write)
    write("pol/template.yaml", TEMPLATE_V0)
    write("pol/constraint.yaml", constraint(max_='"two"'))
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert code == 2
    message = report["errors"][0]["message"]
    assert "constraint.yaml:14: constraint K8sReplicaLimit/replica-limit: parameters max: 'two' is not of type " \
           "'integer'" in message


def test_constraint_of_unknown_kind_and_cel_only_template(write: Write, tmp_path: Path) -> None:
    _repo(write)
    write("pol/constraint.yaml", constraint())
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert code == 2
    assert "no ConstraintTemplate declares kind 'K8sReplicaLimit'" in report["errors"][0]["message"]
    cel = TEMPLATE_V0.split("  targets:")[0] + (
        "  targets:\n    - target: admission.k8s.gatekeeper.sh\n      code:\n        - engine: K8sNativeValidation\n"
        "          source:\n            validations:\n"
        "              - expression: \"object.spec.replicas <= variables.params.max\"\n"
        "                messageExpression: \"string(object.spec.replicas) + ' replicas, at most ' + "
        "string(variables.params.max)\"\n")
    write("pol/template.yaml", cel)
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert code == 1  # CEL-only templates run their CEL code
    assert _findings(report) == [("a.yaml", 7, "policy/K8sReplicaLimit/replica-limit", "error",
                                  "5 replicas, at most 2 [K8sReplicaLimit/replica-limit]")]
    write("pol/template.yaml", TEMPLATE_V0.split("  targets:")[0] + "  targets:\n"
          "    - target: admission.k8s.gatekeeper.sh\n      code:\n        - engine: Other\n          source: {}\n")
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    infos = [f for f in report["findings"] if f["rule"] == "policy-unsupported"]
    assert len(infos) == 1 and infos[0]["severity"] == "info" and infos[0]["line"] == 1
    assert "no Rego or K8sNativeValidation (CEL) code" in infos[0]["message"]


INGRESS = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: {ns}
spec:
  rules:
    - host: {host}
"""


def _ingress_repo(write: Write, tmp_path: Path) -> Path:
    write("repo/shop/ingress.yaml", INGRESS.format(name="shop", ns="shop", host="shop.example.com"))
    write("repo/blog/ingress.yaml",
          INGRESS.format(name="blog", ns="blog", host="blog.example.com") + "    - host: shop.example.com\n")
    write("repo/docs/ingress.yaml", INGRESS.format(name="docs", ns="docs", host="docs.example.com"))
    pol = tmp_path / "pol"
    shutil.copytree(library_path() / "gatekeeper" / "unique-ingress-host", pol)
    return pol


def test_inventory_sees_the_whole_tree(write: Write, tmp_path: Path) -> None:
    pol = _ingress_repo(write, tmp_path)
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(pol), "--checks", "policy")
    assert code == 1
    assert [(f[0], f[1]) for f in _findings(report)] == [("blog/ingress.yaml", 9), ("shop/ingress.yaml", 8)]


def test_inventory_is_whole_tree_when_only_changed_files_are_reported(write: Write, tmp_path: Path) -> None:
    pol = _ingress_repo(write, tmp_path)
    root = tmp_path / "repo"
    run = Run(root=root, paths=[root], config=Config(), checks=["policy"], options={"policy": [str(pol)]},
              report_paths={"blog/ingress.yaml"})
    report = execute(run)
    assert not report.errors
    assert [(f.path, f.line, f.message.split(" [")[0]) for f in report.findings] == [
        ("blog/ingress.yaml", 9, "ingress host conflicts with an existing ingress <shop.example.com>")]


def test_namespace_selector_uses_namespaces_in_the_tree(write: Write, tmp_path: Path) -> None:
    write("repo/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    tier: prod\n")
    _repo(write)
    write("repo/dev.yaml", deployment("big", "dev", 7))
    write("pol/template.yaml", TEMPLATE_V0)
    write("pol/constraint.yaml", constraint(extra="    namespaceSelector:\n      matchLabels:\n        tier: prod"))
    _, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert [(f[0], f[1]) for f in _findings(report)] == [("a.yaml", 7)]
