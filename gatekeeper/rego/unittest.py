"""Rego unit tests: every ``test_*`` rule of a ``*_test.rego`` module must be true.

The tests are compiled together with the policies they test (as ``opa test`` does) and
evaluated in one query; if that query fails (one test errors), each test is evaluated on
its own so the error is pinned on the right test. ``todo_test_*`` rules are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gatekeeper.rego.engine import PolicyEvalError, RegoEngine, native_output_to_stderr
from gatekeeper.rego.modules import Module, PolicyLoadError


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


def run_tests(engine: RegoEngine, policies: Sequence[Module], tests: Sequence[Module],
              data: Mapping[str, Any], pattern: re.Pattern[str] | None = None) -> list[CaseResult]:
    """Run every selected test rule; PolicyLoadError when the modules do not compile."""
    selected = collect_tests(tests, pattern)
    if not selected:
        return []
    modules = [*policies, *tests]
    runnable = [(m, n) for m, n in selected if not n.startswith("todo_")]
    queries = {f"t{i}": [*m.package, n] for i, (m, n) in enumerate(runnable)}
    values: dict[str, Any] | None
    with native_output_to_stderr():
        program = engine.compile(modules, data, queries)
        try:
            values = program.evaluate(None)
        except PolicyEvalError:
            values = None
        results: list[CaseResult] = []
        index = 0
        for module, name in selected:
            label = f"{module.package_name}.{name}"
            line = module.lines.get(name, 0)
            if name.startswith("todo_"):
                results.append(CaseResult(module.path, label, "", True, "todo", True, line))
                continue
            key = f"t{index}"
            index += 1
            if values is None:
                results.append(_single(engine, modules, data, module, name, label, line))
                continue
            results.append(_outcome(module.path, label, line, key in values, values.get(key)))
    return results


def _single(engine: RegoEngine, modules: Sequence[Module], data: Mapping[str, Any], module: Module,
            name: str, label: str, line: int) -> CaseResult:
    try:
        value = engine.compile(modules, data, {"t": [*module.package, name]}).evaluate(None)
    except (PolicyEvalError, PolicyLoadError) as exc:
        return CaseResult(module.path, label, "", False, f"error: {exc}", False, line)
    return _outcome(module.path, label, line, "t" in value, value.get("t"))


def _outcome(path: str, label: str, line: int, defined: bool, value: Any) -> CaseResult:
    if not defined:
        return CaseResult(path, label, "", False, f"{path}:{line}: test is undefined (a condition failed)",
                          False, line)
    if value is not True:
        return CaseResult(path, label, "", False, f"{path}:{line}: test evaluated to {value!r}, not true",
                          False, line)
    return CaseResult(path, label, "", True, "", False, line)
