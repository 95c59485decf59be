"""PolicyExceptions as waivers, policies found in the scanned tree, a policies/ folder of Kyverno
policies on the first run, and policies Kyverno would reject (exit 2 naming file and line)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_json
from tests.kyverno.helpers import check, rule_policy

RULE = """
- name: no-host-path
  match: {any: [{resources: {kinds: [Pod]}}]}
  validate:
    message: no hostPath
    pattern:
      spec:
        =(volumes):
          - X(hostPath): "null"
"""
POD = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {ns}
spec:
  containers:
    - name: app
      image: nginx:1.27
  volumes:
    - name: host
      hostPath:
        path: /var/log
"""
EXCEPTION = """
apiVersion: kyverno.io/v2
kind: PolicyException
metadata:
  name: log-shippers
  namespace: monitoring
spec:
  exceptions:
    - policyName: pol
      ruleNames: [no-host-path, autogen-no-host-path]
  match:
    any:
      - resources:
          kinds: [Pod]
          namespaces: [monitoring]
"""


def test_policy_exception_waives_with_its_name(tmp_path: Path) -> None:
    docs = {"shipper": POD.format(name="shipper", ns="monitoring"), "app": POD.format(name="app", ns="shop"),
            "exception": EXCEPTION}
    code, report = check(tmp_path, rule_policy(RULE), docs)
    assert code == 1  # as in Kyverno, exceptions are off until their namespaces are configured
    assert [(Path(f["path"]).stem, f["waived"]) for f in report["findings"]] == [("app", None), ("shipper", None)]
    (tmp_path / ".gatekeeper.yaml").write_text("checks:\n  kyverno:\n    exception_namespaces: [kyverno]\n")
    code, report = check(tmp_path, rule_policy(RULE), docs)
    assert [f["waived"] for f in report["findings"]] == [None, None]  # monitoring is not an exception namespace
    assert any("1 PolicyException(s) not honoured (monitoring/log-shippers)" in n for n in report["notes"])
    (tmp_path / ".gatekeeper.yaml").write_text("checks:\n  kyverno:\n    exception_namespaces: [kyv*, monitoring]\n")
    code, report = check(tmp_path, rule_policy(RULE), docs)
    assert code == 1
    by_file = {Path(f["path"]).stem: f for f in report["findings"]}
    assert set(by_file) == {"shipper", "app"}
    assert by_file["app"]["waived"] is None
    waived = by_file["shipper"]["waived"]
    assert waived["reason"] == "PolicyException monitoring/log-shippers"
    assert waived["source"] == "exception.yaml:1"
    assert (by_file["shipper"]["line"], by_file["shipper"]["field"]) == (12, "spec.volumes[0].hostPath")
    del docs["app"]
    code, report = check(tmp_path, rule_policy(RULE), {**docs, "app": "apiVersion: v1\nkind: List\nitems: []\n"})
    assert code == 0 and len(report["findings"]) == 1


def test_policies_in_the_tree_apply_and_policies_dir_is_used_on_the_first_run(tmp_path: Path) -> None:
    (tmp_path / "clusters/prod").mkdir(parents=True)
    (tmp_path / "clusters/prod/policy.yaml").write_text(rule_policy(RULE, name="tree-policy"), encoding="utf-8")
    (tmp_path / "clusters/prod/pod.yaml").write_text(POD.format(name="app", ns="shop").lstrip(), encoding="utf-8")
    code, report = run_json(".", "--checks", "kyverno", cwd=tmp_path)
    assert code == 1
    assert [(f["path"], f["line"], f["rule"]) for f in report["findings"]] == [
        ("clusters/prod/pod.yaml", 12, "kyverno/tree-policy/no-host-path")]
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies/pol.yaml").write_text(rule_policy(RULE, name="dir-policy"), encoding="utf-8")
    code, report = run_json(".", cwd=tmp_path)  # every check, auto-discovered policies/
    assert not report["errors"], report["errors"]
    kyverno = sorted(f["rule"] for f in report["findings"] if f["check"] == "kyverno")
    assert kyverno == ["kyverno/dir-policy/no-host-path", "kyverno/tree-policy/no-host-path"]
    assert "policy: inactive (the policy directory holds Kyverno policies only (the kyverno check evaluates them))" \
        in report["notes"]
    code, out = run_cli("check", ".", "--checks", "kyverno,policy", "--policy", "policies", cwd=tmp_path)
    assert code == 1 and "kyverno/dir-policy/no-host-path" in out


@pytest.mark.parametrize(("rule", "line", "message"), [
    ("""
- name: bad-anchor
  match: {any: [{resources: {kinds: [Pod]}}]}
  validate:
    pattern:
      spec:
        ~(hostNetwork): "false"
""", 13, "unknown anchor in '~(hostNetwork)'"),
    ("""
- name: bad-operator
  match: {any: [{resources: {kinds: [Pod]}}]}
  validate:
    deny:
      conditions:
        any:
          - key: a
            operator: Contains
            value: a
""", 15, "unknown operator 'Contains'"),
    ("""
- name: bad-jmespath
  match: {any: [{resources: {kinds: [Pod]}}]}
  validate:
    message: "{{ request.object.metadata.[ }}"
    deny: {}
""", 11, "invalid JMESPath in {{request.object.metadata.[}}"),
    ("""
- name: no-validate
  match: {any: [{resources: {kinds: [Pod]}}]}
""", 8, "rule 'no-validate' has no validate, mutate, generate or verifyImages"),
    ("""
- name: mixed
  match: {any: [{resources: {kinds: [Pod]}}]}
  validate:
    pattern: {spec: {hostNetwork: false}}
    deny: {}
""", 10, "validate may hold only one of pattern, anyPattern, deny, foreach, podSecurity, cel (found pattern and deny)"),
    ("""
- name: add-anchor
  match: {any: [{resources: {kinds: [Pod]}}]}
  validate:
    pattern:
      metadata:
        +(labels): {}
""", 13, "the add anchor +() in '+(labels)' is only valid in mutate rules"),
])
def test_policies_kyverno_rejects_are_load_errors(tmp_path: Path, rule: str, line: int, message: str) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies/pol.yaml").write_text(rule_policy(rule), encoding="utf-8")
    (tmp_path / "pod.yaml").write_text(POD.format(name="app", ns="shop"), encoding="utf-8")
    code, out = run_cli("check", "pod.yaml", "--policy", "policies", "--checks", "kyverno", cwd=tmp_path)
    assert code == 2
    assert f"policies/pol.yaml:{line}: ClusterPolicy pol: " in out and message in out, out


def test_unevaluated_rule_kinds_are_listed_and_work_is_bounded(tmp_path: Path) -> None:
    rules = """
- name: add-label
  match: {any: [{resources: {kinds: [Pod]}}]}
  mutate:
    patchStrategicMerge:
      metadata:
        labels:
          +(team): none
- name: slow
  match: {any: [{resources: {kinds: [Pod]}}]}
  context:
    - name: many
      variable:
        value: "{{ range(`0`, `1`) }}"
        default: []
  validate:
    message: slow
    foreach:
      - list: "request.object.spec.volumes"
        foreach:
          - list: "request.object.spec.volumes"
            deny:
              conditions:
                any:
                  - key: "{{ length(request.object.metadata.annotations.big || '') }}"
                    operator: LessThan
                    value: -1
"""
    (tmp_path / ".gatekeeper.yaml").write_text("version: 1\nchecks:\n  kyverno:\n    budget: 0.05\n", encoding="utf-8")
    volumes = "".join(f"    - name: v{i}\n      emptyDir: {{}}\n" for i in range(3000))
    pod = textwrap.dedent(POD.format(name="big", ns="shop")).split("  volumes:")[0] + "  volumes:\n" + volumes
    _code, report = check(tmp_path, rule_policy(rules), {"big": pod})
    assert "kyverno: 1 rule(s) not evaluated offline: pol/add-label (mutate)" in report["notes"]
    errors = [f for f in report["findings"] if f["rule"] == "kyverno-rule-error"]
    assert len(errors) == 1 and "ran past its 0.05s budget" in errors[0]["message"]


def test_rule_config_and_waivers_take_kyverno_rule_ids(tmp_path: Path) -> None:
    (tmp_path / ".gatekeeper.yaml").write_text(
        "version: 1\nrules:\n  kyverno/pol/no-host-path: {severity: warning}\nwaivers:\n"
        "  - rule: kyverno/pol/no-host-path\n    match: {name: legacy}\n    reason: migrating off hostPath\n",
        encoding="utf-8")
    docs = {"app": POD.format(name="app", ns="shop"), "legacy": POD.format(name="legacy", ns="shop")}
    code, report = check(tmp_path, rule_policy(RULE), docs)
    assert code == 0
    got = sorted((Path(f["path"]).stem, f["severity"], (f["waived"] or {}).get("reason")) for f in report["findings"])
    assert got == [("app", "warning", None), ("legacy", "warning", "migrating off hostPath")]
