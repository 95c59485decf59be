"""The synthetic corpus' labelled lint problems are found by the expected rule at the evidence line.

Uses ``../shared/bench/gen_corpus.py`` (deterministic for a seed) at a small size; the full-size
figures are in bench/README.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from gatekeeper.model import Severity
from gatekeeper.pipeline import Run, execute
from tests.conftest import shared_dir

# label rule -> (gatekeeper rules that answer it, whether the label's line is the evidence line)
EXPECTED: dict[str, tuple[set[str], bool]] = {
    "lint.image-latest": ({"image-latest"}, True),
    "lint.image-untagged": ({"image-untagged"}, True),
    "lint.no-resource-limits": ({"memory-limit", "cpu-requests", "memory-requests"}, False),
    "lint.privileged": ({"privileged-container"}, True),
    "lint.run-as-root": ({"run-as-root"}, True),
    "lint.host-path": ({"host-path"}, True),
    "lint.missing-probes": ({"liveness-probe", "readiness-probe"}, False),
    "lint.rbac-wildcard": ({"rbac-wildcard"}, True),
    "lint.deprecated-api": ({"removed-api", "deprecated-api"}, True),
}


def test_labelled_lint_problems_are_found_at_their_lines(tmp_path: Path) -> None:
    generator = shared_dir("bench", "gen_corpus.py")
    root = tmp_path / "corpus"
    subprocess.run([sys.executable, str(generator), "--count", "400", "--seed", "7", "--out", str(root)],
                   check=True, capture_output=True, timeout=120)
    labels = [json.loads(line) for line in (root / "labels.jsonl").read_text().splitlines() if line]
    # the labels describe files (a base's :latest stays labelled even where an overlay pins the tag)
    report = execute(Run(root=root, paths=[root], checks=["schema", "lint"], render="none"))
    assert not report.errors
    by_doc: dict[tuple[str, int], list[tuple[str, int, Severity]]] = defaultdict(list)
    for f in report.findings:
        if f.resource is not None:
            by_doc[(f.path, f.resource.document)].append((f.rule, f.line, f.severity))
    lint_labels = [lab for lab in labels if lab["category"] == "lint"]
    assert len(lint_labels) >= 10
    for lab in lint_labels:
        rules, evidence = EXPECTED[lab["rule"]]
        hits = [(rule, line) for rule, line, _ in by_doc[(lab["path"], lab["doc_index"])] if rule in rules]
        assert hits, lab
        if evidence:
            assert lab["line"] in {line for _, line in hits}, (lab, hits)
    labelled = {(lab["path"], lab["doc_index"]) for lab in labels}
    lint_ids = {f.rule for f in report.findings if f.check == "lint"}
    clean_errors = [(key, rule) for key, items in by_doc.items() if key not in labelled
                    for rule, _, sev in items if rule in lint_ids and sev == Severity.ERROR]
    assert clean_errors == []
