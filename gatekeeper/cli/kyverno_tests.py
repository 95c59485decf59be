"""``gatekeeper verify``'s hook for ``kyverno test`` files: find them under the paths, run them,
and report each (policy, rule, resource) as a case."""

from __future__ import annotations

import re
from pathlib import Path

from gatekeeper.checks.base import CheckLoadError
from gatekeeper.checks.policy.files import display
from gatekeeper.checks.policy.match import CLUSTER_SCOPED
from gatekeeper.kyverno.errors import KyvernoLoadError
from gatekeeper.kyverno.testfile import candidates, is_test, run
from gatekeeper.model import Document
from gatekeeper.rego.unittest import CaseResult
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.yamlload import parse


def _read(path: Path) -> list[Document]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckLoadError(f"cannot read {display(path)}: {exc.strerror}") from None
    parsed = parse(SourceFile(display(path), data))
    if parsed.findings:
        first = parsed.findings[0]
        raise CheckLoadError(f"{first.path}:{first.line}: {first.message}")
    return [d for d in parsed.documents if d.obj is not None]


def run_kyverno_tests(paths: list[Path], pattern: re.Pattern[str] | None) -> list[CaseResult]:
    """Every Test document under the paths; CheckLoadError when a test or a file it names cannot load."""
    out: list[CaseResult] = []
    for path in candidates(paths):
        for doc in _read(path):
            if not is_test(doc.obj):
                continue
            try:
                cases = run(doc, path.parent, _read, frozenset(CLUSTER_SCOPED), pattern)
            except KyvernoLoadError as exc:
                raise CheckLoadError(str(exc)) from None
            out.extend(CaseResult(c.file, c.test, c.name, c.passed, c.message, c.skipped, c.line) for c in cases)
    return out
