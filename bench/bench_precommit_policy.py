#!/usr/bin/env python3
"""Benchmark: the pre-commit hook with the starter policy library, 10 staged files, 10k repository.

Builds the repository of ``bench_pr.py`` (the synthetic corpus committed, then 10 manifests
edited), stages the 10 edits, byte-compiles the package (as an install does), warms the parse
cache with one run, and times the hook's command
(``check --staged --scope all FILES --policy POLICIES``) as a real process, best of ``--repeat``;
the report's timings show the policy check's share. The same command without ``--policy`` is
timed for scale.

Usage: bench_precommit_policy.py [--count 10000] [--repeat 3] [--dir EXISTING_CORPUS]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench_pr import build_repo, git  # bench/bench_pr.py (scripts run from their directory)

import gatekeeper
from gatekeeper.rego.library import library_path


def hook(repo: Path, files: list[str], extra: list[str]) -> tuple[float, dict[str, float]]:
    cmd = [sys.executable, "-m", "gatekeeper", "check", "--staged", "--scope", "all", "--format", "json",
           *extra, *files]
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"hook failed with exit {proc.returncode}: {proc.stderr[-500:]}")
    timings = json.loads(proc.stdout)["timings"]
    # CPU of the hook and its children (workers, renderers, git): the fairer figure on a loaded machine
    timings["cpu"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, timings


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path)
    args = ap.parse_args()
    # An installed gate runs from byte-compiled modules (pip writes them); a checkout run with
    # PYTHONDONTWRITEBYTECODE set would compile every module in every hook process instead.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(gatekeeper.__file__).parent)],
                   check=True, capture_output=True)
    repo, changed = build_repo(args.count, args.dir)
    git(repo, "reset", "-q", "--soft", "HEAD~1")  # the edits become staged, uncommitted changes
    print(f"repository {repo}: {len(changed)} staged files; load average {os.getloadavg()[0]:.1f}")
    policies = ["--policy", str(library_path())]
    for label, extra in (("hook without policies", []), ("hook with the starter library", policies)):
        hook(repo, changed, extra)  # warms the parse cache
        runs = [hook(repo, changed, extra) for _ in range(args.repeat)]
        wall, timings = min(runs, key=lambda r: r[0])
        split = ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())
        print(f"{label}: {wall:.2f}s wall, best of {args.repeat} ({split}); load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
