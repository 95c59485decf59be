#!/usr/bin/env python3
"""Benchmark: the policy check with the starter library, against the schema check, on a synthetic corpus.

Default (in one process): generates the shared synthetic corpus (``--count``, seed 1) or reads
``--dir``, loads it once, then times, best of ``--repeat`` rounds, the schema check alone and the
policy check with the starter library (conftest only, Gatekeeper only, both) as the pipeline runs
them (workers included), and prints the ratio policy / schema. ``--by-template`` adds each
Gatekeeper template's cost per evaluation (in this process, no workers) and the inventory's cost
(build + load into the engine). ``--curve 2000,10000,50000`` instead runs whole
``gatekeeper check`` processes (all checks, starter library) on corpora of those sizes and prints
wall time and the policy check's time per size, to show how it scales; ``--check-curve`` loads
each corpus in this process and reports the schema and policy checks' CPU time per size.

``--findings-out DIR`` writes each policy set's findings (last round) to DIR/<set>.jsonl in a
stable order, so two versions of the gate can be compared byte for byte.

``--phases`` adds where the policy check's CPU goes, its steps run in this process.

Usage: bench_policy.py [--count 10000] [--dir DIR] [--repeat 3] [--jobs N] [--by-template] [--phases]
                       [--findings-out DIR]
       bench_policy.py --curve 2000,5000,10000,20000,50000 [--jobs N] [--curve-dir DIR]
                       [--curve-policies rego] [--curve-render none]
       bench_policy.py --check-curve 2000,10000,50000 [--jobs N] [--curve-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from corpus import corpus  # bench/corpus.py (scripts run from their directory)

from gatekeeper.checks.base import Context
from gatekeeper.checks.policy import PolicyCheck, _shows_text
from gatekeeper.checks.policy.gkdialect import subject
from gatekeeper.checks.policy.inventory import build, cluster_scoped_kinds
from gatekeeper.checks.policy.masking import Masker
from gatekeeper.checks.policy.redact import Redactor, redact
from gatekeeper.model import Report
from gatekeeper.pipeline import Loaded, Run, load, run_checks
from gatekeeper.rego import native
from gatekeeper.rego.engine import RegorusEngine, RegorusProgram
from gatekeeper.rego.library import library_path
from gatekeeper.rego.modules import load_module
from gatekeeper.report.json import finding_dict


class EngineCalls:
    """Counts the evaluations that reach the engine (``RegorusProgram._run``) while active: the
    Gatekeeper dialect skips inputs no input guard holds on (``rego/guards.py``)."""

    def __init__(self) -> None:
        self.count = 0
        self._original: Any = None

    def __enter__(self) -> EngineCalls:
        self._original = original = RegorusProgram._run

        def counting(program: RegorusProgram, *args: Any) -> dict[str, Any]:
            self.count += 1
            return original(program, *args)

        RegorusProgram._run = counting  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        RegorusProgram._run = self._original  # type: ignore[method-assign]


def policy_sets() -> dict[str, Path]:
    """The starter library split by dialect (copies in a temp dir) and whole."""
    base = Path(tempfile.mkdtemp(prefix="gk-bench-lib-"))
    shutil.copytree(library_path() / "conftest", base / "conftest")
    shutil.copytree(library_path() / "gatekeeper", base / "gatekeeper")
    return {"conftest": base / "conftest", "gatekeeper": base / "gatekeeper", "both": library_path()}


def simple_rule(repeat: int) -> float:
    """Seconds per evaluation of one simple deny rule on one small document."""
    module = load_module("simple.rego", 'package main\nimport rego.v1\ndeny contains "no" if {\n'
                                        '  input.kind == "Deployment"\n  not input.spec.replicas\n}\n')
    program = RegorusEngine().compile([module], {}, {"deny": ["main", "deny"]})
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


def timed(root: Path, loaded: Loaded, checks: list[str], options: dict[str, Any], repeat: int,
          out: Path | None = None) -> tuple[float, float, int]:
    """Best of ``repeat`` runs of the checks over the loaded corpus: (wall seconds in the checks,
    CPU seconds of this process and of the workers it started, findings). ``out``: the last run's
    findings are written there, one JSON object a line in a stable order (to compare two versions)."""
    best = best_cpu = float("inf")
    findings = 0
    produced: list[Any] = []
    for _ in range(repeat):
        run = Run(root=root, paths=[root], checks=checks, options=dict(options))
        report = Report()
        cpu = time.process_time() + _children_cpu()
        produced = run_checks(run, loaded, report)
        cpu = time.process_time() + _children_cpu() - cpu
        assert not report.errors, report.errors
        findings = len(produced)
        best = min(best, sum(report.timings.get(c, 0.0) for c in checks))
        best_cpu = min(best_cpu, cpu)
    if out is not None:  # the policy directories' places (temporary copies) are written as <policies>
        lines = sorted(json.dumps(finding_dict(f), sort_keys=True, default=str) for f in produced)
        text = "".join(line + "\n" for line in lines)
        for where in sorted({str(p) for p in options.get("policy", [])}, key=len, reverse=True):
            text = text.replace(where, "<policies>")
        out.write_text(text)
    return best, best_cpu, findings


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def by_template(root: Path, loaded: Loaded) -> None:
    """Per-evaluation CPU cost of each Gatekeeper template (in this process; CPU time, since wall time
    on the shared machine mostly measures the load) and the inventory's cost."""
    objects = [redact(r.obj) for r in loaded.resources]
    started = time.perf_counter()
    kinds = cluster_scoped_kinds(objects)
    inventory = build(objects, kinds)
    built = time.perf_counter() - started
    started = time.perf_counter()
    RegorusEngine()._base({"inventory": inventory})
    loaded_s = time.perf_counter() - started
    print(f"  inventory of {len(objects)} objects: built in {built:.3f} s, loaded into the engine in "
          f"{loaded_s:.3f} s (whole inventory; templates get only the kinds they name)")
    check = PolicyCheck()
    run = Run(root=root, paths=[root], options={"policy": [str(library_path() / "gatekeeper")]})
    check.prepare(Context(run.root, loaded.documents, loaded.resources, run.config, "1.31", dict(run.options)))
    gk = check.gatekeeper
    assert gk is not None
    subjects = [subject(redact(r.obj), check.cluster_kinds) for r in loaded.resources]
    for i, constraint in enumerate(gk.constraints):
        chosen = [(s, gk.chosen(s, check.namespaces, [i])) for s in subjects]
        chosen = [(s, c) for s, c in chosen if c]
        started = time.process_time()
        with EngineCalls() as calls:
            for s, c in chosen:
                gk.evaluate(s, c)
        secs = time.process_time() - started
        each = 1e3 * secs / max(len(chosen), 1)
        print(f"  {constraint.template.name:>24}: {len(chosen):6d} evaluations ({calls.count} in the engine, the "
              f"others skipped by input guards), {each:.3f} ms of CPU each ({secs:.2f} s)")


def phases(root: Path, loaded: Loaded) -> None:
    """Where the policy check's CPU goes, per policy set, its steps run in this process (no workers):
    the scan of the run's documents for secret values, the rest of loading (compiling, inventory,
    dry runs and hoisting), planning, evaluating every task, and making findings (with masking)."""
    print("| policy set | secret-value scan | rest of prepare | plan | evaluation (tasks, evaluations, in the engine) "
          "| findings | total |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, policies in policy_sets().items():
        run = Run(root=root, paths=[root], options={"policy": [str(policies)]})
        ctx = Context(run.root, loaded.documents, loaded.resources, run.config, "1.31", dict(run.options))
        check = PolicyCheck()
        started = time.process_time()
        Redactor(ctx.documents, ctx.detected)  # the scan on its own (the check makes it once, below)
        scan = time.process_time() - started
        started = time.process_time()
        check.prepare(ctx)
        check.redactor  # noqa: B018
        prepare = time.process_time() - started - scan
        started = time.process_time()
        tasks = check._plan(ctx, None)
        check._hoist_scoped(tasks)
        plan = time.process_time() - started
        started = time.process_time()
        with EngineCalls() as calls:
            done = {task: check._work(task, None) for task in tasks}
        work = time.process_time() - started
        started = time.process_time()
        shown = any(_shows_text(task, done[task]) for task in tasks)  # as check_all: masking only with text
        check._masker = Masker(check.redactor.values if shown else ())
        count = sum(len(check._findings(task, done[task])) for task in tasks)
        made = time.process_time() - started
        evaluations = sum(len(t.only) if t.dialect == "gatekeeper" else 1 for t in tasks)
        print(f"| {name} | {scan:.2f} | {prepare:.2f} | {plan:.2f} | {work:.2f} ({len(tasks):,}, {evaluations:,}, "
              f"{calls.count:,}) | "
              f"{made:.2f} ({count:,}) | {scan + prepare + plan + work + made:.2f} |", flush=True)


def curve(sizes: list[int], jobs: int | None, directory: Path | None = None, only: str | None = None,
          render: str | None = None) -> None:
    """Whole ``gatekeeper check`` processes (all checks, starter library) per corpus size. ``only``
    (``rego``) keeps the library's Rego parts (conftest and Gatekeeper, the library the engine
    issue measured); ``render`` is passed as ``--render`` (``none``: the corpus's kustomizations
    are checked as files, so rendering's cost is left out)."""
    policies = ([str(library_path() / part) for part in ("conftest", "gatekeeper")] if only == "rego"
                else [str(library_path())])
    print("| resources | wall (s) | CPU, all processes (s) | policy check (s) | schema check (s) | wall per 1,000 | "
          "CPU per 1,000 | load |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        given = directory / f"c{size}" if directory is not None else None
        root = given if given is not None and given.is_dir() else corpus(size, None, f"bench-curve-{size}")
        cmd = [sys.executable, "-m", "gatekeeper", "check", str(root), "--format", "json"]
        cmd += [arg for policy in policies for arg in ("--policy", policy)]
        cmd += (["--jobs", str(jobs)] if jobs else []) + (["--render", render] if render else [])
        started, cpu = time.perf_counter(), _children_cpu()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall, cpu = time.perf_counter() - started, _children_cpu() - cpu
        if proc.returncode not in (0, 1):
            print(f"| {size} | failed with exit {proc.returncode}: {proc.stderr[-300:]} |")
            continue
        timings = json.loads(proc.stdout)["timings"]
        policy, schema = timings.get("policy", 0), timings.get("schema", 0)
        print(f"| {size:,} | {wall:.1f} | {cpu:.1f} | {policy:.2f} | {schema:.2f} | {1000 * wall / size:.2f} | "
              f"{1000 * cpu / size:.2f} | {os.getloadavg()[0]:.1f} |", flush=True)
        if root != given:
            shutil.rmtree(root.parent, ignore_errors=True)


def check_curve(sizes: list[int], jobs: int | None, directory: Path | None = None) -> None:
    """Per corpus size, in this process: the schema check and the policy check with the whole
    starter library, CPU time of all processes (the check's own share, without loading)."""
    print("| resources | schema check CPU (s) | policy check CPU (s) | policy / schema | policy CPU per 1,000 "
          "| policy wall (s) | load |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    extra = {"jobs": jobs} if jobs else {}
    for size in sizes:
        given = directory / f"c{size}" if directory is not None else None
        root = given if given is not None and given.is_dir() else corpus(size, None, f"bench-curve-{size}")
        loaded = load(Run(root=root, paths=[root]))
        _, schema_cpu, _ = timed(root, loaded, ["schema"], {}, 1)
        wall, cpu, _ = timed(root, loaded, ["policy"], {"policy": [str(library_path())], **extra}, 1)
        print(f"| {size:,} | {schema_cpu:.2f} | {cpu:.2f} | {cpu / schema_cpu:.1f}x | {1000 * cpu / size:.3f} | "
              f"{wall:.1f} | {os.getloadavg()[0]:.1f} |", flush=True)
        del loaded
        if root != given:
            shutil.rmtree(root.parent, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int)
    ap.add_argument("--by-template", action="store_true", help="Also time each Gatekeeper template alone.")
    ap.add_argument("--phases", action="store_true", help="Also show where the policy check's CPU goes (in this "
                                                          "process, no workers).")
    ap.add_argument("--curve", help="Comma-separated corpus sizes: whole processes per size.")
    ap.add_argument("--curve-dir", type=Path, help="Directory holding c<size> corpora to reuse for --curve.")
    ap.add_argument("--curve-policies", choices=["all", "rego"], default="all",
                    help="--curve with the whole library (default) or its Rego parts only (conftest, Gatekeeper).")
    ap.add_argument("--curve-render", choices=["auto", "none"],
                    help="--curve: passed as --render (none: kustomizations checked as files, no rendering).")
    ap.add_argument("--check-curve", help="Comma-separated corpus sizes: the two checks' CPU per size, in this "
                                          "process (loading not counted).")
    ap.add_argument("--findings-out", type=Path,
                    help="Write each policy set's findings to DIR/<set>.jsonl (compare two versions with cmp).")
    args = ap.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"regorus {native.version()}, load average {os.getloadavg()[0]:.1f}")
    if args.curve:
        curve([int(x) for x in args.curve.split(",")], args.jobs, args.curve_dir,
              args.curve_policies if args.curve_policies != "all" else None, args.curve_render)
        return 0
    if args.check_curve:
        check_curve([int(x) for x in args.check_curve.split(",")], args.jobs, args.curve_dir)
        return 0
    root = corpus(args.count, args.dir, "bench-policy")
    loaded = load(Run(root=root, paths=[root]))
    print(f"corpus: {root} ({len(loaded.documents)} documents, {len(loaded.resources)} resources)")
    per_eval = simple_rule(args.repeat)
    print(f"simple deny rule: {per_eval * 1e3:.3f} ms per evaluation ({1 / per_eval:.0f} evaluations/s)")
    extra = {"jobs": args.jobs} if args.jobs else {}
    schema, schema_cpu, _ = timed(root, loaded, ["schema"], {}, args.repeat)
    print(f"{'schema':>10}: {schema:7.2f} s wall, {schema_cpu:6.2f} s CPU")
    for name, policies in policy_sets().items():
        out = None
        if args.findings_out is not None:
            args.findings_out.mkdir(parents=True, exist_ok=True)
            out = args.findings_out / f"{name}.jsonl"
        secs, cpu, findings = timed(root, loaded, ["policy"], {"policy": [str(policies)], **extra}, args.repeat, out)
        print(f"{name:>10}: {secs:7.2f} s wall ({secs / schema:5.2f}x the schema check), {cpu:6.2f} s CPU "
              f"in all processes ({cpu / schema_cpu:5.2f}x)  {len(loaded.resources) / secs:8.0f} resources/s  "
              f"({findings} findings, best of {args.repeat}; load average {os.getloadavg()[0]:.1f})")
    if args.by_template:
        by_template(root, loaded)
    if args.phases:
        phases(root, loaded)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
