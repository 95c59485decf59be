"""A run's conftest modules and its templates' Rego are read in one pass behind the boundary
(``modules.preload``): one fork of the gate's process instead of one per policy set, with every
load error still reported by the step that reports it without the pass ahead."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.rego import modules as modules_mod
from tests.conftest import run_json

Write = Callable[[str, str], Path]

TEMPLATE = """apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8sowner}
spec:
  crd: {spec: {names: {kind: K8sOwner}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sowner
        # MARK
        violation[{"msg": "no owner"}] { not input.review.object.metadata.labels.owner }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sOwner
metadata: {name: owner}
spec:
  match: {kinds: [{apiGroups: [""], kinds: ["ConfigMap"]}]}
"""
CONFTEST = ('package main\nimport rego.v1\n# MARK\n'
            'deny contains "no data" if { input.kind == "ConfigMap"; not input.data }\n')


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What each pass behind the boundary read or did (the first task's description)."""
    seen: list[str] = []
    original = modules_mod.boundary.run

    def counting(count: int, work: Any, describe: Any, limits: Any) -> Any:
        seen.append(describe(0, 0) if count else "")
        return original(count, work, describe, limits)

    monkeypatch.setattr(modules_mod.boundary, "run", counting)
    return seen


def _tree(write: Write, conftest: str, template: str) -> None:
    mark = uuid.uuid4().hex  # texts no earlier test read (loaded modules are remembered per process)
    write("pol/main.rego", conftest.replace("MARK", mark))
    write("pol/t.yaml", template.replace("MARK", mark))
    write("repo/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: shop}\n")


def test_conftest_modules_and_templates_are_read_in_one_pass(write: Write, tmp_path: Path,
                                                             passes: list[str]) -> None:
    _tree(write, CONFTEST, TEMPLATE)
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert code == 1
    assert sorted(f["message"] for f in report["findings"]) == ["no data", "no owner [K8sOwner/owner]"]
    reading = [p for p in passes if p.endswith("reading the Rego module")]
    assert len(reading) == 1, passes


@pytest.mark.parametrize(("conftest", "template", "named"), [
    (CONFTEST.replace("deny contains", "deny contains {"), TEMPLATE, "main.rego"),
    (CONFTEST, TEMPLATE.replace('violation[{"msg"', 'violation[[{"msg"'), "t.yaml:spec.targets[0].rego"),
    (CONFTEST.replace("deny contains", "deny contains {"), TEMPLATE.replace("violation[{", "violation[[{"),
     "main.rego"),  # both broken: the conftest module is read first, as without the pass ahead
])
def test_a_module_that_cannot_be_read_is_reported_by_its_own_step(write: Write, tmp_path: Path, conftest: str,
                                                                  template: str, named: str) -> None:
    _tree(write, conftest, template)
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert code == 2
    first = report["errors"][0]
    assert first["check"] == "policy" and named in first["message"], report["errors"]
