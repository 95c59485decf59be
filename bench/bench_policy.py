#!/usr/bin/env python3
"""Benchmark: the policy check with the starter library over a synthetic corpus, in one process.

Generates the shared synthetic corpus (default 10,000 resources, seed 1) or reads a
directory, loads it once, then times the policy check (prepare: compile every policy set
once; evaluate: every document against the conftest rules and every resource against every
matching constraint) with only the conftest dialect, only the Gatekeeper dialect, and both.
Also times one simple deny rule on one document, the per-evaluation floor.
Figures are best of ``--repeat`` rounds; "evaluations" count (document x policy set) for
conftest and (resource x matching constraint) for Gatekeeper.

Usage: bench_policy.py [--count 10000] [--dir DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from pathlib import Path

from corpus import corpus  # bench/corpus.py (scripts run from their directory)

from gatekeeper.checks.policy.match import matches
from gatekeeper.model import Report
from gatekeeper.pipeline import Run, load, run_checks
from gatekeeper.rego.engine import RegoEngine
from gatekeeper.rego.library import library_path
from gatekeeper.rego.modules import load_module


def policy_sets() -> dict[str, Path]:
    """The starter library split by dialect (copies in a temp dir) and whole."""
    base = Path(tempfile.mkdtemp(prefix="gk-bench-lib-"))
    conftest = base / "conftest"
    shutil.copytree(library_path() / "conftest", conftest)
    gk = base / "gatekeeper"
    shutil.copytree(library_path() / "gatekeeper", gk)
    return {"conftest": conftest, "gatekeeper": gk, "both": library_path()}


def simple_rule(repeat: int) -> float:
    """Seconds per evaluation of one simple deny rule on one small document."""
    module = load_module("simple.rego", 'package main\nimport rego.v1\ndeny contains "no" if {\n'
                                        '  input.kind == "Deployment"\n  not input.spec.replicas\n}\n')
    program = RegoEngine().compile([module], {}, {"deny": ["main", "deny"]})
    doc = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "labels": {"a": "b"}},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "c:1"}]}}}}
    n = 5000
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(n):
            program.evaluate(doc)
        best = min(best, (time.perf_counter() - started) / n)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--by-template", action="store_true", help="Also time each Gatekeeper template alone.")
    args = ap.parse_args()
    root = corpus(args.count, args.dir, "bench-policy")
    loaded = load(Run(root=root, paths=[root]))
    resources, documents = len(loaded.resources), len(loaded.documents)
    print(f"corpus: {root} ({documents} documents, {resources} resources)")
    print(f"machine: {platform.machine()} {platform.processor() or ''} Python {platform.python_version()}, "
          f"regopy {__import__('regopy').build_info().split()[0]}")
    per_eval = simple_rule(args.repeat)
    print(f"simple deny rule: {per_eval * 1e3:.3f} ms per evaluation ({1 / per_eval:.0f} evaluations/s)")
    for name, policies in policy_sets().items():
        best = float("inf")
        findings = 0
        check = None
        for _ in range(args.repeat):
            run = Run(root=root, paths=[root], checks=["policy"], options={"policy": [str(policies)]})
            report = Report()
            from gatekeeper.checks import get_check

            produced = run_checks(run, loaded, report)
            assert not report.errors, report.errors
            findings = len(produced)
            best = min(best, report.timings["policy"])
            check = get_check("policy")
            check.prepare(_ctx(run, loaded))
        evaluations = _evaluations(check, loaded) if check is not None else 0
        print(f"{name:>10}: {best:7.2f} s  {resources / best:7.0f} resources/s  "
              f"{evaluations / best:7.0f} evaluations/s  ({evaluations} evaluations, {findings} findings, "
              f"best of {args.repeat})")
    if args.by_template:
        by_template(root, loaded)
    return 0


def by_template(root: Path, loaded: object) -> None:
    """Seconds and evaluations per Gatekeeper template over the whole corpus (one round)."""
    from gatekeeper.checks.policy import PolicyCheck
    from gatekeeper.checks.policy.gkdialect import subject

    check = PolicyCheck()
    run = Run(root=root, paths=[root], options={"policy": [str(library_path() / "gatekeeper")]})
    check.prepare(_ctx(run, loaded))  # type: ignore[arg-type]
    gk = check.gatekeeper
    assert gk is not None
    for kind in gk.programs:
        count = 0
        started = time.perf_counter()
        for r in loaded.resources:  # type: ignore[attr-defined]
            count += len(gk.evaluate(subject(r.obj, check.cluster_kinds), check.namespaces,
                                     only=[c for c in gk.constraints if c.kind == kind]))
        secs = time.perf_counter() - started
        print(f"  {kind:>26}: {secs:7.2f} s for {count} evaluations ({1e3 * secs / max(count, 1):.2f} ms each)")


def _ctx(run: Run, loaded: object) -> object:
    from gatekeeper.checks.base import Context

    return Context(run.root, loaded.documents, loaded.resources, run.config, "1.31", dict(run.options))  # type: ignore[attr-defined]


def _evaluations(check: object, loaded: object) -> int:
    """Evaluations the check makes: one per document per conftest set, one per matching constraint."""
    total = 0
    conftest = getattr(check, "conftest", None)
    if conftest is not None:
        total += sum(1 for d in loaded.documents if d.obj is not None)  # type: ignore[attr-defined]
    gk = getattr(check, "gatekeeper", None)
    if gk is not None:
        from gatekeeper.checks.policy.gkdialect import subject

        kinds = check.cluster_kinds  # type: ignore[attr-defined]
        for r in loaded.resources:  # type: ignore[attr-defined]
            s = subject(r.obj, kinds)
            total += sum(1 for c in gk.constraints if c.severity is not None and
                         matches(c.match, s.obj, s.group, s.kind, s.namespace, s.cluster_scoped, check.namespaces))  # type: ignore[attr-defined]
    return total


if __name__ == "__main__":
    raise SystemExit(main())
