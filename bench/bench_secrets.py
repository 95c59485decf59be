#!/usr/bin/env python3
"""Benchmark: the secrets check against the schema check over the same loaded corpus, in one process.

Loads the corpus once (synthetic, generated with ``--count``, or ``--dir``), then runs the schema
check and the secrets check alternately ``--repeat`` times each and prints the best and median
CPU time of each and the ratio secrets / schema (the figure that matters on a noisy machine: both
are measured in the same run, interleaved). The secrets check's memo of clean values is cleared
before each of its runs, so every run is cold; the schema check keeps its compiled validators
after the warm-up run, as it does for every resource after the first of a kind within one run.

Usage: bench_secrets.py [--count 10000] [--dir DIR] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gatekeeper.checks.secrets.scan import clear_memo
from gatekeeper.model import Report
from gatekeeper.pipeline import Run, load, run_checks

GEN = Path(__file__).resolve().parents[2] / "shared" / "bench" / "gen_corpus.py"


def corpus(count: int, directory: Path | None) -> Path:
    """The corpus directory: the given one, or a freshly generated synthetic corpus."""
    if directory is not None:
        return directory
    out = Path(tempfile.mkdtemp(prefix="gk-bench-")) / f"c{count}"
    subprocess.run([sys.executable, str(GEN), "--count", str(count), "--seed", "1", "--out", str(out)],
                   check=True, capture_output=True)
    return out


def time_check(run: Run, loaded: object, name: str) -> tuple[float, int]:
    """CPU seconds the named check took (prepare + every hook), and its finding count.

    Process CPU time rather than wall time: on a shared machine other processes' load stretches
    wall time of whichever check happens to run at that moment."""
    report = Report()
    run.checks = [name]
    clear_memo()  # every secrets run starts cold, as a single CLI run does
    started = time.process_time()
    findings = run_checks(run, loaded, report)  # type: ignore[arg-type]
    elapsed = time.process_time() - started
    if report.errors:
        raise SystemExit(f"{name}: {report.errors[0].message}")
    return elapsed, len(findings)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    root = corpus(args.count, args.dir)
    run = Run(root=root.absolute())
    loaded = load(run)
    print(f"corpus {root}: {len(loaded.documents)} documents, {len(loaded.resources)} resources")
    times: dict[str, list[float]] = {"schema": [], "secrets": []}
    counts: dict[str, int] = {}
    time_check(run, loaded, "schema")  # warm-up: schema compilation, imports
    time_check(run, loaded, "secrets")
    for _ in range(args.repeat):
        for name in times:
            elapsed, counts[name] = time_check(run, loaded, name)
            times[name].append(elapsed)
    for name, values in times.items():
        print(f"{name:<8} CPU best {min(values):.3f} s  median {statistics.median(values):.3f} s  "
              f"({counts[name]} findings, {len(loaded.resources) / min(values):,.0f} resources/s)")
    ratio = statistics.median(times["secrets"]) / statistics.median(times["schema"])
    print(f"secrets / schema (median): {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
