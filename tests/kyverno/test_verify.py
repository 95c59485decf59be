"""``kyverno test`` files in ``gatekeeper verify``: pass/fail/skip per (policy, rule, resource),
mutate/generate/verifyImages results skipped (never passed), JSON counting every result."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.kyverno.helpers import rule_policy

RULES = """
- name: require-team
  match: {any: [{resources: {kinds: [ConfigMap]}}]}
  preconditions:
    all:
      - key: "{{ request.object.metadata.labels.skip || '' }}"
        operator: NotEquals
        value: "yes"
  validate:
    message: team label required
    pattern:
      metadata:
        labels:
          team: "?*"
- name: add-owner
  match: {any: [{resources: {kinds: [ConfigMap]}}]}
  mutate:
    patchStrategicMerge:
      metadata:
        labels:
          +(owner): platform
"""
RESOURCES = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: labelled
  namespace: shop
  labels: {team: shop}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: bare
  namespace: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: skipped
  labels: {skip: "yes"}
---
apiVersion: v1
kind: Secret
metadata:
  name: bare
  namespace: shop
"""


def _test_file(results: str) -> str:
    return ("apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: team\npolicies:\n  - policy.yaml\n"
            f"resources:\n  - resources.yaml\nresults:\n{results}")


def _write(tmp_path: Path, results: str) -> Path:
    folder = tmp_path / "pol" / ".kyverno-test"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.yaml").write_text(rule_policy(RULES, name="team-label"), encoding="utf-8")
    (folder / "resources.yaml").write_text(RESOURCES.lstrip(), encoding="utf-8")
    (folder / "kyverno-test.yaml").write_text(_test_file(results), encoding="utf-8")
    return tmp_path / "pol"


GOOD = """
  - policy: team-label
    rule: require-team
    kind: ConfigMap
    resources: [shop/labelled]
    result: pass
  - policy: team-label
    rule: require-team
    resources: [bare]
    kind: ConfigMap
    result: fail
  - policy: team-label
    rule: require-team
    resource: skipped
    result: skip
  - policy: team-label
    rule: add-owner
    resources: [labelled, bare]
    kind: ConfigMap
    result: pass
"""


def test_kyverno_test_file_passes_and_counts_every_result(tmp_path: Path) -> None:
    target = _write(tmp_path, GOOD)
    code, out = run_cli("verify", str(target))
    assert code == 0, out
    assert out.splitlines()[-1] == "PASS: 3 passed, 0 failed, 2 skipped"
    code, out = run_cli("verify", str(target), "--format", "json")
    report = json.loads(out)
    assert (report["passed"], report["failed"], report["skipped"]) == (3, 0, 2)
    cases = {c["case"]: c for c in report["cases"]}
    assert set(cases) == {"team-label/require-team/shop/labelled", "team-label/require-team/bare",
                          "team-label/require-team/skipped", "team-label/add-owner/labelled",
                          "team-label/add-owner/bare"}
    mutate = cases["team-label/add-owner/bare"]
    assert mutate["skipped"] and "mutate rules are not evaluated offline" in mutate["message"]


def test_mismatches_are_failures_at_the_result_line(tmp_path: Path) -> None:
    wrong = GOOD.replace("resources: [bare]\n    kind: ConfigMap\n    result: fail",
                         "resources: [bare]\n    kind: ConfigMap\n    result: pass")
    wrong += """  - policy: team-label
    rule: require-team
    resources: [missing]
    result: pass
  - policy: team-label
    rule: no-such-rule
    resources: [bare]
    result: pass
"""
    target = _write(tmp_path, wrong)
    code, out = run_cli("verify", str(target), "--run", "require-team/bare|missing|no-such")
    assert code == 1
    lines = out.splitlines()
    test_file = "pol/.kyverno-test/kyverno-test.yaml"
    assert any(line.startswith("FAIL") and f"{test_file}:16" in line and "require-team/bare" in line for line in lines)
    assert "      want pass, got fail: validation error: team label required. rule require-team failed at path " \
           "/metadata/labels/" in lines
    assert "      resource 'missing' is not in the test's resources" in lines
    assert "      policy team-label has no rule 'no-such-rule'" in lines
    assert lines[-1] == "FAIL: 0 passed, 3 failed, 0 skipped"


def test_broken_test_files_are_load_errors(tmp_path: Path) -> None:
    target = _write(tmp_path, GOOD.replace("result: skip", "result: maybe"))
    code, out = run_cli("verify", str(target))
    assert code == 2 and "kyverno-test.yaml:21: Test team: result must be one of" in out
    target = _write(tmp_path, GOOD)
    (target / ".kyverno-test" / "policy.yaml").write_text(rule_policy("""
- name: broken
  match: {any: [{resources: {kinds: [ConfigMap]}}]}
  validate:
    deny:
      conditions:
        any: [{key: a, operator: Like, value: b}]
"""), encoding="utf-8")
    code, _out = run_cli("verify", str(target))
    assert code == 2
