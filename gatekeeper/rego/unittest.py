"""Rego unit tests: every ``test_*`` rule of a ``*_test.rego`` module must be true.

The tests are compiled together with the policies they test (as ``opa test`` does), once, and
each test rule is evaluated on its own so an error is pinned on the right test.
``todo_test_*`` rules are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gatekeeper.rego.engine import PolicyEvalError, RegorusEngine, RegorusProgram
from gatekeeper.rego.modules import Module


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One test's outcome, in the shape ``gatekeeper verify`` reports."""

    suite: str
    test: str
    case: str
    passed: bool
    message: str = ""
    skipped: bool = False
    line: int = 0


def collect_tests(tests: Sequence[Module], pattern: re.Pattern[str] | None) -> list[tuple[Module, str]]:
    """(module, rule) for every test rule, filtered by ``--run``."""
    out = []
    for module in tests:
        for name in sorted(module.rules, key=lambda n: module.lines.get(n, 0)):
            if not (name.startswith("test_") or name.startswith("todo_test_")):
                continue
            label = f"{module.package_name}.{name}"
            if pattern is not None and not pattern.search(label):
                continue
            out.append((module, name))
    return out


@dataclass(slots=True)
class TestPlan:
    """A compiled test set: the program and the selected test rules (todo ones included)."""

    program: RegorusProgram | None
    selected: list[tuple[Module, str]]


def plan_tests(engine: RegorusEngine, policies: Sequence[Module], tests: Sequence[Module],
               data: Mapping[str, Any], pattern: re.Pattern[str] | None = None) -> TestPlan:
    """Compile policies and tests once; PolicyLoadError when they do not compile."""
    selected = collect_tests(tests, pattern)
    runnable = [(m, n) for m, n in selected if not n.startswith("todo_")]
    queries = {f"t{i}": [*m.package, n] for i, (m, n) in enumerate(runnable)}
    program = engine.compile([*policies, *tests], data, queries) if queries else None
    return TestPlan(program, selected)


def run_one(plan: TestPlan, index: int) -> CaseResult:
    """Run the ``index``-th selected test (in the calling process)."""
    module, name = plan.selected[index]
    label = f"{module.package_name}.{name}"
    line = module.lines.get(name, 0)
    if name.startswith("todo_"):
        return CaseResult(module.path, label, "", True, "todo", True, line)
    assert plan.program is not None
    key = f"t{sum(1 for m, n in plan.selected[:index] if not n.startswith('todo_'))}"
    try:
        values = plan.program.evaluate_json("{}", only=[key])
    except PolicyEvalError as exc:
        return CaseResult(module.path, label, "", False, f"error: {exc}", False, line)
    finally:
        plan.program.take_prints()
    return _outcome(module.path, label, line, key in values, values.get(key))


def _outcome(path: str, label: str, line: int, defined: bool, value: Any) -> CaseResult:
    if not defined:
        return CaseResult(path, label, "", False, f"{path}:{line}: test is undefined (a condition failed)",
                          False, line)
    if value is not True:
        return CaseResult(path, label, "", False, f"{path}:{line}: test evaluated to {value!r}, not true",
                          False, line)
    return CaseResult(path, label, "", True, "", False, line)
