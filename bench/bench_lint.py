#!/usr/bin/env python3
"""Benchmark: the lint check vs the schema check over the same loaded resources, in one process.

Generates the synthetic corpus (default 10,000 resources, seed 1) or reads a directory, loads
it once per round, then times each check alone (prepare + every hook, as the pipeline runs
it) and the waiver step over all findings. Each figure is the best of ``--repeat`` rounds,
and checks alternate within a round, so the ratio lint/schema is the figure to compare on a
noisy machine. The issue's bar: lint adds no more than the schema check's time (ratio <= 1).

Usage: bench_lint.py [--count 10000] [--dir DIR] [--repeat 5]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gatekeeper.model import Report
from gatekeeper.pipeline import Run, gc_paused, load, run_checks
from gatekeeper.waivers import apply_waivers

GEN = Path(__file__).resolve().parents[2] / "shared" / "bench" / "gen_corpus.py"


def corpus(count: int, directory: Path | None) -> Path:
    if directory is not None:
        return directory
    out = Path(tempfile.mkdtemp(prefix="gk-bench-lint-")) / f"c{count}"
    subprocess.run([sys.executable, str(GEN), "--count", str(count), "--seed", "1", "--out", str(out)],
                   check=True, capture_output=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    root = corpus(args.count, args.dir)
    best = {"schema": float("inf"), "lint": float("inf"), "waivers": float("inf")}
    resources = findings = 0
    for _ in range(args.repeat):
        loaded = load(Run(root=root, paths=[root]))
        resources = len(loaded.resources)
        produced = []
        for name in ("schema", "lint"):
            run = Run(root=root, paths=[root], checks=[name])
            report = Report()
            with gc_paused():
                produced.extend(run_checks(run, loaded, report))
            assert not report.errors, report.errors
            best[name] = min(best[name], report.timings[name])
        findings = len(produced)
        started = time.perf_counter()
        apply_waivers(produced, loaded.resources, Run(root=root).config, root, ran=["schema", "lint"])
        best["waivers"] = min(best["waivers"], time.perf_counter() - started)
    print(f"corpus: {root} ({resources} resources, {findings} schema+lint findings)")
    print(f"machine: {platform.machine()} {platform.processor() or ''} Python {platform.python_version()}")
    for name, secs in best.items():
        print(f"{name:>8}: {secs:7.3f} s  {resources / secs:9.0f} resources/s  (best of {args.repeat})")
    print(f"lint / schema = {best['lint'] / best['schema']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
