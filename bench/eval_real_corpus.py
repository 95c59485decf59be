#!/usr/bin/env python3
"""Findings per rule on the real-world corpus (../shared/corpus/real), with a seeded sample of each
rule's findings to read as a user would: the input of the false-positive table in README.md.

Each repository runs through the real CLI with every default check (``--explain-files`` too, so
the classes appear). Prints, per rule, the count per repository and up to ``--sample`` findings
(path, line, message); the judging is done by reading them.

Usage: eval_real_corpus.py [--corpus DIR] [--sample N] [--config FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REAL = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real"


def report_of(repo: Path, config: Path | None) -> dict[str, Any]:
    args = [sys.executable, "-m", "gatekeeper", "check", str(repo), "--format", "json", "--explain-files"]
    if config is not None:
        args += ["--config", str(config)]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{repo.name}: exit {proc.returncode}: {proc.stderr.strip()}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REAL)
    parser.add_argument("--sample", type=int, default=5)
    parser.add_argument("--config", type=Path)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"{args.corpus} is absent: nothing to evaluate", file=sys.stderr)
        return 2
    rng = random.Random(1)
    by_rule: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for repo in sorted(p for p in args.corpus.iterdir() if p.is_dir()):
        report = report_of(repo, args.config)
        classes = Counter(f["class"] for f in report.get("files", []))
        print(f"{repo.name}: {report['summary']['findings']}, classes {dict(sorted(classes.items()))}")
        for finding in report["findings"]:
            by_rule[finding["rule"]].append((repo.name, finding))
    for rule, found in sorted(by_rule.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        per_repo = Counter(name.split("__")[1] for name, _ in found)
        print(f"\n{rule}: {len(found)} ({', '.join(f'{k} {v}' for k, v in per_repo.most_common())})")
        for name, f in rng.sample(found, min(args.sample, len(found))):
            print(f"  {name.split('__')[1]}/{f['path']}:{f['line']} {f['message'][:140]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
