#!/usr/bin/env python3
"""Benchmark: the pre-commit hook with the starter policy library, 10 staged files, 10k repository.

Builds the repository of ``bench_pr.py`` (the synthetic corpus committed, then 10 manifests
edited), stages the 10 edits, byte-compiles the package (as an install does), warms the parse
cache with one run, and times the hook's command
(``check --staged --scope all FILES --policy POLICIES``) as a real process, best of ``--repeat``;
the report's timings show the policy check's share. The same command without ``--policy`` is
timed for scale.

With ``--compare SRC`` (the source tree of another version, e.g. ``git archive main | tar -x -C
SRC``), each round runs that version and this checkout alternately on the same repository (each
with its own warm store), and prints min and median CPU and wall per version and whether their
findings are byte-identical (JSON, sorted).

Usage: bench_precommit_policy.py [--count 10000] [--repeat 3] [--dir EXISTING_CORPUS] [--compare SRC]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_pr import build_repo, git  # bench/bench_pr.py (scripts run from their directory)

import gatekeeper
from gatekeeper.rego.library import library_path

HERE = str(Path(gatekeeper.__file__).parent.parent)


def hook(repo: Path, files: list[str], extra: list[str],
         source: str | None = None) -> tuple[float, dict[str, float], str]:
    """One run of the hook's command: wall time, the report's timings (with ``cpu``: the hook and its
    children), and a digest of its findings (sorted JSON). ``source``: the source tree to run."""
    cmd = [sys.executable, "-m", "gatekeeper", "check", "--staged", "--scope", "all", "--format", "json",
           *extra, *files]
    env = dict(os.environ, PYTHONPATH=source) if source is not None else None
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"hook failed with exit {proc.returncode}: {proc.stderr[-500:]}")
    report = json.loads(proc.stdout)
    timings = report["timings"]
    # CPU of the hook and its children (workers, renderers, git): the fairer figure on a loaded machine
    timings["cpu"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    findings = json.dumps(sorted(json.dumps(f, sort_keys=True) for f in report["findings"]))
    return wall, timings, hashlib.sha256(findings.encode()).hexdigest()[:16]


def compare(repo: Path, changed: list[str], other: str, rounds: int) -> None:
    """Alternate ``other`` and this checkout, ``rounds`` times each (after a warming run of each)."""
    policies = ["--policy", str(library_path())]
    for label, extra in (("hook without policies", []), ("hook with the starter library", policies)):
        versions = {"other": other, "this": HERE}
        for source in versions.values():
            hook(repo, changed, extra, source)  # warms each version's store
        runs: dict[str, list[tuple[float, float, str]]] = {name: [] for name in versions}
        loads: list[float] = []
        for i in range(rounds):
            order = list(versions.items()) if i % 2 == 0 else list(versions.items())[::-1]
            for name, source in order:
                wall, timings, digest = hook(repo, changed, extra, source)
                runs[name].append((wall, timings["cpu"], digest))
                loads.append(os.getloadavg()[0])
        print(f"{label}, {rounds} rounds, load average {min(loads):.1f}-{max(loads):.1f}:")
        for name, found in runs.items():
            walls, cpus = [r[0] for r in found], [r[1] for r in found]
            print(f"  {name} ({versions[name]}): CPU min {min(cpus):.2f} s, median {statistics.median(cpus):.2f} s; "
                  f"wall min {min(walls):.2f} s, median {statistics.median(walls):.2f} s")
        digests = {r[2] for found in runs.values() for r in found}
        print(f"  findings identical in every run: {len(digests) == 1}")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--compare", metavar="SRC", help="source tree of another version to alternate with")
    args = ap.parse_args()
    # An installed gate runs from byte-compiled modules (pip writes them); a checkout run with
    # PYTHONDONTWRITEBYTECODE set would compile every module in every hook process instead.
    for tree in [Path(gatekeeper.__file__).parent, *([Path(args.compare) / "gatekeeper"] if args.compare else [])]:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree)], check=True, capture_output=True)
    repo, changed = build_repo(args.count, args.dir)
    git(repo, "reset", "-q", "--soft", "HEAD~1")  # the edits become staged, uncommitted changes
    print(f"repository {repo}: {len(changed)} staged files; load average {os.getloadavg()[0]:.1f}")
    if args.compare:
        compare(repo, changed, str(Path(args.compare).absolute()), args.repeat)
        return 0
    policies = ["--policy", str(library_path())]
    for label, extra in (("hook without policies", []), ("hook with the starter library", policies)):
        hook(repo, changed, extra)  # warms the parse cache
        runs = [hook(repo, changed, extra) for _ in range(args.repeat)]
        wall, timings, _ = min(runs, key=lambda r: r[0])
        split = ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())
        print(f"{label}: {wall:.2f}s wall, best of {args.repeat} ({split}); load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
