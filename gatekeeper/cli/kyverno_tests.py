"""``gatekeeper verify``'s hook for ``kyverno test`` files: find them under the paths, run them,
and report each (policy, rule, resource) as a case."""

from __future__ import annotations

import re
from pathlib import Path

from gatekeeper.checks.base import CheckLoadError
from gatekeeper.checks.kyverno.load import read_documents
from gatekeeper.checks.policy.match import CLUSTER_SCOPED
from gatekeeper.kyverno.errors import KyvernoLoadError
from gatekeeper.kyverno.testfile import candidates, is_test, run
from gatekeeper.rego.unittest import CaseResult


def run_kyverno_tests(paths: list[Path], pattern: re.Pattern[str] | None) -> list[CaseResult]:
    """Every Test document under the paths; CheckLoadError when a test or a file it names cannot load."""
    out: list[CaseResult] = []
    for path in candidates(paths):
        for doc in read_documents(path):
            if not is_test(doc.obj):
                continue
            try:
                cases = run(doc, path.parent, read_documents, frozenset(CLUSTER_SCOPED), pattern)
            except KyvernoLoadError as exc:
                raise CheckLoadError(str(exc)) from None
            out.extend(CaseResult(c.file, c.test, c.name, c.passed, c.message, c.skipped, c.line) for c in cases)
    return out
