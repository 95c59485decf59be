#!/usr/bin/env python3
"""Score the secrets check's findings in a gatekeeper JSON report against a synthetic corpus' labels.

Per YAML document (path + document index): a ``secret`` label is recalled when its document has
any secrets finding; a ``decoy`` label fails when its document has a secrets finding of severity
error or warning (info is allowed: it never fails a run). Precision counts error and warning
findings: true when their document carries a ``secret`` label. ``--generic OUT`` also writes the
findings as JSON lines for the shared scorer (``../shared/bench/eval_secrets.py --generic OUT``),
which compares them with checkov and detect-secrets the same way.

Usage: eval_secrets_labels.py CORPUS_DIR REPORT.json [--generic OUT.jsonl]
Exit status 1 when recall is below 98 % or any decoy is flagged.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("report", type=Path)
    ap.add_argument("--generic", type=Path, help="write findings as JSON lines for eval_secrets.py")
    args = ap.parse_args()
    labels = [json.loads(line) for line in (args.corpus / "labels.jsonl").read_text().splitlines() if line]
    report = json.loads(args.report.read_text())
    findings = [f for f in report["findings"] if f["check"] == "secrets"]
    by_doc: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for f in findings:
        doc = f["resource"]["document"] if f.get("resource") else -1
        by_doc[(f["path"], doc)].append(f)
    categories: dict[tuple[str, int], str] = {(lab["path"], lab["doc_index"]): lab["category"] for lab in labels}

    secret = [lab for lab in labels if lab["category"] == "secret"]
    per_rule: Counter[str] = Counter()
    per_rule_total: Counter[str] = Counter()
    missed = []
    for lab in secret:
        per_rule_total[lab["rule"]] += 1
        if by_doc[(lab["path"], lab["doc_index"])]:
            per_rule[lab["rule"]] += 1
        else:
            missed.append(lab)
    found = len(secret) - len(missed)
    recall = found / len(secret) if secret else 1.0
    print(f"secret labels: recall {found}/{len(secret)} = {recall:.1%}")
    for rule in sorted(per_rule_total):
        print(f"  {rule:<32} {per_rule[rule]}/{per_rule_total[rule]}")
    for lab in missed[:20]:
        print(f"  MISSED {lab['path']}#{lab['doc_index']} line {lab['line']}: {lab['rule']}")

    decoys = [lab for lab in labels if lab["category"] == "decoy"]
    decoy_rules: Counter[str] = Counter(lab["rule"] for lab in decoys)
    flagged = [lab for lab in decoys
               if any(f["severity"] in ("error", "warning") for f in by_doc[(lab["path"], lab["doc_index"])])]
    print(f"decoy labels with an error/warning finding: {len(flagged)}/{len(decoys)}")
    for rule in sorted(decoy_rules):
        print(f"  {rule:<32} {sum(1 for lab in flagged if lab['rule'] == rule)}/{decoy_rules[rule]} flagged")

    counted = [f for f in findings if f["severity"] in ("error", "warning")]
    where: Counter[str] = Counter()
    for f in counted:
        doc = f["resource"]["document"] if f.get("resource") else -1
        where[categories.get((f["path"], doc), "unlabelled")] += 1
    true = where["secret"]
    precision = true / len(counted) if counted else 1.0
    print(f"error+warning findings: {len(counted)}; on secret-labelled documents {true} "
          f"(precision {precision:.1%}); elsewhere {dict((k, v) for k, v in where.items() if k != 'secret')}")
    by_rule = Counter((f["rule"], f["severity"]) for f in findings)
    print("by rule and severity: " + ", ".join(f"{rule}/{sev} {n}" for (rule, sev), n in sorted(by_rule.items())))
    if args.generic is not None:
        with args.generic.open("w", encoding="utf-8") as out:
            for f in findings:
                out.write(json.dumps({"path": f["path"], "line": f["line"], "type": f["rule"]}) + "\n")
    return 0 if recall >= 0.98 and not flagged else 1


if __name__ == "__main__":
    raise SystemExit(main())
