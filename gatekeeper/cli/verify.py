"""``gatekeeper verify [PATHS]``: run Rego unit tests and Gatekeeper Suite files.

Output is Go-test-like text (ok/FAIL per test, then a summary) or JSON. Exit 0 when every
test passes, 1 when one fails, 2 when a policy, test or suite file cannot be loaded.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from gatekeeper.checks.base import CheckLoadError
from gatekeeper.checks.policy.settings import DEFAULT_DIRS, limits
from gatekeeper.cli.options import F, limit_options
from gatekeeper.rego.boundary import Limits
from gatekeeper.rego.unittest import CaseResult


def _default_paths() -> list[Path]:
    found = [Path(name) for name in DEFAULT_DIRS if Path(name).is_dir()]
    if not found:
        raise click.UsageError("no policy directory: give PATHS or create policy/ or policies/")
    return found[:1]


def run_verify(paths: list[Path], rego_version: str, pattern: re.Pattern[str] | None,
               data_files: list[Path], limits: Limits | None = None) -> list[CaseResult]:
    """Rego unit tests, Suite files and kyverno test files for the given paths; Rego tests and
    Suite cases are evaluated behind the evaluation boundary (a test that hangs, crashes or runs
    out of memory fails the run)."""
    from gatekeeper.checks.policy import load_data
    from gatekeeper.checks.policy.files import read
    from gatekeeper.checks.policy.suites import run_all
    from gatekeeper.cli.kyverno_tests import run_kyverno_tests
    from gatekeeper.rego import boundary
    from gatekeeper.rego.engine import RegorusEngine
    from gatekeeper.rego.modules import PolicyLoadError, load_modules
    from gatekeeper.rego.unittest import plan_tests, run_one

    limits = limits or Limits()
    kyverno = run_kyverno_tests([p.absolute() for p in paths], pattern, limits)  # listed after Rego tests, Suites
    files = read([p.absolute() for p in paths], yaml=False)
    try:
        loaded = load_modules([(p, t, rego_version) for p, t in [*files.rego, *files.tests]], limits)
        policies, tests = loaded[:len(files.rego)], loaded[len(files.rego):]
        plan = plan_tests(RegorusEngine(), policies, tests, load_data(data_files, limits.max_depth), pattern) \
            if tests else None
    except PolicyLoadError as exc:
        raise CheckLoadError(str(exc)) from None
    try:
        results = boundary.run(len(plan.selected), lambda i, _: run_one(plan, i),
                               lambda i, _: f"{plan.selected[i][0].path}: test {plan.selected[i][1]}",
                               limits) if plan is not None else []
        return results + run_all([p.absolute() for p in paths], rego_version, pattern, limits) + kyverno
    except (boundary.BoundaryError, PolicyLoadError) as exc:
        raise CheckLoadError(str(exc)) from None


def render_text(results: list[CaseResult]) -> str:
    lines = []
    for r in results:
        name = f"{r.test}/{r.case}" if r.case else r.test
        status = "skip" if r.skipped else ("ok  " if r.passed else "FAIL")
        where = f"{r.suite}:{r.line}" if r.line else r.suite
        lines.append(f"{status}  {where}  {name}")
        if not r.passed:
            lines.append(f"      {r.message}")
    passed, failed, skipped = _counts(results)
    verdict = "PASS" if failed == 0 else "FAIL"
    lines.append(f"{verdict}: {passed} passed, {failed} failed, {skipped} skipped")
    return "\n".join(lines) + "\n"


def render_json(results: list[CaseResult]) -> str:
    passed, failed, skipped = _counts(results)
    cases = [{"suite": r.suite, "test": r.test, "case": r.case, "passed": r.passed, "skipped": r.skipped,
              "message": r.message} for r in results]
    return json.dumps({"passed": passed, "failed": failed, "skipped": skipped, "cases": cases}, indent=2) + "\n"


def _counts(results: list[CaseResult]) -> tuple[int, int, int]:
    skipped = sum(1 for r in results if r.skipped)
    passed = sum(1 for r in results if r.passed and not r.skipped)
    return passed, len(results) - passed - skipped, skipped


def _limits(func: F) -> F:
    for deco in reversed(limit_options()):
        func = deco(func)
    return func


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--run", "run_filter", metavar="REGEX", help="Only tests/cases whose name matches REGEX.")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--rego-version", type=click.Choice(["auto", "v0", "v1"]), default="auto", show_default=True,
              help="Rego syntax of the policies (auto: detected per module).")
@click.option("--data", "data_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML/JSON file merged into data for the Rego unit tests; repeatable.")
@_limits
def verify(paths: tuple[Path, ...], run_filter: str | None, fmt: str, rego_version: str,
           data_files: tuple[Path, ...], **limit_values: Any) -> None:
    """Run the policy unit tests under PATHS (default: policy/ or policies/).

    Every test_* rule in *_test.rego must be true; every Gatekeeper Suite
    (test.gatekeeper.sh/v1alpha1) case must meet its assertions; every kyverno test
    file (cli.kyverno.io/v1alpha1 Test) result must match.
    """
    try:
        pattern = re.compile(run_filter) if run_filter else None
    except re.error as exc:
        raise click.UsageError(f"--run: bad regular expression: {exc}") from None
    targets = list(paths) or _default_paths()
    try:
        results = run_verify(targets, rego_version, pattern, list(data_files), limits(limit_values, {}))
    except CheckLoadError as exc:
        click.echo(f"gatekeeper verify: {exc}", err=True)
        raise SystemExit(2) from None
    if not results:
        click.echo("gatekeeper verify: no tests found (no test_* rules in *_test.rego, no Suite files, "
                   "no kyverno test files)", err=True)
        raise SystemExit(2)
    click.echo(render_json(results) if fmt == "json" else render_text(results), nl=False)
    raise SystemExit(1 if any(not r.passed for r in results) else 0)
