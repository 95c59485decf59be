#!/usr/bin/env python3
"""Score a gatekeeper JSON report against a synthetic corpus' ``labels.jsonl``.

A label is found when a finding of a matching check (and rule family) points at the
labelled resource (same file and document index). Prints recall per category and rule,
and the findings on resources that carry no label of that category (false positives).

Usage: eval_labels.py CORPUS_DIR REPORT.json [--category schema,lint,secret]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

# Which findings count for a label category (check names; lint's deprecated-api comes from schema).
CATEGORY_CHECKS = {"schema": {"schema"}, "lint": {"lint"}, "secret": {"secrets"}}
LINT_FROM_SCHEMA = {"lint.deprecated-api": {"removed-api", "deprecated-api"}}
# --rules: the gatekeeper rules that answer each label, and whether the label's line is the evidence line
# (False: the label sits on the document's first line because the problem is a missing field).
EXPECTED_RULES: dict[str, tuple[set[str], bool]] = {
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("report", type=Path)
    ap.add_argument("--category", default="schema,lint,secret")
    ap.add_argument("--rules", action="store_true",
                    help="also score lint labels by the expected rule and by the exact evidence line")
    args = ap.parse_args()
    labels = [json.loads(line) for line in (args.corpus / "labels.jsonl").read_text().splitlines() if line]
    report = json.loads(args.report.read_text())
    by_doc: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for f in report["findings"]:
        doc = f["resource"]["document"] if f.get("resource") else -1
        by_doc[(f["path"], doc)].append(f)
    labelled: dict[tuple[str, int], dict] = {(lab["path"], lab["doc_index"]): lab for lab in labels}
    status = 0
    for category in args.category.split(","):
        wanted = [lab for lab in labels if lab["category"] == category]
        found = Counter()
        total = Counter()
        missed = []
        for lab in wanted:
            total[lab["rule"]] += 1
            hits = [f for f in by_doc[(lab["path"], lab["doc_index"])]
                    if f["check"] in CATEGORY_CHECKS[category] or f["rule"] in LINT_FROM_SCHEMA.get(lab["rule"], ())]
            if hits:
                found[lab["rule"]] += 1
            else:
                missed.append(lab)
        n, k = len(wanted), sum(found.values())
        print(f"{category}: recall {k}/{n} = {k / n:.1%}" if n else f"{category}: no labels")
        for rule in sorted(total):
            print(f"  {rule:<32} {found[rule]}/{total[rule]}")
        for lab in missed[:10]:
            print(f"  MISSED {lab['path']}#{lab['doc_index']} line {lab['line']}: {lab['rule']} {lab['note']}")
        fp = Counter()
        for (path, doc), items in by_doc.items():
            lab = labelled.get((path, doc))
            for f in items:
                if f["check"] not in CATEGORY_CHECKS[category] or f["severity"] == "info":
                    continue
                if category == "schema" and f["rule"] in ("schema-missing", "deprecated-api", "removed-api"):
                    continue
                if lab is None or lab["category"] != category:
                    fp[(f["severity"], f["rule"], lab["category"] if lab else "unlabelled")] += 1
        for (sev, rule, where), count in sorted(fp.items()):
            print(f"  FINDING ON {where} resource: {sev} {rule} x{count}")
        if category == "lint":
            clean_errors = sum(c for (sev, _, where), c in fp.items() if sev == "error" and where == "unlabelled")
            print(f"  error-severity lint findings on unlabelled resources: {clean_errors}")
        if args.rules and category == "lint":
            _score_rules(wanted, by_doc)
    return status


def _score_rules(wanted: list[dict], by_doc: dict[tuple[str, int], list[dict]]) -> None:
    """Rule-level recall (the expected rule fired) and line agreement (at the label's evidence line)."""
    rule_ok = line_ok = line_total = 0
    for lab in wanted:
        rules, evidence = EXPECTED_RULES.get(lab["rule"], (set(), False))
        hits = [f for f in by_doc[(lab["path"], lab["doc_index"])] if f["rule"] in rules]
        rule_ok += bool(hits)
        if evidence:
            line_total += 1
            if any(f["line"] == lab["line"] for f in hits):
                line_ok += 1
            else:
                got = sorted({f["line"] for f in hits})
                print(f"  LINE {lab['path']}#{lab['doc_index']} label line {lab['line']}, findings at {got}: "
                      f"{lab['rule']}")
    n = len(wanted)
    print(f"  rule-level recall {rule_ok}/{n} = {rule_ok / n:.1%}" if n else "  no labels")
    if line_total:
        print(f"  exact evidence line {line_ok}/{line_total} = {line_ok / line_total:.1%}")


if __name__ == "__main__":
    raise SystemExit(main())
