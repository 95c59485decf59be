"""``gatekeeper verify``'s hook for ``kyverno test`` files: find them under the paths, run them,
and report each (policy, rule, resource) as a case."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gatekeeper.checks.base import CheckLoadError
from gatekeeper.checks.kyverno.load import read_documents
from gatekeeper.checks.policy.masking import Masker
from gatekeeper.checks.policy.match import CLUSTER_SCOPED
from gatekeeper.checks.policy.redact import secret_values
from gatekeeper.kyverno.errors import KyvernoLoadError
from gatekeeper.kyverno.testfile import candidates, is_test, run
from gatekeeper.rego import boundary
from gatekeeper.rego.boundary import Limits
from gatekeeper.rego.unittest import CaseResult


def _masking(objects: list[Any]) -> Callable[[str], str]:
    """What masks the secret values of a test's resources (whole, and any run of 8 or more of their
    characters) in a case's message."""
    return Masker([v for obj in objects for v in secret_values(obj)]).mask


def run_kyverno_tests(paths: list[Path], pattern: re.Pattern[str] | None, limits: Limits | None = None
                      ) -> list[CaseResult]:
    """Every Test document under the paths, each evaluated in a worker behind the evaluation
    boundary (its policies and resources are repository content); CheckLoadError when a test or a
    file it names cannot load, or a test blows the CPU-time or memory limit."""
    tests = [(path, doc) for path in candidates(paths) for doc in read_documents(path) if is_test(doc.obj)]

    def work(i: int, _: boundary.Mark) -> list[CaseResult] | str:
        path, doc = tests[i]
        try:
            cases = run(doc, path.parent, read_documents, frozenset(CLUSTER_SCOPED), pattern, _masking)
        except KyvernoLoadError as exc:
            return str(exc)
        return [CaseResult(c.file, c.test, c.name, c.passed, c.message, c.skipped, c.line) for c in cases]

    try:
        outcomes = boundary.run(len(tests), work, lambda i, _: f"{tests[i][0]}: kyverno test", limits or Limits())
    except boundary.BoundaryError as exc:
        raise CheckLoadError(str(exc)) from None
    out: list[CaseResult] = []
    for outcome in outcomes:
        if isinstance(outcome, str):
            raise CheckLoadError(outcome)
        out.extend(outcome)
    return out
