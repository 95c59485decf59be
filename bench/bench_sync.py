#!/usr/bin/env python3
"""Benchmark: what the sync step costs on top of checking the same state.

Builds a dry repository with ``--count`` objects (ConfigMaps and Deployments, 10 per file) and
a deploy branch already holding ``--foreign`` files the step does not own, then times, in one
process: (a) the pipeline alone on the path's files (what ``check --scope all`` does);
(b) a first publish (export, render, full check, plumbing commit, note, compare-and-swap);
(c) a re-run with nothing changed (no commit); (d) a publish after one object changed; and
(e) the publish phase alone (plan, trees, commit, note, ref update) for that change.
Each figure is the best of ``--repeat`` runs.

Usage: bench_sync.py [--count 2000] [--foreign 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gatekeeper.config import Config
from gatekeeper.pipeline import Run, execute
from gatekeeper.sources.files import SourceFile
from gatekeeper.sync.gitcmd import Git
from gatekeeper.sync.publish import Publication, publish
from gatekeeper.sync.step import SyncRequest, sync
from gatekeeper.sync.target import LocalTarget

ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
       "GIT_COMMITTER_EMAIL": "b@x"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=ENV, check=True, capture_output=True,
                          text=True).stdout.strip()


def obj(i: int, value: str) -> str:
    if i % 2:
        return (f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: ns-{i % 7}\n"
                f"data:\n  key: {value}\n")
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{i}\n  namespace: ns-{i % 7}\n"
            "spec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n"
            "      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n"
            f"          image: registry.example.com/web:1.{i}.0\n")


def build(count: int, foreign: int) -> Path:
    repo = Path(tempfile.mkdtemp(prefix="gk-bench-sync-"))
    git(repo, "init", "-q", "-b", "main")
    env_dir = repo / "clusters" / "prod"
    env_dir.mkdir(parents=True)
    for f in range(0, count, 10):
        text = "---\n".join(obj(i, "v0") for i in range(f, min(f + 10, count)))
        (env_dir / f"part-{f // 10:04d}.yaml").write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "state")
    # A deploy branch that already holds many files of other owners.
    other = Path(tempfile.mkdtemp(prefix="gk-bench-branch-"))
    for i in range(foreign):
        path = other / "other" / f"d{i % 50}" / f"f{i}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{i}\n")
    env_index = {**ENV, "GIT_INDEX_FILE": str(other / ".idx"), "GIT_WORK_TREE": str(other)}
    subprocess.run(["git", "add", "-A", "."], cwd=other, env={**env_index, "GIT_DIR": str(repo / ".git")},
                   check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=repo, env={**env_index, "GIT_DIR": str(repo / ".git")},
                          check=True, capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "commit-tree", tree, "-m", "foreign files"], cwd=repo, env=ENV,
                            check=True, capture_output=True, text=True).stdout.strip()
    git(repo, "update-ref", "refs/heads/environments/prod", commit)
    return repo


def best(repeat: int, setup: Callable[[], None], action: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        setup()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--foreign", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    repo = build(args.count, args.foreign)
    branch_start = git(repo, "rev-parse", "environments/prod")
    request = SyncRequest(repo=repo, paths=["clusters/prod"], branch="environments/prod")

    def make_run(root: Path) -> Run:
        return Run(root=root, paths=[root], config=Config())

    files = [SourceFile(p.relative_to(repo).as_posix(), p.read_bytes())
             for p in sorted((repo / "clusters" / "prod").glob("*.yaml"))]

    def reset() -> None:
        git(repo, "update-ref", "refs/heads/environments/prod", branch_start)
        git(repo, "update-ref", "-d", "refs/notes/gatekeeper")

    def noop() -> None:
        """Setup for the measurements that start from nothing to reset."""

    check = best(args.repeat, noop, lambda: execute(Run(root=repo, config=Config(), files=files)))
    first = best(args.repeat, reset, lambda: sync(request, make_run))
    rerun = best(args.repeat, noop, lambda: sync(request, make_run))
    published = git(repo, "rev-parse", "environments/prod")
    notes = git(repo, "rev-parse", "refs/notes/gatekeeper")
    part = repo / "clusters" / "prod" / "part-0000.yaml"
    part.write_text(part.read_text().replace("key: v0", "key: v1", 1))
    git(repo, "commit", "-q", "-am", "one change")

    def back() -> None:
        git(repo, "update-ref", "refs/heads/environments/prod", published)
        git(repo, "update-ref", "refs/notes/gatekeeper", notes)

    change = best(args.repeat, back, lambda: sync(request, make_run))
    gitr = Git(repo)
    result = sync(request, make_run)  # for a realistic Publication of the changed state
    assert result.outcome is not None
    manifest = gitr.run("show", "environments/prod:clusters/prod/manifest.yaml")
    pub = Publication(git(repo, "rev-parse", "HEAD"),
                      {"clusters/prod/manifest.yaml": manifest + b"# bench\n", "hydrator.metadata": b"{}\n",
                       ".gatekeeper-sync.json": gitr.run("show", "environments/prod:.gatekeeper-sync.json")},
                      "bench\n\nGate-Verdict: pass\n", b"{}\n")
    phase = best(args.repeat, back, lambda: publish(gitr, LocalTarget(gitr, "environments/prod"), pub, 0))
    print(f"objects={args.count} foreign files on the branch={args.foreign} (best of {args.repeat})")
    print(f"  (a) pipeline alone on the same files : {check:7.2f} s")
    print(f"  (b) first publish                    : {first:7.2f} s  ({first / check:.2f}x of a)")
    print(f"  (c) re-run, no change, no commit     : {rerun:7.2f} s  ({rerun / check:.2f}x of a)")
    print(f"  (d) publish after one changed object : {change:7.2f} s  ({change / check:.2f}x of a)")
    print(f"  (e) publish phase alone (git writes) : {phase:7.3f} s")


if __name__ == "__main__":
    main()
