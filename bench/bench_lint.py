#!/usr/bin/env python3
"""Benchmark: the lint check vs the schema check over the same resources.

Two measurements on the synthetic corpus (default 10,000 resources, seed 1, or ``--dir``):

* **cold** — what a user sees: ``gatekeeper check DIR --checks schema,lint --format json`` in a
  fresh process, ``--runs`` times; each check's time (prepare + every hook, as the pipeline
  runs it) comes from the report's ``timings``. The schema check pays for compiling its
  validators here, as it does in every real run.
* **warm** — one process, corpus loaded once per round, each check run alone ``--repeat``
  times (best of): the schema check's compiled validators are cached after the first round, so
  this is its steady state, the harder comparison for lint. The waiver step is timed too.

Ratios within one run are the figures to compare on a noisy machine. The bar: lint takes no
more time than the schema check (ratio <= 1).

Usage: bench_lint.py [--count 10000] [--dir DIR] [--runs 3] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from corpus import corpus  # bench/corpus.py (scripts run from their directory)

from gatekeeper.checks import catalogue
from gatekeeper.model import Report
from gatekeeper.pipeline import Run, gc_paused, load, run_checks
from gatekeeper.waivers import apply_waivers


def cold(root: Path, runs: int) -> dict[str, list[float]]:
    """Per-check seconds from ``runs`` fresh ``gatekeeper check`` processes."""
    times: dict[str, list[float]] = {"schema": [], "lint": []}
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-m", "gatekeeper", "check", str(root), "--checks", "schema,lint",
                               "--format", "json"], capture_output=True, text=True, check=False)
        report = json.loads(proc.stdout)
        assert not report["errors"], report["errors"]
        for name in times:
            times[name].append(report["timings"][name])
    return times


def warm(root: Path, repeat: int) -> tuple[dict[str, float], dict[str, float], int, int]:
    """Best-of-``repeat`` wall and CPU seconds per check (and the waiver step) in one process."""
    best = {"schema": float("inf"), "lint": float("inf"), "waivers": float("inf")}
    cpu = dict(best)
    resources = findings = 0
    for _ in range(repeat):
        loaded = load(Run(root=root, paths=[root]))
        resources = len(loaded.resources)
        produced = []
        for name in ("schema", "lint"):
            report = Report()
            started_cpu = time.process_time()
            with gc_paused():
                produced.extend(run_checks(Run(root=root, paths=[root], checks=[name]), loaded, report))
            cpu[name] = min(cpu[name], time.process_time() - started_cpu)
            assert not report.errors, report.errors
            best[name] = min(best[name], report.timings[name])
        findings = len(produced)
        started, started_cpu = time.perf_counter(), time.process_time()
        apply_waivers(produced, loaded.resources, Run(root=root).config, root, catalogue(),
                      ran=["schema", "lint"])
        best["waivers"] = min(best["waivers"], time.perf_counter() - started)
        cpu["waivers"] = min(cpu["waivers"], time.process_time() - started_cpu)
    return best, cpu, resources, findings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--runs", type=int, default=3, help="fresh processes for the cold figures")
    ap.add_argument("--repeat", type=int, default=5, help="in-process rounds for the warm figures")
    args = ap.parse_args()
    root = corpus(args.count, args.dir, "bench-lint")
    print(f"machine: {platform.machine()} Python {platform.python_version()}; corpus {root}")
    times = cold(root, args.runs)
    for name, values in times.items():
        print(f"cold {name:>7}: median {statistics.median(values):6.3f} s  "
              f"[{min(values):.3f}-{max(values):.3f}] over {args.runs} processes")
    ratios = [lint / schema for lint, schema in zip(times["lint"], times["schema"], strict=True)]
    print(f"cold lint / schema: median {statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]")
    best, cpu, resources, findings = warm(root, args.repeat)
    print(f"warm ({resources} resources, {findings} schema+lint findings, best of {args.repeat}):")
    for name, secs in best.items():
        print(f"warm {name:>7}: wall {secs:6.3f} s ({resources / secs:7.0f} resources/s), cpu {cpu[name]:6.3f} s")
    print(f"warm lint / schema: wall {best['lint'] / best['schema']:.2f}, cpu {cpu['lint'] / cpu['schema']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
