"""Audit regressions: fail-closed loading, malformed input shapes and secret-leak paths, each
found by running the real CLI on files in temp dirs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import PROJECT, run_cli, run_json

STARTER = str(PROJECT / "policies")

BROKEN_TEMPLATE = """
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8sunused}
spec:
  crd: {spec: {names: {kind: K8sUnused}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package k8sunused
      violation[{"msg": msg}] { msg := no_such_builtin(input.review) }
"""

CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: default}
data: {a: b}
"""


def _fake(seed: int) -> str:
    """A distinctive high-entropy fake credential, built at run time (deterministic per seed)."""
    import random
    import string

    pick = random.Random(seed)
    return "".join(pick.choice(string.ascii_letters + string.digits) for _ in range(32))


def _errors(report: dict[str, Any]) -> list[str]:
    return [str(e["message"]) for e in report["errors"]]


def test_template_without_constraints_with_broken_rego_fails_closed(
        tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    """A template no constraint uses was never compiled, so broken Rego in it passed (exit 0)."""
    write("m/cm.yaml", CONFIGMAP)
    write("pol/t.yaml", BROKEN_TEMPLATE)
    code, report = run_json(str(tmp_path / "m"), "--policy", str(tmp_path / "pol"))
    assert code == 2
    assert any("template k8sunused" in m and "t.yaml:spec.targets[0].rego:2" in m and "no_such_builtin" in m
               for m in _errors(report)), _errors(report)


def test_deeply_nested_documents_are_a_finding_not_an_internal_error(
        tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    """5,000 nested lists/maps made the schema validator and the policy input builder fail
    (internal errors); the loader now reports the document and checks never see it."""
    head = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: "
    write("m/lists.yaml", head + "[" * 5000 + "]" * 5000 + "\n")
    write("m/maps.yaml", "# deep\n# maps\n" + head + "{a: " * 5000 + "1" + "}" * 5000 + "\n")
    code, report = run_json(str(tmp_path / "m"), "--policy", STARTER)
    assert _errors(report) == []
    assert code == 1
    # Newer libyaml builds refuse the nesting themselves (at the deep line); older ones compose it
    # and the gate's own bound reports it at the document's start. Either way: a parse-error.
    got = sorted((f["path"], f["line"], f["rule"]) for f in report["findings"])
    assert got in ([("lists.yaml", 1, "parse-error"), ("maps.yaml", 3, "parse-error")],
                   [("lists.yaml", 4, "parse-error"), ("maps.yaml", 6, "parse-error")])
    assert all("more than 100 levels deep" in f["message"] or "maximum nesting depth" in f["message"]
               for f in report["findings"])


def test_nesting_within_the_limit_is_still_checked(tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    """The depth bound does not drop ordinary (even unusually deep) documents."""
    write("m/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\ndata: " + "[" * 90 + "]" * 90 + "\n")
    code, report = run_json(str(tmp_path / "m"), "--policy", STARTER, "--checks", "schema,lint,secrets,policy")
    assert _errors(report) == []
    assert code == 1
    assert [(f["line"], f["rule"], f["field"]) for f in report["findings"]] == [(4, "schema-type", "data")]


def test_metadata_that_is_a_list_does_not_break_constraint_matching(
        tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    """Gatekeeper constraint matching read metadata.name with .get() on a list (internal error)."""
    write("m/pod.yaml", """
        apiVersion: v1
        kind: Pod
        metadata: [a, b]
        spec: {containers: [{name: c, image: nginx}]}
        """)
    code, report = run_json(str(tmp_path / "m"), "--policy", STARTER)
    assert _errors(report) == []
    assert code == 1
    assert ("pod.yaml", 3, "schema-type", "metadata") in [
        (f["path"], f["line"], f["rule"], f["field"]) for f in report["findings"]]


def test_list_items_that_are_not_objects_are_reported(tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    """Scalars, lists and nulls inside ``kind: List`` were skipped silently (kubectl rejects them)."""
    write("m/list.yaml", """
        apiVersion: v1
        kind: List
        items:
        - 1
        - [a]
        - null
        - {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}
        """)
    code, report = run_json(str(tmp_path / "m"))
    assert code == 1
    assert _errors(report) == []
    assert [(f["line"], f["column"], f["rule"]) for f in report["findings"]] == [
        (4, 3, "missing-kind"), (5, 3, "missing-kind"), (6, 3, "missing-kind")]
    assert report["summary"]["resources"] == 1


def test_malformed_shapes_run_every_check_without_internal_errors(
        tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    """Wrong shapes everywhere are findings or nothing, never a check's internal error."""
    write("m/shapes.yaml", """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: s, namespace: x, labels: [a], annotations: "str"}
        spec:
          template:
            metadata: [x]
            spec:
              containers: {name: a}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        spec:
          containers:
          - {name: c, image: [x], env: "FOO=bar", securityContext: []}
          - "notdict"
          - null
        ---
        apiVersion: 5
        kind: [Pod]
        metadata: {name: n}
        ---
        just a string
        ---
        - a
        - b
        """)
    code, out = run_cli("check", str(tmp_path / "m"), "--policy", STARTER, "--format", "json")
    report = json.loads(out)
    assert _errors(report) == []
    assert code == 1
    found = {(f["line"], f["rule"], f["field"]) for f in report["findings"]}
    assert {(3, "schema-type", "metadata.labels"), (8, "schema-type", "spec.template.spec.containers"),
            (15, "schema-type", "spec.containers[0].env"), (16, "schema-type", "spec.containers[1]"),
            (19, "missing-kind", "")} <= found


ECHO_POLICY = """
package main
import rego.v1
deny contains msg if { input.kind == "Deployment"; msg := sprintf("object %v", [input]) }
deny contains msg if { input.db; msg := sprintf("values %v", [input]) }
"""

ECHO_TEMPLATE = """
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8secho}
spec:
  crd: {spec: {names: {kind: K8sEcho}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package k8secho
      import rego.v1
      violation contains {"msg": msg, "details": {"obj": input.review.object}} if {
        msg := sprintf("echo %v", [input.review.object])
      }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sEcho
metadata: {name: echo}
spec: {match: {kinds: [{apiGroups: [apps], kinds: [Deployment]}]}}
"""


def test_policy_messages_echoing_their_input_mask_detected_secrets(
        tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    """Only Secret data was redacted before policies ran, so a rule printing its whole input
    put env literals and Helm values passwords into every report."""
    env_value = _fake(1)
    helm_value = _fake(2)
    write("m/dep.yaml", f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: d, namespace: default}}
        spec:
          selector: {{matchLabels: {{a: b}}}}
          template:
            metadata: {{labels: {{a: b}}}}
            spec:
              containers:
              - name: c
                image: nginx
                env:
                - {{name: DB_PASSWORD, value: {env_value}}}
        """)
    write("m/values.yaml", f"db:\n  password: {helm_value}\n")
    write("pol/echo.rego", ECHO_POLICY)
    write("pol/echo.yaml", ECHO_TEMPLATE)
    outputs = []
    for fmt in ("json", "sarif", "text", "junit", "github", "markdown"):
        code, out = run_cli("check", str(tmp_path / "m"), "--policy", str(tmp_path / "pol"), "--format", fmt)
        assert code == 1
        outputs.append(out)
    report = json.loads(outputs[0])
    assert _errors(report) == []
    policy = sorted((f["path"], f["line"], f["rule"]) for f in report["findings"] if f["check"] == "policy")
    assert policy == [("dep.yaml", 1, "policy/K8sEcho/echo"), ("dep.yaml", 1, "policy/main/deny"),
                      ("values.yaml", 1, "policy/main/deny")]
    assert all("<redacted" in f["message"] for f in report["findings"] if f["check"] == "policy")
    for out in outputs:
        assert env_value not in out and helm_value not in out


def test_marshalled_input_is_masked_and_print_reaches_stderr() -> None:
    """``json.marshal(input)`` once failed inside the old engine (the rule came back undefined and
    the input was dumped to stderr). Now it evaluates; the secret value it echoes is masked in the
    report and ``print()`` output reaches stderr. A real process."""
    import tempfile

    from tests.conftest import run_subprocess

    value = _fake(3)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "m").mkdir()
        (root / "m" / "pod.yaml").write_text(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\nspec:\n  containers:\n"
            f"  - name: c\n    image: nginx\n    env: [{{name: DB_PASSWORD, value: {value}}}]\n", encoding="utf-8")
        (root / "pol").mkdir()
        (root / "pol" / "m.rego").write_text(
            'package main\nimport rego.v1\nwarn contains msg if { print("seen", input.kind); '
            "msg := json.marshal(input) }\n", encoding="utf-8")
        proc = run_subprocess("check", "m", "--policy", "pol", "--checks", "policy", "--format", "json", cwd=root)
    assert proc.returncode == 0
    assert value not in proc.stdout and value not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "m.rego:3: seen Pod" in proc.stderr
    report = json.loads(proc.stdout)
    [finding] = report["findings"]
    assert finding["rule"] == "policy/main/warn" and "<redacted" in finding["message"]
    assert '\\"kind\\":\\"Pod\\"' in json.dumps(finding["message"]) or '"kind":"Pod"' in finding["message"]


def test_check_error_with_every_report_in_a_file_is_said_on_stderr(
        tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    """With ``-o``/``FORMAT=FILE`` only, a failed-closed run exited 2 in silence."""
    from tests.conftest import run_subprocess

    write("m/cm.yaml", CONFIGMAP)
    write("pol/x.rego", "package main\ndeny[msg] { msg :=\n")
    proc = run_subprocess("check", "m", "--policy", "pol", "--format", "json", "-o", "out/r.json",
                          "--format", "sarif=out/r.sarif", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gatekeeper: 1 error(s), the run failed closed: policy: ")
    assert "pol/x.rego:2" in lines[0]
    assert json.loads((tmp_path / "out" / "r.json").read_text())["summary"]["errors"] == 1
    assert "x.rego" in (tmp_path / "out" / "r.sarif").read_text()


def test_every_format_exits_2_and_names_the_check_error(tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    write("m/cm.yaml", CONFIGMAP)
    write("pol/x.rego", "package main\ndeny[msg] { msg :=\n")
    for fmt in ("text", "json", "sarif", "junit", "github", "markdown"):
        code, out = run_cli("check", str(tmp_path / "m"), "--policy", str(tmp_path / "pol"), "--format", fmt)
        assert code == 2, fmt
        assert "x.rego:2: expecting }" in out, fmt


def test_env_value_with_a_type_error_is_still_scanned_and_masked(
        tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    """``env: [{name: API_KEY, value: [secret]}]`` (a schema type error) was skipped by the
    secrets scan, so nothing reported it and a policy echoing the container printed it."""
    value = _fake(4)
    write("m/pod.yaml", f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: p, namespace: default}}
        spec:
          containers:
          - name: c
            image: nginx
            env:
            - name: API_KEY
              value: [{value}]
        """)
    write("pol/echo.rego", """
        package main
        import rego.v1
        deny contains msg if { msg := sprintf("containers %v", [input.spec.containers]) }
        """)
    code, out = run_cli("check", str(tmp_path / "m"), "--policy", str(tmp_path / "pol"), "--format", "json")
    assert code == 1 and value not in out
    report = json.loads(out)
    assert _errors(report) == []
    got = {(f["line"], f["rule"], f["field"]) for f in report["findings"]}
    assert (10, "secret-keyword-entropy", "spec.containers[0].env[0].value[0]") in got
    assert (10, "schema-type", "spec.containers[0].env[0].value") in got
    echo = [f for f in report["findings"] if f["rule"] == "policy/main/deny"]
    assert len(echo) == 1 and "<redacted" in echo[0]["message"]


def test_verify_suite_with_mistyped_tests_is_a_clear_error(tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    """``tests: 5`` or ``cases: 7`` in a Gatekeeper Suite was an internal error (TypeError)."""
    from tests.conftest import run_subprocess

    head = "apiVersion: test.gatekeeper.sh/v1alpha1\nkind: Suite\nmetadata: {name: s}\n"
    for body, said in (("tests: 5\n", "v/suite.yaml:1: Suite tests must be a list of mappings"),
                       ("tests: [5]\n", "v/suite.yaml:1: Suite tests must be a list of mappings"),
                       ("tests: [{name: a, cases: 7}]\n", "v/suite.yaml:1: Suite test a: cases must be a list")):
        write("v/suite.yaml", head + body)
        proc = run_subprocess("verify", "v", cwd=tmp_path)
        assert proc.returncode == 2
        assert proc.stderr.splitlines() == [f"gatekeeper verify: {said}"]


FOO_TEMPLATE = """
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8sfoo}
spec:
  crd: {spec: {names: {kind: K8sFoo}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package k8sfoo
      violation[{"msg": "seen"}] { true }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sFoo
metadata: {name: x}
"""


def test_mistyped_constraint_spec_is_a_load_error_at_its_line(
        tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    """Mistyped ``spec.match`` fields were internal errors (AttributeError) or silently
    misread (a string of namespaces matched by character); the API server rejects them."""
    write("m/cm.yaml", CONFIGMAP)
    cases = [
        ('spec: {match: {kinds: "Pod"}}', "spec.match.kinds: 'Pod' is not of type 'array'"),
        ("spec: {match: {kinds: [5]}}", "spec.match.kinds[0]: 5 is not of type 'object'"),
        ('spec: {match: {namespaces: "default"}}', "spec.match.namespaces: 'default' is not of type 'array'"),
        ("spec: {match: {labelSelector: {matchExpressions: [5]}}}",
         "spec.match.labelSelector.matchExpressions[0]: 5 is not of type 'object'"),
        ("spec: {match: 5}", "spec.match: 5 is not of type 'object'"),
        ("spec: 5", "spec: 5 is not of type 'object'"),
    ]
    for spec, said in cases:
        write("pol/t.yaml", FOO_TEMPLATE + spec + "\n")
        code, report = run_json("m", "--policy", "pol", cwd=tmp_path)
        assert code == 2, spec
        assert _errors(report) == [f"pol/t.yaml:15: constraint K8sFoo/x: {said}"], (spec, _errors(report))
    write("pol/t.yaml", FOO_TEMPLATE + "spec: {match: null, enforcementAction: null}\n")
    code, report = run_json("m", "--policy", "pol", cwd=tmp_path)
    assert _errors(report) == []
    assert code == 1
    assert [(f["path"], f["line"], f["rule"]) for f in report["findings"]] == [("cm.yaml", 1, "policy/K8sFoo/x")]


def test_unreadable_schema_dir_file_is_a_load_error(tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    """A broken ``--schema-dir`` schema surfaced as ``internal error ... JSONDecodeError``."""
    write("m/w.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    write("sd/example.com/widget_v1.json", "{bad\n")
    code, report = run_json(str(tmp_path / "m"), "--schema-dir", str(tmp_path / "sd"), "--checks", "schema")
    assert code == 2
    assert _errors(report) == [f"schema {tmp_path / 'sd' / 'example.com' / 'widget_v1.json'} cannot be read "
                               "as JSON: JSONDecodeError"]
