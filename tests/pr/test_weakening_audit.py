"""Every way a pull request can make the gate check less is reported against the base, as an error
in a pull request: configuration keys (each classified, derived from the schema), edited or
deleted policy files, and waiver annotations the change writes (found by an audit through the real
CLI and real git)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gatekeeper.checks import catalogue
from gatekeeper.config import config_schema
from gatekeeper.config_change import KEYS, schema_keys
from tests.conftest import run_cli
from tests.pr.conftest import GOOD_CM, Repo

DENY_UNLABELLED = """
package main
import rego.v1

deny contains msg if {
  input.kind == "ConfigMap"
  not input.metadata.labels.team
  msg := "ConfigMap needs a team label"
}
"""


def _check(repo: Repo, *args: str) -> tuple[int, dict[str, Any]]:
    code, out = run_cli("check", "--base", "HEAD~1", "--format", "json", *args, str(repo.path))
    return code, json.loads(out)


def _weakened(report: dict[str, Any]) -> list[tuple[str, int, str, str]]:
    return sorted((f["path"], f["line"], f["field"], f["severity"]) for f in report["findings"]
                  if f["rule"] == "config-weakened")


def test_every_config_key_has_a_weakening_classification() -> None:
    keys = set(schema_keys(config_schema(catalogue())))
    unclassified = sorted(keys - set(KEYS))
    assert not unclassified, (f"classify how a change of {unclassified} can make the gate check less in "
                              "gatekeeper/config_change.py KEYS")
    assert not set(KEYS) - keys, f"KEYS names keys the schema no longer has: {sorted(set(KEYS) - keys)}"


@pytest.mark.parametrize(("base", "head", "line", "field", "words"), [
    ("", "checks:\n  schema: {skip_kinds: [Deployment]}\n", 2, "checks.schema.skip_kinds[0]",
     "skips schema checks for 'Deployment'"),
    ("", "checks:\n  schema:\n    missing_schema: ignore\n", 3, "checks.schema.missing_schema",
     "lowers the severity for objects with no schema from 'warning' to 'ignore'"),
    ("", "checks:\n  schema:\n    strict: false\n", 3, "checks.schema.strict", "switches strict schema checking off"),
    ("kubernetes_version: '1.30'\n", "kubernetes_version: '1.27'\n", 1, "kubernetes_version",
     "lowers the target Kubernetes version from '1.30' to '1.27'"),
    ("", "rules:\n  host-path:\n    options: {sensitive_paths: []}\n", 3, "rules.host-path.options",
     "changes the options of rule host-path"),
    ("", "checks:\n  kyverno:\n    budget: 0.5\n", 3, "checks.kyverno.budget", "changes the Kyverno evaluation budget"),
    ("", "checks:\n  policy:\n    timeout: 60\n", 3, "checks.policy.timeout", "changes the policy evaluation timeout"),
    ("", "checks:\n  policy:\n    data: [other/data.yaml]\n", 3, "checks.policy.data", "changes the policy data files"),
])
def test_each_config_key_that_checks_less_is_an_error_at_its_line(repo: Repo, base: str, head: str, line: int,
                                                                  field: str, words: str) -> None:
    repo.write(".gatekeeper.yaml", "version: 1\n" + base)
    repo.write("apps/a.yaml", GOOD_CM.format(name="a"))
    repo.commit("base")
    repo.write(".gatekeeper.yaml", "version: 1\n" + head)
    repo.write("other/data.yaml", "allowed: [x]\n")
    repo.commit("head")
    code, report = _check(repo)
    assert _weakened(report) == [(".gatekeeper.yaml", line + 1, field, "error")]
    message = next(f["message"] for f in report["findings"] if f["rule"] == "config-weakened")
    assert words in message
    assert code == 1


@pytest.mark.parametrize(("config", "field"), [
    ("checks: {policy: {paths: [other]}}\n", "checks.policy.paths"),
    ("checks: {policy: {namespaces: [other]}}\n", "checks.policy.namespaces"),
])
def test_switching_the_policies_away_fails_the_pull_request(repo: Repo, config: str, field: str) -> None:
    repo.write("policies/main.rego", DENY_UNLABELLED)
    repo.write("policies/other.rego", 'package other\nimport rego.v1\ndeny contains msg if { false; msg := "x" }\n')
    repo.write("other/p.rego", 'package main\nimport rego.v1\nwarn contains msg if { false; msg := "x" }\n')
    repo.write(".gatekeeper.yaml", "version: 1\n")
    repo.write("apps/a.yaml", GOOD_CM.format(name="a").replace("data:", "  labels: {team: a}\ndata:"))
    repo.commit("base")
    repo.write(".gatekeeper.yaml", "version: 1\n" + config)
    repo.write("apps/cm.yaml", GOOD_CM.format(name="cm"))
    repo.commit("head")
    code, report = _check(repo)
    assert code == 1 and _weakened(report) == [(".gatekeeper.yaml", 2, field, "error")]


def test_stricter_configuration_and_new_policies_say_nothing(repo: Repo) -> None:
    repo.write(".gatekeeper.yaml", "version: 1\nkubernetes_version: '1.28'\n")
    repo.write("policies/main.rego", DENY_UNLABELLED)
    repo.write("apps/a.yaml", GOOD_CM.format(name="a").replace("data:", "  labels: {team: a}\ndata:"))
    repo.commit("base")
    repo.write(".gatekeeper.yaml", "version: 1\nkubernetes_version: '1.30'\n"
                                   "checks: {policy: {namespaces: [main, extra]}}\n")
    repo.write("policies/extra.rego", 'package extra\nimport rego.v1\ndeny contains msg if { false; msg := "x" }\n')
    # documentation is neither a policy nor a waiver, whatever it shows
    repo.write("policies/README.md", "How to add a policy\n")
    repo.write("docs/waivers.md", 'metadata:\n  annotations:\n    gatekeeper.io/ignore: "*"\n')
    repo.commit("head")
    code, report = _check(repo)
    assert _weakened(report) == [] and code == 0


def test_only_the_base_configuration_lowers_the_finding(repo: Repo) -> None:
    repo.write(".gatekeeper.yaml", "version: 1\n")
    repo.write("apps/a.yaml", GOOD_CM.format(name="a"))
    repo.commit("base")
    repo.write(".gatekeeper.yaml", "version: 1\nrules:\n  config-weakened: {severity: info}\n"
                                   "checks:\n  schema: {strict: false}\n")
    repo.commit("head lowers the finding about itself")
    code, report = _check(repo)
    assert _weakened(report) == [(".gatekeeper.yaml", 3, "rules.config-weakened.severity", "error"),
                                 (".gatekeeper.yaml", 5, "checks.schema.strict", "error")]
    assert code == 1
    repo.commit("the lowering is now the base")  # empty commit: base == head configuration
    repo.write(".gatekeeper.yaml", "version: 1\nrules:\n  config-weakened: {severity: info}\n"
                                   "checks:\n  schema: {strict: false, skip_kinds: [Pod]}\n")
    repo.commit("head")
    code, report = _check(repo)
    assert _weakened(report) == [(".gatekeeper.yaml", 5, "checks.schema.skip_kinds[0]", "info")] and code == 0


def test_a_staged_weakening_is_a_warning_for_pre_commit(repo: Repo) -> None:
    repo.write(".gatekeeper.yaml", "version: 1\n")
    repo.write("apps/a.yaml", GOOD_CM.format(name="a"))
    repo.commit("base")
    repo.write(".gatekeeper.yaml", "version: 1\nchecks:\n  schema: {strict: false}\n")
    repo.git("add", "-A")
    code, out = run_cli("check", "--staged", "--format", "json", str(repo.path))
    assert _weakened(json.loads(out)) == [(".gatekeeper.yaml", 3, "checks.schema.strict", "warning")]
    assert code == 0


def test_policy_files_the_change_edits_or_deletes_are_reported(repo: Repo) -> None:
    repo.write("policies/main.rego", DENY_UNLABELLED)
    repo.write("policies/lib.rego", "package main\nimport rego.v1\n\nallowed(x) if x == 1\n")
    repo.write("policies/gone.rego", 'package gone\nimport rego.v1\ndeny contains "x" if false\n')
    repo.write("deploy/kyverno.yaml", """
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata: {name: p}
        spec:
          validationFailureAction: Enforce
          rules:
            - name: team
              match: {any: [{resources: {kinds: [ConfigMap]}}]}
              validate:
                message: "team label"
                pattern: {metadata: {labels: {team: "?*"}}}
        """)
    repo.write("apps/a.yaml", GOOD_CM.format(name="a").replace("data:", "  labels: {team: a}\ndata:"))
    repo.commit("base")
    repo.write("policies/main.rego", DENY_UNLABELLED.replace("not input.metadata.labels.team",
                                                             "not input.metadata.labels.team\n  false"))
    (repo.path / "policies/gone.rego").unlink()
    repo.write("policies/widen.rego", "package main\nimport rego.v1\n\nallowed(_) if true\n")
    repo.write("policies/exc.rego", "package exc\nimport rego.v1\n\nexception contains rules if {\n"
                                    '  rules := ["x"]\n}\n')
    repo.write("policies/new.rego", 'package newpkg\nimport rego.v1\ndeny contains "y" if false\n')
    repo.write("deploy/kyverno.yaml", (repo.path / "deploy/kyverno.yaml").read_text().replace("Enforce", "Audit"))
    repo.commit("head")
    code, report = _check(repo)
    assert _weakened(report) == [("deploy/kyverno.yaml", 5, "", "error"),
                                 ("policies/exc.rego", 4, "", "error"),
                                 ("policies/gone.rego", 1, "", "error"),
                                 ("policies/main.rego", 7, "", "error"),
                                 ("policies/widen.rego", 1, "", "error")]
    messages = {f["path"]: f["message"] for f in report["findings"] if f["rule"] == "config-weakened"}
    assert "deletes the policy file policies/gone.rego" in messages["policies/gone.rego"]
    assert "existing policy package main" in messages["policies/widen.rego"]
    assert "exception rule" in messages["policies/exc.rego"]
    assert "judged by the policies it edits" in messages["policies/main.rego"]
    assert code == 1


POD_WAIVED = """
apiVersion: v1
kind: Pod
metadata:
  name: evil
  namespace: prod
  annotations:
    gatekeeper.io/ignore: "{rules}"
    gatekeeper.io/ignore-reason: "x"
spec:
  hostPID: true
  containers:
    - name: c
      image: busybox:1.36
      securityContext: {{privileged: true}}
      env:
        - {{name: DB_PASSWORD, value: "Xk9qW2eR7tY5uI3oP1aS"}}
"""


def test_a_waiver_annotation_added_by_the_change_is_an_error(repo: Repo) -> None:
    repo.write("apps/a.yaml", GOOD_CM.format(name="a"))
    repo.commit("base")
    repo.write("apps/pod.yaml", POD_WAIVED.format(rules="*"))
    repo.commit("head")
    code, report = _check(repo)
    assert _weakened(report) == [("apps/pod.yaml", 7, "metadata.annotations['gatekeeper.io/ignore']", "error")]
    message = next(f["message"] for f in report["findings"] if f["rule"] == "config-weakened")
    assert "adds the waiver annotation gatekeeper.io/ignore: * (every rule) with no expiry, no owner" in message
    # a wildcard never waives a committed credential: the secret counts, and the waiver is an error
    unwaived = sorted((f["rule"], f["line"]) for f in report["findings"] if not f["waived"])
    assert ("secret-env-literal", 16) in unwaived or any(r.startswith("secret-") and ln == 16 for r, ln in unwaived)
    assert ("waiver-wildcard-secret", 7) in unwaived
    assert code == 1


def test_a_moved_waiver_is_not_new_but_a_widened_one_is(repo: Repo) -> None:
    repo.write("apps/pod.yaml", POD_WAIVED.format(rules="privileged-container,host-pid").replace(
        '        - {name: DB_PASSWORD, value: "Xk9qW2eR7tY5uI3oP1aS"}\n', "").replace("      env:\n", ""))
    repo.commit("base")
    repo.git("mv", "apps/pod.yaml", "apps/moved.yaml")
    repo.commit("move")
    code, report = _check(repo)
    assert _weakened(report) == [] and code == 0
    text = (repo.path / "apps/moved.yaml").read_text().replace("privileged-container,host-pid",
                                                               "privileged-container,host-pid,image-latest")
    repo.write("apps/moved.yaml", text)
    repo.commit("widen")
    code, report = _check(repo)
    assert _weakened(report) == [("apps/moved.yaml", 7, "metadata.annotations['gatekeeper.io/ignore']", "error")]
    assert code == 1


SECRET = """
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
stringData:
  password: "Zq8#vL2!pW9@xR4$tK7&"
"""


def test_entries_the_change_adds_to_the_secrets_baseline_are_an_error(repo: Repo) -> None:
    repo.write("apps/a.yaml", GOOD_CM.format(name="a"))
    repo.commit("base")
    repo.write("apps/secret.yaml", SECRET)
    code, _ = run_cli("secrets", "baseline", "-o", str(repo.path / ".gatekeeper-baseline.json"), str(repo.path))
    assert code == 0
    repo.commit("head accepts its own credential")
    code, report = _check(repo)
    baselined = [f for f in report["findings"] if f["rule"].startswith("secret-")]
    assert baselined and all(f["baseline"] for f in baselined)
    assert _weakened(report) == [(".gatekeeper-baseline.json", 6, "", "error")]
    message = next(f["message"] for f in report["findings"] if f["rule"] == "config-weakened")
    assert "adds 1 accepted finding(s) to the baseline .gatekeeper-baseline.json" in message
    assert code == 1
