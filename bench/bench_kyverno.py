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

``--phases`` prints where the check's CPU time goes (prepare, plans, workers, boundary, findings).

Usage: bench_kyverno.py [--count 10000] [--dir DIR] [--repeat 5] [--profile] [--phases]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

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


def phases(run: Run, loaded: Loaded, repeat: int) -> None:
    """Where the check's CPU goes: prepare, the plans made before the fork, the workers' user and
    system time, the gate's side of the boundary and the findings (best of ``repeat`` runs)."""
    import resource
    import statistics

    from gatekeeper.rego import boundary

    def cpu() -> tuple[float, float, float]:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime, kids.ru_utime, kids.ru_stime

    inner = boundary.run
    spent: list[tuple[float, float, float]] = []

    def measured(*args: Any, **kwargs: Any) -> Any:
        before = cpu()
        out = inner(*args, **kwargs)
        after = cpu()
        spent.append((after[0] - before[0], after[1] - before[1], after[2] - before[2]))
        return out

    rows: list[dict[str, float]] = []
    boundary.run = measured  # type: ignore[assignment]
    try:
        for _ in range(repeat):
            spent.clear()
            check = KyvernoCheck()
            ctx = Context(run.root, loaded.documents, loaded.resources, run.config, "", dict(run.options))
            a = cpu()
            check.prepare(ctx)
            b = cpu()
            assert check.evaluator is not None
            for r in check.subjects(ctx):
                check.evaluator.quiet(r.obj)
            c = cpu()
            list(check.check_all(ctx))
            d = cpu()
            gate = sum(s[0] for s in spent)
            rows.append({"prepare": b[0] - a[0], "plans (before the fork)": c[0] - b[0],
                         "workers, user": sum(s[1] for s in spent), "workers, system": sum(s[2] for s in spent),
                         "boundary, the gate's side": gate, "findings": d[0] - c[0] - gate,
                         "total": sum(d) - sum(a)})
    finally:
        boundary.run = inner  # type: ignore[assignment]
    for key in rows[0]:
        values = [r[key] for r in rows]
        print(f"{key:<28} best {min(values):.3f} s  median {statistics.median(values):.3f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--profile", nargs="?", const="cumulative", choices=("cumulative", "tottime"),
                    help="print the kyverno check's hottest functions (sorted by cumulative or own time)")
    ap.add_argument("--phases", action="store_true", help="print where the kyverno check's CPU time goes")
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
    if args.phases:
        phases(run, loaded, args.repeat)
        return 0
    alternate(run, loaded, "kyverno", args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
