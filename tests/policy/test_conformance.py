"""Our own v0-style Gatekeeper templates (tests/policy/conformance) pass unchanged, with OPA's results;
Suite files are read as gator reads them and may only reference regular files in their tree."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import run_subprocess

Write = Callable[[str, str], Path]
HERE = Path(__file__).resolve().parent


def test_conformance_suite_passes_unchanged() -> None:
    proc = run_subprocess("verify", str(HERE / "conformance"), "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert (report["passed"], report["failed"]) == (18, 0)


SUITE = """apiVersion: test.gatekeeper.sh/v1alpha1
kind: Suite
tests:
  - name: t
    template: {template}
    constraint: c.yaml
    cases:
      - name: c
        object: {object}
        assertions: [{{violations: {violations}}}]
"""
TEMPLATE = """apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8stwo}
spec:
  crd: {spec: {names: {kind: K8sTwo}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8stwo
        violation[{"msg": "one"}] { true }
        violation[{"msg": "two"}] { true }
"""
CONSTRAINT = "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sTwo\nmetadata: {name: two}\n"
OBJECT = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"


def _suite(write: Write, template: str = "t.yaml", obj: str = "o.yaml", violations: str = "yes") -> None:
    write("s/t.yaml", TEMPLATE)
    write("s/c.yaml", CONSTRAINT)
    write("s/o.yaml", OBJECT)
    write("s/suite.yaml", SUITE.format(template=template, object=obj, violations=violations))


def test_violations_yes_and_no_are_read_as_gator_reads_them(write: Write, tmp_path: Path) -> None:
    """``violations: yes`` loads as the boolean true and was compared as the count 1."""
    for violations, code in (("yes", 0), ("true", 0), ("2", 0), ('"2"', 0), ("no", 1), ("false", 1), ("1", 1)):
        _suite(write, violations=violations)
        proc = run_subprocess("verify", str(tmp_path / "s"))
        assert proc.returncode == code, (violations, proc.stdout, proc.stderr)
    _suite(write, violations="maybe")
    proc = run_subprocess("verify", str(tmp_path / "s"))
    assert proc.returncode == 2 and "violations must be yes, no or a count, not 'maybe'" in proc.stderr


def test_suite_references_stay_inside_the_suite_tree(write: Write, tmp_path: Path) -> None:
    write("outside.yaml", OBJECT)
    for obj, said in (("../outside.yaml", "points outside the suite's directory"),
                      ("/dev/zero", "points outside the suite's directory"),
                      ("/etc/passwd", "points outside the suite's directory"),
                      ("samples", "is not a regular file")):
        _suite(write, obj=obj)
        (tmp_path / "s" / "samples").mkdir(exist_ok=True)
        proc = run_subprocess("verify", str(tmp_path / "s"), timeout=60)
        assert proc.returncode == 2, (obj, proc.stdout, proc.stderr)
        assert f"object {obj!r} {said}" in proc.stderr, (obj, proc.stderr)
    (tmp_path / "s" / "link.yaml").symlink_to("/dev/zero")
    _suite(write, template="link.yaml")
    proc = run_subprocess("verify", str(tmp_path / "s"), timeout=60)
    assert proc.returncode == 2 and "template 'link.yaml' points outside the suite's directory" in proc.stderr
