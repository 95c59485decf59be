"""Runs over corpora nobody here wrote (real public manifests) and the labelled synthetic corpus."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import run_json, shared_dir


def test_real_corpus_runs_without_internal_errors() -> None:
    real = shared_dir("corpus", "real")
    code, report = run_json(str(real))
    assert report["errors"] == []
    assert code in (0, 1)
    assert report["summary"]["resources"] > 600
    for f in report["findings"]:
        assert f["line"] >= 1 and f["path"] and not f["path"].startswith("/")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    gen = shared_dir("bench", "gen_corpus.py")
    out = tmp_path_factory.mktemp("corpus") / "c2k"
    subprocess.run([sys.executable, str(gen), "--count", "2000", "--seed", "1", "--out", str(out)],
                   check=True, capture_output=True)
    _, report = run_json(str(out), "--checks", "schema", "--render", "none")  # the labels describe files
    return out, report


def test_synthetic_schema_labels_found_at_their_resource_and_line(synthetic: tuple[Path, dict]) -> None:
    corpus, report = synthetic
    labels = [json.loads(line) for line in (corpus / "labels.jsonl").read_text().splitlines()]
    by_doc = defaultdict(list)
    for f in report["findings"]:
        if f["resource"]:
            by_doc[(f["path"], f["resource"]["document"])].append(f)
    schema_labels = [lab for lab in labels if lab["category"] == "schema"]
    found = [lab for lab in schema_labels if any(f["check"] == "schema" and f["rule"].startswith("schema-")
                                                 for f in by_doc[(lab["path"], lab["doc_index"])])]
    assert len(found) / len(schema_labels) >= 0.98
    # Labels put the evidence line at the list item or the document start in places where the gate
    # points at the field itself (or, for a missing field, at its parent key), so allow a few lines.
    near = [lab for lab in found if any(abs(f["line"] - lab["line"]) <= 1
                                        for f in by_doc[(lab["path"], lab["doc_index"])])]
    exact_kinds = [lab for lab in found if lab["rule"] != "schema.missing-required"]
    exact = [lab for lab in exact_kinds if any(abs(f["line"] - lab["line"]) <= 1
                                               for f in by_doc[(lab["path"], lab["doc_index"])])]
    assert len(exact) / len(exact_kinds) >= 0.95
    assert len(near) / len(found) >= 0.8


def test_synthetic_no_schema_error_on_unlabelled_resources(synthetic: tuple[Path, dict]) -> None:
    corpus, report = synthetic
    labelled = {(lab["path"], lab["doc_index"]) for lab in
                (json.loads(line) for line in (corpus / "labels.jsonl").read_text().splitlines())
                if lab["category"] in ("schema", "lint")}
    wrong = [f for f in report["findings"] if f["check"] == "schema" and f["severity"] == "error"
             and f["resource"] and (f["path"], f["resource"]["document"]) not in labelled]
    assert wrong == []
