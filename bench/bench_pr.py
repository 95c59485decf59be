#!/usr/bin/env python3
"""Benchmark: the pull-request gate on a 10,000-resource repository with 10 changed files.

Builds the synthetic corpus, commits it, changes 10 manifest files in a second commit, then
measures (each the best of ``--repeat`` runs; the machine is noisy, compare ratios):

0. the parse floor (PyYAML's C loader over every file) and a full directory check, for scale;
1. PR mode in-process (``check --base HEAD~1``) with the wall time split into git (diff and
   reading the tree's blobs), load (parse with positions) and each check;
   First with ``--no-cache`` (every context file parsed), then with the parse cache empty (the
   first run writes it) and warm (unchanged files read from it);
2. the same with ``--new-only`` (a second pass at the base);
3. PR mode as a real process (``python -m gatekeeper check --base HEAD~1``), so start-up is in;
4. the pre-commit hook's command on 10 staged files (``check --staged --scope all FILES``)
   as a real process, without and with the parse cache.

Usage: bench_pr.py [--count 10000] [--repeat 3] [--dir EXISTING_CORPUS]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

GEN = Path(__file__).resolve().parents[2] / "shared" / "bench" / "gen_corpus.py"
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, check=True,
                          capture_output=True, text=True).stdout


def clear_store(repo: Path) -> None:
    """Remove the git modes' parse cache, so the next run starts from an empty one."""
    shutil.rmtree(repo / ".git" / "gatekeeper", ignore_errors=True)


def build_repo(count: int, directory: Path | None) -> tuple[Path, list[str]]:
    """A git repo with the corpus at HEAD~1 and 10 edited manifests at HEAD; returns the edited paths."""
    repo = Path(tempfile.mkdtemp(prefix="gk-bench-pr-")) / "repo"
    if directory is not None:
        subprocess.run(["cp", "-r", str(directory), str(repo)], check=True)
    else:
        subprocess.run([sys.executable, str(GEN), "--count", str(count), "--seed", "1", "--out", str(repo),
                        "--quiet"], check=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    manifests = sorted(p for p in git(repo, "ls-files", "*.yaml").split("\n")
                       if p and not p.endswith("kustomization.yaml"))
    step = max(len(manifests) // 10, 1)
    changed = manifests[::step][:10]
    for rel in changed:  # each edit adds an unknown field: one new schema finding per changed file
        path = repo / rel
        path.write_text(path.read_text().replace("metadata:\n", "metadata:\n  labelz: {bench: edited}\n", 1))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "pr")
    return repo, changed


def in_process(repo: Path, args: list[str]) -> tuple[float, dict[str, float], dict[str, object]]:
    """Run ``gatekeeper check --format json ARGS`` in this process; wall time, timings, summary."""
    import json

    from gatekeeper.cli import cli

    old = os.getcwd()
    os.chdir(repo)
    try:
        started = time.perf_counter()
        result = CliRunner().invoke(cli, ["check", "--format", "json", *args], catch_exceptions=False)
        wall = time.perf_counter() - started
    finally:
        os.chdir(old)
    report = json.loads(result.output)
    return wall, report["timings"], report["summary"]


def process(repo: Path, args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gatekeeper", "check", *args], cwd=repo, capture_output=True)
    return time.perf_counter() - started


def parse_floor(repo: Path) -> float:
    """Read + ``yaml.load_all(CSafeLoader)`` of every YAML file: what any YAML tool pays at least."""
    import yaml

    started = time.perf_counter()
    for rel in git(repo, "ls-files", "*.yaml", "*.yml").split():
        list(yaml.load_all((repo / rel).read_bytes(), Loader=yaml.CSafeLoader))
    return time.perf_counter() - started


def best(runs: list[tuple[float, dict[str, float], dict[str, object]]]
         ) -> tuple[float, dict[str, float], dict[str, object]]:
    return min(runs, key=lambda r: r[0])


def show(title: str, wall: float, timings: dict[str, float], summary: dict[str, object]) -> None:
    split = ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())
    print(f"{title}: {wall:.2f}s wall ({split}); files {summary['files']}, resources {summary['resources']}, "
          f"findings {summary['findings']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, help="use this corpus directory instead of generating one")
    opts = ap.parse_args()
    repo, changed = build_repo(opts.count, opts.dir)
    files = len(git(repo, "ls-files").split())
    print(f"repository: {repo} ({files} files, {opts.count} resources generated); changed: {len(changed)} files")
    print(f"parse floor (CSafeLoader, whole tree): {min(parse_floor(repo) for _ in range(opts.repeat)):.2f}s")
    runs = [in_process(repo, ["."]) for _ in range(opts.repeat)]
    show("full check of the directory (no git), in-process", *best(runs))
    runs = [in_process(repo, ["--base", "HEAD~1", "--no-cache"]) for _ in range(opts.repeat)]
    show("PR mode --no-cache (every context file parsed), in-process", *best(runs))
    runs = []
    for _ in range(opts.repeat):
        clear_store(repo)
        runs.append(in_process(repo, ["--base", "HEAD~1"]))
    show("PR mode, first run: empty parse cache (it is written), in-process", *best(runs))
    runs = [in_process(repo, ["--base", "HEAD~1"]) for _ in range(opts.repeat)]
    show("PR mode, parse cache warm, in-process", *best(runs))
    runs = [in_process(repo, ["--base", "HEAD~1", "--new-only"]) for _ in range(opts.repeat)]
    show("PR mode --new-only, parse cache warm, in-process", *best(runs))
    walls = [process(repo, ["--base", "HEAD~1", "--no-cache"]) for _ in range(opts.repeat)]
    print(f"PR mode --no-cache, process: {min(walls):.2f}s wall")
    walls = [process(repo, ["--base", "HEAD~1"]) for _ in range(opts.repeat)]
    print(f"PR mode, parse cache warm, process: {min(walls):.2f}s wall")
    git(repo, "reset", "-q", "--soft", "HEAD~1")  # the 10 edits become staged changes
    runs = [in_process(repo, ["--staged", "--scope", "all", *changed]) for _ in range(opts.repeat)]
    show("pre-commit hook command (10 staged files), parse cache warm, in-process", *best(runs))
    walls = [process(repo, ["--staged", "--scope", "all", "--no-cache", *changed]) for _ in range(opts.repeat)]
    print(f"pre-commit hook command (10 staged files) --no-cache, process: {min(walls):.2f}s wall")
    walls = [process(repo, ["--staged", "--scope", "all", *changed]) for _ in range(opts.repeat)]
    print(f"pre-commit hook command (10 staged files), parse cache warm, process: {min(walls):.2f}s wall")
    walls = [process(repo, ["--checks", "secrets", *changed]) for _ in range(opts.repeat)]
    print(f"gatekeeper-secrets hook command (10 files), process: {min(walls):.2f}s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
