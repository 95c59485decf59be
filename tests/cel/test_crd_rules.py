"""CRD x-kubernetes-validations through the real CLI: failures at their lines, transition rules skipped
on create, messageExpression/fieldPath/reason, list-type uniqueness, escaping and formats, bad rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gatekeeper import cel
from gatekeeper.checks.schema import RULES
from tests.conftest import run_cli, run_json

pytestmark = pytest.mark.skipif(not cel.available(), reason="cel-expr-python needs Python 3.11+")

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: scalers.example.com
spec:
  group: example.com
  names: {kind: Scaler, plural: scalers}
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
              x-kubernetes-validations:
                - rule: self.minReplicas <= self.maxReplicas
                  messageExpression: "'minReplicas (' + string(self.minReplicas) + ') exceeds maxReplicas'"
                - rule: "!has(self.memory) || quantity(self.memory).isLessThan(quantity('4Gi'))"
                  message: memory must be under 4Gi
                  fieldPath: .memory
                  reason: FieldValueForbidden
              properties:
                minReplicas: {type: integer}
                maxReplicas: {type: integer}
                memory: {type: string}
                storage-class:
                  type: string
                  x-kubernetes-validations:
                    - rule: self == oldSelf
                      message: storage-class is immutable
                mode:
                  type: string
                  x-kubernetes-validations:
                    - rule: "!oldSelf.hasValue() || self == oldSelf.value()"
                      optionalOldSelf: true
                      message: mode is immutable
                    - rule: self in ['fast', 'slow']
                      message: mode must be fast or slow
                window:
                  type: object
                  properties:
                    since: {type: string, format: date-time}
                    every: {type: string, format: duration}
                  x-kubernetes-validations:
                    - rule: self.since > timestamp('2020-01-01T00:00:00Z') && self.every <= duration('1h')
                      message: window out of range
                ports:
                  type: array
                  x-kubernetes-list-type: map
                  x-kubernetes-list-map-keys: [name]
                  items:
                    type: object
                    properties:
                      name: {type: string}
                      port: {type: integer}
                    x-kubernetes-validations:
                      - rule: self.port > 0 && self.port < 65536
                        message: port out of range
            selector:
              type: object
              x-kubernetes-validations:
                - rule: self.match__dash__labels.size() > 0
                  message: match-labels must not be empty
              properties:
                match-labels:
                  type: object
                  additionalProperties: {type: string}
"""


def scaler(name: str, spec: str) -> str:
    return f"---\napiVersion: example.com/v1\nkind: Scaler\nmetadata:\n  name: {name}\nspec:\n{spec}"


def findings(report: dict[str, Any], rule: str = "schema-cel") -> list[tuple[int, str, str]]:
    return [(f["line"], f["resource"]["name"], f["message"]) for f in report["findings"] if f["rule"] == rule]


def test_only_violating_objects_are_flagged_at_their_lines(write: Callable[[str, str], Path],
                                                          tmp_path: Path) -> None:
    text = CRD + scaler("ok", "  minReplicas: 1\n  maxReplicas: 3\n  storage-class: fast\n  mode: fast\n") + \
        scaler("inverted", "  minReplicas: 5\n  maxReplicas: 2\n  storage-class: fast\n")
    write("scalers.yaml", text)
    code, report = run_json(str(tmp_path), "--checks", "schema")
    lines = text.splitlines()
    spec_of_inverted = [i for i, line in enumerate(lines, 1) if line == "spec:"][-1]
    assert code == 1
    assert findings(report) == [(spec_of_inverted, "inverted", "minReplicas (5) exceeds maxReplicas")]


def test_transition_rules_skip_on_create_and_optional_old_self_runs(write: Callable[[str, str], Path],
                                                                   tmp_path: Path) -> None:
    # storage-class (self == oldSelf) never runs on create; mode's optionalOldSelf rule runs with none
    write("s.yaml", CRD + scaler("a", "  minReplicas: 1\n  maxReplicas: 1\n  storage-class: x\n  mode: slow\n"))
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 0, report["findings"]
    write("s.yaml", CRD + scaler("a", "  minReplicas: 1\n  maxReplicas: 1\n  mode: medium\n"))
    code, report = run_json(str(tmp_path), "--checks", "schema")
    mode_line = (CRD + scaler("a", "  minReplicas: 1\n  maxReplicas: 1\n  mode: medium\n")).splitlines() \
        .index("  mode: medium") + 1
    assert findings(report) == [(mode_line, "a", "mode must be fast or slow")]


def test_field_path_reason_items_formats_escapes_and_list_keys(write: Callable[[str, str], Path],
                                                              tmp_path: Path) -> None:
    spec = ("  minReplicas: 1\n  maxReplicas: 2\n  memory: 8Gi\n"
            "  window:\n    since: '2019-05-01T00:00:00Z'\n    every: 2h\n"
            "  ports:\n    - name: http\n      port: 80\n    - name: http\n      port: 70000\n")
    text = CRD + scaler("b", spec) + "selector:\n  match-labels: {}\n"
    write("s.yaml", text)
    _, report = run_json(str(tmp_path), "--checks", "schema")
    lines = text.splitlines()

    def line_of(snippet: str, after: int = 0) -> int:
        return next(i for i, line in enumerate(lines, 1) if i > after and line.strip().startswith(snippet))

    start = line_of("name: b")
    assert findings(report) == [
        (line_of("memory: 8Gi"), "b", "memory must be under 4Gi (reason: FieldValueForbidden)"),
        (line_of("window:", start), "b", "window out of range"),
        (line_of("- name: http", line_of("- name: http", start)), "b", "port out of range"),
        (line_of("selector:", start), "b", "match-labels must not be empty"),
    ]
    duplicate = findings(report, "schema-value")
    assert [d[0] for d in duplicate] == [line_of("- name: http", line_of("- name: http", start))]
    assert "x-kubernetes-list-type: map" in duplicate[0][2]


def test_runtime_error_is_an_error_finding_and_cost_overrun_is_a_finding(write: Callable[[str, str], Path],
                                                                        tmp_path: Path) -> None:
    crd = CRD.replace("- rule: self.minReplicas <= self.maxReplicas",
                      "- rule: self.minReplicas / self.maxReplicas >= 0\n"
                      "                - rule: self.items.all(a, self.items.all(b, self.items.all(c, true)))")
    crd = crd.replace("memory: {type: string}", "memory: {type: string}\n                items: {type: array, "
                      "items: {type: integer}}")
    items = "[" + ", ".join(str(i) for i in range(40)) + "]"
    write("s.yaml", crd + scaler("z", f"  minReplicas: 1\n  maxReplicas: 0\n  items: {items}\n"))
    _, report = run_json(str(tmp_path), "--checks", "schema")
    messages = [m for _line, _name, m in findings(report)]
    assert any(m.startswith("rule could not be evaluated: divide by zero") for m in messages)
    assert any("cost budget" in m for m in messages)


def test_rule_that_does_not_compile_fails_the_run_naming_file_and_line(write: Callable[[str, str], Path],
                                                                      tmp_path: Path) -> None:
    text = CRD.replace("- rule: self.minReplicas <= self.maxReplicas", "- rule: self.minReplicas <=")
    write("crd.yaml", text)
    code, out = run_cli("check", str(tmp_path), "--checks", "schema")
    rule_line = text.splitlines().index("                - rule: self.minReplicas <=") + 1
    assert code == 2
    assert f"crd.yaml:{rule_line}: x-kubernetes-validations rule of Scaler (example.com/v1) does not compile" in out
    assert "Syntax error" in out


def test_rule_nested_beyond_the_limit_is_a_finding_at_the_crd(write: Callable[[str, str], Path],
                                                              tmp_path: Path) -> None:
    deep = "(" * 40 + "true" + ")" * 40
    text = CRD.replace("- rule: self.minReplicas <= self.maxReplicas", f"- rule: '{deep}'")
    write("crd.yaml", text)
    code, report = run_json(str(tmp_path), "--checks", "schema")
    rule_line = next(i for i, line in enumerate(text.splitlines(), 1) if deep in line)
    assert code == 1
    assert findings(report) == [(rule_line, "scalers.example.com",
                                 "x-kubernetes-validations rule: expression nests deeper than the engine's "
                                 "limit of 32 levels")]


def test_rule_examples_run_through_the_pipeline(tmp_path: Path) -> None:
    rule = RULES["schema-cel"]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.yaml").write_text(rule.bad_example)
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "x.yaml").write_text(rule.good_example)
    _, bad = run_json(str(tmp_path / "bad"), "--checks", "schema")
    _, good = run_json(str(tmp_path / "good"), "--checks", "schema")
    assert [f["rule"] for f in bad["findings"]] == ["schema-cel"]
    assert good["findings"] == []
