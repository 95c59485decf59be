"""PolicyExceptions in pull requests: an honoured exception the change adds or edits is a finding
of its own (an error when it waives every policy or rule by wildcard), through real git and the
real CLI; unchanged exceptions and exceptions outside the exception namespaces give none."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_json
from tests.kyverno.helpers import rule_policy
from tests.pr.conftest import Repo

RULE = """
- name: no-privileged
  match: {any: [{resources: {kinds: [Pod]}}]}
  validate:
    message: privileged containers are not allowed
    pattern:
      spec:
        containers:
          - =(securityContext):
              =(privileged): "false"
"""
POD = """
apiVersion: v1
kind: Pod
metadata: {name: evil, namespace: prod}
spec:
  containers:
    - {name: c, image: "busybox:1.36", securityContext: {privileged: true}}
"""
NARROW = """
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: shipper, namespace: kyverno}
spec:
  exceptions:
    - {policyName: pods, ruleNames: [no-privileged]}
  match: {any: [{resources: {kinds: [Pod], namespaces: [monitoring], names: [shipper]}}]}
"""
SWEEPING = """
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: all, namespace: kyverno}
spec:
  exceptions: [{policyName: "*", ruleNames: ["*"]}]
  match: {any: [{resources: {kinds: ["*"]}}]}
"""


def rows(report: dict[str, object]) -> list[tuple[str, int, str, str, str, bool]]:
    return sorted((Path(f["path"]).name, f["line"], f["rule"], f["severity"], f["field"], bool(f["waived"]))
                  for f in report["findings"])  # type: ignore[attr-defined]


def test_an_exception_added_or_changed_by_the_change_is_a_finding(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write(".gatekeeper.yaml", "checks:\n  kyverno:\n    exception_namespaces: [kyverno]\n")
    repo.write("policies/pods.yaml", rule_policy(RULE, name="pods"))
    repo.write("apps/exceptions/shipper.yaml", NARROW)
    repo.write("apps/readme.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: readme, namespace: prod}\n")
    repo.commit("base")
    repo.write("apps/pod.yaml", POD)
    repo.write("apps/exceptions/all.yaml", SWEEPING)
    repo.write("apps/exceptions/stray.yaml", SWEEPING.replace("namespace: kyverno", "namespace: prod"))
    repo.commit("adds a privileged pod and the exception that waives it")
    code, report = run_json(".", "--base", "HEAD~1", "--checks", "kyverno", cwd=repo.path)
    assert code == 1
    assert rows(report) == [
        ("all.yaml", 5, "kyverno-exception-changed", "error", "spec.exceptions", False),
        ("pod.yaml", 6, "kyverno/pods/no-privileged", "error", "spec.containers[0].securityContext.privileged",
         True),
    ]
    [added] = [f for f in report["findings"] if f["rule"] == "kyverno-exception-changed"]
    assert added["message"] == ("PolicyException kyverno/all is new since the base and waives *: * "
                                "(every policy or rule, by wildcard)")
    assert any("PolicyException(s) not honoured (prod/all)" in n for n in report["notes"])

    repo.git("rm", "-q", "apps/exceptions/all.yaml", "apps/exceptions/stray.yaml")
    repo.commit("drops the sweeping exceptions")
    repo.write("apps/exceptions/shipper.yaml", NARROW.replace("names: [shipper]", "names: [shipper, evil]")
               .replace("namespaces: [monitoring]", "namespaces: [monitoring, prod]"))
    repo.commit("widens the narrow exception")
    code, report = run_json(".", "--base", "HEAD~1", "--checks", "kyverno", cwd=repo.path)
    assert code == 0  # a narrow exception is a warning, and it waives the pod
    assert rows(report) == [("shipper.yaml", 5, "kyverno-exception-changed", "warning", "spec.exceptions", False)]
    assert report["findings"][0]["message"] == ("PolicyException kyverno/shipper is changed since the base and "
                                                "waives pods: no-privileged")

    repo.write("apps/readme.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: readme, namespace: prod}\n"
                                   "data: {a: b}\n")
    repo.commit("an unrelated change")
    code, report = run_json(".", "--base", "HEAD~1", "--checks", "kyverno", cwd=repo.path)
    assert code == 0 and [f["rule"] for f in report["findings"]] == []  # the exception did not change
    code, report = run_json(".", "--checks", "kyverno", cwd=repo.path)
    assert code == 0 and [f["rule"] for f in report["findings"]] == ["kyverno/pods/no-privileged"]
