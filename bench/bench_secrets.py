#!/usr/bin/env python3
"""Benchmark: the secrets check against the schema check over the same corpus.

Two measurements (the corpus is synthetic, generated with ``--count``, or ``--dir``):

- in one process (default): load once, then run the schema check and the secrets check
  alternately ``--repeat`` times each; prints the best and median CPU time of each and the ratio
  secrets / schema. The secrets check's memo of clean values is cleared before each of its runs
  (cold); the schema check keeps its compiled validators after a warm-up run (its steady state),
  which favours it.
- ``--cli N``: N fresh ``gatekeeper check --checks schema,secrets`` processes, each check's time
  from the report's ``timings``: both cold, as every real run is. Prints each round's ratio, the
  median and how many rounds the secrets check was the faster one (the machine is noisy, so the
  ratio within one process is the figure, not the absolute times).

Usage: bench_secrets.py [--count 10000] [--dir DIR] [--repeat 5] [--cli N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corpus import corpus  # bench/corpus.py (scripts run from their directory)

from gatekeeper.checks.secrets.scan import clear_memo
from gatekeeper.model import Report
from gatekeeper.pipeline import Run, load, run_checks


def _children_cpu() -> float:
    """CPU time of reaped child processes (a check's evaluation workers)."""
    t = os.times()
    return t.children_user + t.children_system


def time_check(run: Run, loaded: object, name: str) -> tuple[float, int]:
    """CPU seconds the named check took (prepare + every hook), and its finding count.

    Process CPU time rather than wall time: on a shared machine other processes' load stretches
    wall time of whichever check happens to run at that moment. Worker processes a check forks
    (the evaluation boundary) count too, once they have ended."""
    report = Report()
    run.checks = [name]
    clear_memo()  # every secrets run starts cold, as a single CLI run does
    started = time.process_time() + _children_cpu()
    findings = run_checks(run, loaded, report)  # type: ignore[arg-type]
    elapsed = time.process_time() + _children_cpu() - started
    if report.errors:
        raise SystemExit(f"{name}: {report.errors[0].message}")
    return elapsed, len(findings)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cli", type=int, metavar="N", help="N fresh CLI processes instead (both checks cold)")
    args = ap.parse_args()
    root = corpus(args.count, args.dir)
    if args.cli:
        return cli_rounds(root, args.cli)
    run = Run(root=root.absolute())
    loaded = load(run)
    print(f"corpus {root}: {len(loaded.documents)} documents, {len(loaded.resources)} resources")
    alternate(run, loaded, "secrets", args.repeat)
    return 0


def alternate(run: Run, loaded: object, name: str, repeat: int) -> None:
    """Warm both up, then run the schema check and ``name`` alternately ``repeat`` times each; print
    each one's best and median CPU time and the ratio of the medians."""
    times: dict[str, list[float]] = {"schema": [], name: []}
    counts: dict[str, int] = {}
    time_check(run, loaded, "schema")  # warm-up: schema compilation, imports
    time_check(run, loaded, name)
    for _ in range(repeat):
        for check in times:
            elapsed, counts[check] = time_check(run, loaded, check)
            times[check].append(elapsed)
    resources = len(loaded.resources)  # type: ignore[attr-defined]
    for check, values in times.items():
        print(f"{check:<8} CPU best {min(values):.3f} s  median {statistics.median(values):.3f} s  "
              f"({counts[check]} findings, {resources / min(values):,.0f} resources/s)")
    ratio = statistics.median(times[name]) / statistics.median(times["schema"])
    print(f"{name} / schema (median): {ratio:.2f}")


def cli_rounds(root: Path, rounds: int) -> int:
    """Time both checks in ``rounds`` fresh CLI processes; print per-round and median ratios."""
    ratios: list[float] = []
    pairs: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        for _ in range(rounds):
            done = subprocess.run([sys.executable, "-m", "gatekeeper", "check", str(root), "--checks",
                                   "schema,secrets", "--format", "json", "--output", str(out)],
                                  capture_output=True, text=True, check=False)
            if done.returncode == 2 or not out.exists():
                raise SystemExit(f"gatekeeper failed: {done.stderr.strip()[:500]}")
            timings = json.loads(out.read_text())["timings"]
            pairs.append((timings["schema"], timings["secrets"]))
            ratios.append(timings["secrets"] / timings["schema"])
    print(f"corpus {root}: {rounds} fresh processes, both checks cold")
    print("secrets / schema per round: " + ", ".join(f"{r:.2f}" for r in ratios))
    print(f"median schema {statistics.median(p[0] for p in pairs):.3f} s, "
          f"median secrets {statistics.median(p[1] for p in pairs):.3f} s, "
          f"median ratio {statistics.median(ratios):.2f}, secrets faster in {sum(r < 1 for r in ratios)}/{rounds}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
