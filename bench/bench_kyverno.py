#!/usr/bin/env python3
"""Benchmark: the kyverno check against the schema check over the same corpus.

The policies are the library's Kyverno ports of the Pod Security Standards (every policy under
``policies/kyverno/pod-security``, pattern, deny, foreach and podSecurity rules, each with its
auto-generated controller rules) and of the starter library's rules (``best-practices`` and
``foreach/restrict-image-registries``), copied without their tests into one policy directory.

In one process: load the corpus once, then run the schema check and the kyverno check alternately
``--repeat`` times each (CPU time, prepare included: policies are loaded and checked every run);
prints the best and median of each and the ratio kyverno / schema (worker processes' CPU time
included). ``--profile [tottime]`` prints the hottest functions of the evaluation instead, run in
this process (the check evaluates in workers a profiler cannot see).

Usage: bench_kyverno.py [--count 10000] [--dir DIR] [--repeat 5] [--profile]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bench_secrets import alternate  # CPU time of checks over loaded resources
from corpus import corpus  # bench/corpus.py (scripts run from their directory)

from gatekeeper.checks.base import Context
from gatekeeper.checks.kyverno import KyvernoCheck
from gatekeeper.checks.policy.redact import redact
from gatekeeper.pipeline import Loaded, Run, load

LIBRARY = Path(__file__).resolve().parents[1] / "gatekeeper" / "library" / "policies" / "kyverno"
SETS = ("pod-security", "best-practices", "foreach/restrict-image-registries")


def policy_dir() -> Path:
    """The benchmark's policies, without their tests, in a fresh directory."""
    out = Path(tempfile.mkdtemp(prefix="gk-kyverno-policies-"))
    for name in SETS:
        for path in sorted((LIBRARY / name).rglob("*.yaml")):
            if "tests" not in path.relative_to(LIBRARY).parts:
                shutil.copy(path, out / path.name)
    return out


def evaluate_in_process(run: Run, loaded: Loaded) -> int:
    """The kyverno check's evaluation in this process (the check itself evaluates in worker
    processes, which a profiler here cannot see); the number of reported results."""
    check = KyvernoCheck()
    ctx = Context(run.root, loaded.documents, loaded.resources, run.config, "", dict(run.options))
    check.prepare(ctx)
    assert check.evaluator is not None
    return sum(len(check.evaluator.failures(redact(r.obj))) for r in check.subjects(ctx))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--profile", nargs="?", const="cumulative", choices=("cumulative", "tottime"),
                    help="print the kyverno check's hottest functions (sorted by cumulative or own time)")
    args = ap.parse_args()
    root = corpus(args.count, args.dir)
    policies = policy_dir()
    count = len(list(policies.glob("*.yaml")))
    run = Run(root=root.absolute(), options={"policy": [str(policies)]})
    loaded = load(run)
    print(f"corpus {root}: {len(loaded.documents)} documents, {len(loaded.resources)} resources; "
          f"{count} Kyverno policies")
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(evaluate_in_process, run, loaded)
        pstats.Stats(profiler).sort_stats(args.profile).print_stats(30)
        return 0
    alternate(run, loaded, "kyverno", args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
