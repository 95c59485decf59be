"""The conftest dialect through the real CLI: rules, severities, locations, namespaces, exceptions."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import run_json, run_subprocess

Write = Callable[[str, str], Path]

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 5
  template:
    spec:
      containers:
        - name: web
          image: nginx:latest
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  type: LoadBalancer
"""

POLICY = """
package main
import rego.v1

deny contains msg if {
  input.kind == "Deployment"
  input.spec.replicas > 3
  msg := sprintf("%s: too many replicas", [input.metadata.name])
}

deny_image_tag contains {"msg": "latest tag", "field": "spec.template.spec.containers[0].image"} if {
  endswith(input.spec.template.spec.containers[0].image, ":latest")
}

warn contains {"msg": "public service", "_loc": ["spec", "type"], "owner": "net"} if {
  input.spec.type == "LoadBalancer"
}
"""


def _findings(report: dict[str, Any], check: str = "policy") -> list[tuple[str, int, str, str, str]]:
    return [(f["path"], f["line"], f["rule"], f["severity"], f["message"])
            for f in report["findings"] if f["check"] == check]


def _setup(write: Write, tmp_path: Path, policy: str = POLICY) -> tuple[str, str]:
    write("repo/app.yaml", DEPLOYMENT)
    write("pol/main.rego", policy)
    return str(tmp_path / "repo"), str(tmp_path / "pol")


def test_rules_severities_and_lines(write: Write, tmp_path: Path) -> None:
    repo, pol = _setup(write, tmp_path)
    code, report = run_json(repo, "--policy", pol, "--checks", "policy")
    assert code == 1
    assert _findings(report) == [
        ("app.yaml", 1, "policy/main/deny", "error", "web: too many replicas"),
        ("app.yaml", 12, "policy/main/deny_image_tag", "error", "latest tag"),
        ("app.yaml", 20, "policy/main/warn", "warning", "public service"),
    ]
    by_rule = {f["rule"]: f for f in report["findings"]}
    assert by_rule["policy/main/deny_image_tag"]["field"] == "spec.template.spec.containers[0].image"
    assert by_rule["policy/main/warn"]["resource"]["kind"] == "Service"
    assert by_rule["policy/main/deny"]["resource"]["name"] == "web"


def test_warnings_only_pass_by_default(write: Write, tmp_path: Path) -> None:
    repo, pol = _setup(write, tmp_path, POLICY.replace("input.spec.replicas > 3", "input.spec.replicas > 30")
                       .replace('endswith(', 'startswith('))
    code, report = run_json(repo, "--policy", pol, "--checks", "policy")
    assert code == 0
    assert [f[2] for f in _findings(report)] == ["policy/main/warn"]


def test_exception_waives_the_named_rule(write: Write, tmp_path: Path) -> None:
    policy = POLICY + '\nexception contains ["image_tag"] if input.metadata.name == "web"\n'
    repo, pol = _setup(write, tmp_path, policy)
    code, report = run_json(repo, "--policy", pol, "--checks", "policy")
    waived = [f for f in report["findings"] if f["waived"]]
    assert [(f["rule"], f["line"]) for f in waived] == [("policy/main/deny_image_tag", 12)]
    assert waived[0]["waived"]["source"] == "data.main.exception"
    assert code == 1  # the plain deny still counts


def test_v0_and_v1_policies_give_identical_findings(write: Write, tmp_path: Path) -> None:
    v0 = """
package main

deny[msg] {
  input.kind == "Deployment"
  input.spec.replicas > 3
  msg := sprintf("%s: too many replicas", [input.metadata.name])
}

deny_image_tag[{"msg": "latest tag", "field": "spec.template.spec.containers[0].image"}] {
  endswith(input.spec.template.spec.containers[0].image, ":latest")
}

warn[{"msg": "public service", "_loc": ["spec", "type"], "owner": "net"}] {
  input.spec.type == "LoadBalancer"
}
"""
    repo, pol = _setup(write, tmp_path)
    write("pol0/main.rego", v0)
    _, with_v1 = run_json(repo, "--policy", pol, "--checks", "policy")
    _, with_v0 = run_json(repo, "--policy", str(tmp_path / "pol0"), "--checks", "policy")
    _, forced = run_json(repo, "--policy", str(tmp_path / "pol0"), "--checks", "policy", "--rego-version", "v0")
    assert _findings(with_v0) == _findings(with_v1) == _findings(forced)
    assert len(_findings(with_v1)) == 3
    code, refused = run_json(repo, "--policy", str(tmp_path / "pol0"), "--checks", "policy",
                             "--rego-version", "v1")
    assert code == 2
    assert "Rego v0 rule heads" in refused["errors"][0]["message"]


def test_namespaces_globs_and_all_namespaces(write: Write, tmp_path: Path) -> None:
    repo, _ = _setup(write, tmp_path)
    write("ns/a.rego", 'package team.a\nimport rego.v1\ndeny contains "a" if input.kind == "Service"\n')
    write("ns/b.rego", 'package team.b\nimport rego.v1\nwarn contains "b" if input.kind == "Service"\n')
    write("ns/other.rego", 'package other\nimport rego.v1\ndeny contains "o" if input.kind == "Service"\n')
    pol = str(tmp_path / "ns")
    _, report = run_json(repo, "--policy", pol, "--checks", "policy", "--namespace", "team.*")
    assert sorted(f[2] for f in _findings(report)) == ["policy/team.a/deny", "policy/team.b/warn"]
    _, report = run_json(repo, "--policy", pol, "--checks", "policy", "--all-namespaces")
    assert len(_findings(report)) == 3
    code, report = run_json(repo, "--policy", pol, "--checks", "policy", "--namespace", "teams.*")
    assert code == 2
    assert "'teams.*' matches no package" in report["errors"][0]["message"]
    code, report = run_json(repo, "--policy", pol, "--checks", "policy")  # default main: nothing there
    assert code == 2
    assert "'main' matches no package" in report["errors"][0]["message"]


def test_data_files_and_conftest_file(write: Write, tmp_path: Path) -> None:
    policy = ('package main\nimport rego.v1\ndeny contains msg if {\n  input.spec.replicas > data.limits.replicas\n'
              '  msg := sprintf("%s in %s", [data.conftest.file.name, data.conftest.file.dir])\n}\n')
    write("repo/apps/app.yaml", DEPLOYMENT)
    write("pol/main.rego", policy)
    limits = write("limits.yaml", "limits:\n  replicas: 2\n")
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--data", str(limits),
                            "--checks", "policy")
    assert code == 1
    assert _findings(report) == [("apps/app.yaml", 1, "policy/main/deny", "error", "apps/app.yaml in apps")]


def test_combine_sees_every_document(write: Write, tmp_path: Path) -> None:
    policy = ('package main\nimport rego.v1\n'
              'deny contains {"msg": msg, "file": doc.path, "document": doc.document} if {\n'
              '  some doc in input\n  doc.contents.kind == "Service"\n'
              '  count([d | some d in input; d.contents.kind == "Deployment"]) > 0\n'
              '  msg := sprintf("%d documents", [count(input)])\n}\n')
    write("repo/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    write("repo/b.yaml", DEPLOYMENT)
    write("pol/main.rego", policy)
    _, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--combine",
                         "--checks", "policy")
    assert _findings(report) == [("b.yaml", 14, "policy/main/deny", "error", "3 documents")]


def test_inactive_without_policy_dir_and_error_for_empty_dir(write: Write, tmp_path: Path) -> None:
    write("repo/app.yaml", DEPLOYMENT)
    code, report = run_json(str(tmp_path / "repo"), "--checks", "policy")
    assert code == 2  # the only check selected did not run: nothing was checked
    assert report["errors"][0]["message"].startswith("nothing was checked: no check ran")
    code, report = run_json(str(tmp_path / "repo"), "--checks", "policy", "--allow-empty")
    assert code == 0
    assert any(n.startswith("policy: inactive (no policy directory") for n in report["notes"])
    (tmp_path / "empty").mkdir()
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "empty"), "--checks", "policy")
    assert code == 2
    assert "loads no rules" in report["errors"][0]["message"]


def test_default_policies_dir_in_scanned_root_is_used_and_not_checked_itself(write: Write, tmp_path: Path) -> None:
    write("repo/app.yaml", DEPLOYMENT)
    write("repo/policies/main.rego", POLICY)
    write("repo/policies/fixture.yaml", DEPLOYMENT)  # a policy-side file is never an input
    _, report = run_json(str(tmp_path / "repo"), "--checks", "policy")
    assert {f[0] for f in _findings(report)} == {"app.yaml"}


def test_broken_policy_fails_closed(write: Write, tmp_path: Path) -> None:
    repo, pol = _setup(write, tmp_path, "package main\nimport rego.v1\n\ndeny contains m if {\n  m := \n}\n")
    code, report = run_json(repo, "--policy", pol, "--checks", "policy")
    assert code == 2
    assert "main.rego:5" in report["errors"][0]["message"]


def test_conflicting_values_fail_closed(write: Write, tmp_path: Path) -> None:
    policy = ('package main\nimport rego.v1\nlevel := 1 if input.kind == "Service"\n'
              'level := 2 if input.kind == "Service"\ndeny contains "x" if level == 3\n')
    repo, pol = _setup(write, tmp_path, policy)
    code, report = run_json(repo, "--policy", pol, "--checks", "policy")
    assert code == 2
    assert "main.rego:4: rule level: rule conflicts with rule at" in report["errors"][0]["message"]


def test_print_in_policy_never_corrupts_json_stdout(write: Write, tmp_path: Path) -> None:
    policy = 'package main\nimport rego.v1\ndeny contains "d" if {\n  print("debug", input.kind)\n  true\n}\n'
    repo, pol = _setup(write, tmp_path, policy)
    proc = run_subprocess("check", repo, "--policy", pol, "--checks", "policy", "--format", "json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert len(report["findings"]) == 2
    assert "debug" in proc.stderr


def test_secret_values_never_reach_a_policy(write: Write, tmp_path: Path) -> None:
    secret = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\n"
              "stringData:\n  password: hunter2-Zq8Lr5Tw\ndata:\n  token: c2VjcmV0LXRva2VuLXZhbHVl\n")
    write("repo/secret.yaml", secret)
    write("pol/main.rego", 'package main\nimport rego.v1\ndeny contains sprintf("%v %v", [input.stringData, '
                           'input.data]) if input.kind == "Secret"\n')
    write("gk/template.yaml", """
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8secho
spec:
  crd:
    spec:
      names:
        kind: K8sEcho
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8secho
        violation[{"msg": sprintf("%v", [input.review.object.stringData])}] { true }
""")
    write("gk/constraint.yaml", "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sEcho\nmetadata:\n"
                                "  name: echo\n")
    proc = run_subprocess("check", str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--policy",
                          str(tmp_path / "gk"), "--checks", "policy", "--format", "json")
    assert proc.returncode == 1
    assert "hunter2" not in proc.stdout + proc.stderr
    assert "c2VjcmV0" not in proc.stdout + proc.stderr
    messages = [f["message"] for f in json.loads(proc.stdout)["findings"]]
    assert len(messages) == 2
    assert all("<redacted: 16 characters>" in m for m in messages)


def test_config_section_and_policy_rule_overrides(write: Write, tmp_path: Path) -> None:
    write("repo/app.yaml", DEPLOYMENT)
    write("repo/rules/team.rego", POLICY.replace("package main", "package team"))
    write("repo/.gatekeeper.yaml", """
version: 1
checks:
  policy:
    paths: [rules]
    namespaces: [team]
rules:
  policy/team/warn: {severity: error}
  policy/team/deny_image_tag: {enabled: false}
""")
    code, report = run_json(str(tmp_path / "repo"), "--checks", "policy")
    assert code == 1
    assert [(f[1], f[2], f[3]) for f in _findings(report)] == [
        (1, "policy/team/deny", "error"), (20, "policy/team/warn", "error")]


def test_config_policy_dir_that_does_not_exist_is_an_error(write: Write, tmp_path: Path) -> None:
    write("repo/app.yaml", DEPLOYMENT)
    write("repo/.gatekeeper.yaml", "version: 1\nchecks:\n  policy:\n    paths: [nope]\n")
    code, report = run_json(str(tmp_path / "repo"), "--checks", "policy")
    assert code == 2
    assert "policy directory" in report["errors"][0]["message"] and "does not exist" in report["errors"][0]["message"]
