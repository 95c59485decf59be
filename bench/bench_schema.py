#!/usr/bin/env python3
"""Benchmark: parse-only floor vs the gate's load stage vs the schema check, in one process.

Generates the synthetic corpus (or reads a directory) and prints resources/second for
(a) the parsing floor: read + ``yaml.load_all(CSafeLoader)`` of every file, nothing else;
(b) the gate's load stage (walk, parse with positions, resources);
(c) the schema check alone over the loaded resources;
and the ratio (b + c) / a. Each figure is the best of ``--repeat`` runs (the machine is noisy).

Usage: bench_schema.py [--count 10000] [--dir DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml
from corpus import corpus  # bench/corpus.py (scripts run from their directory)

from gatekeeper.pipeline import Report, Run, gc_paused, load, run_checks


class FloorLoader(yaml.CSafeLoader):
    """CSafeLoader plus the YAML 1.1 '=' value tag, exactly as ../shared/bench/parse_floor.py."""


FloorLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def floor(root: Path) -> float:
    started = time.perf_counter()
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name.endswith((".yaml", ".yml")):
                with open(os.path.join(dirpath, name), "rb") as fh:
                    list(yaml.load_all(fh.read(), Loader=FloorLoader))
    return time.perf_counter() - started


def measure_once(root: Path, checks: str) -> dict[str, float]:
    """One fresh measurement: the floor, then the gate's load and checks (as pipeline.execute runs them)."""
    out = {"floor": floor(root)}
    run = Run(root=root, paths=[root], checks=checks.split(","))
    started = time.perf_counter()
    with gc_paused():
        loaded = load(run)
        out["load"] = time.perf_counter() - started
        started = time.perf_counter()
        run_checks(run, loaded, Report())
        out["checks"] = time.perf_counter() - started
    out["resources"] = len(loaded.resources)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--checks", default="schema")
    ap.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    root = corpus(args.count, args.dir)
    if args.once:
        print(json.dumps(measure_once(root, args.checks)))
        return 0
    best = {"floor": float("inf"), "load": float("inf"), "checks": float("inf")}
    resources = 0
    for _ in range(args.repeat):  # each round in a fresh process: no warm caches, no leftover heap
        proc = subprocess.run([sys.executable, __file__, "--once", "--dir", str(root), "--checks", args.checks],
                              check=True, capture_output=True, text=True)
        got = json.loads(proc.stdout)
        resources = int(got.pop("resources"))
        for key, secs in got.items():
            best[key] = min(best[key], secs)
    total = best["load"] + best["checks"]
    print(f"corpus: {root} ({resources} resources)")
    for name, secs in best.items():
        print(f"{name:>7}: {secs:7.3f} s  {resources / secs:9.0f} resources/s")
    print(f"  total: {total:7.3f} s  ({args.checks}) = {total / best['floor']:.2f}x the parsing floor")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
