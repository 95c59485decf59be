#!/usr/bin/env python3
"""Benchmark: checking the rendered state (kustomize overlays and Helm charts) against file-only checks.

Builds a repository with 10 bases, 40 overlays (4 per base: namespace, image tag, a patch),
3 local Helm charts (each with an Argo CD Application and a values file), and the synthetic
10k-resource corpus beside them (which has kustomizations of its own), then measures, each
the best of ``--repeat`` fresh processes:

1. a full ``check`` with rendering against the same run with ``--render none`` (target: within 1.5x),
   the rendered run once with a cold render cache and then warm; wall and CPU seconds (the gate's
   and its renderer processes'), the CPU ratio being the one a loaded machine barely moves;
2. PR mode (``check --base main``) where one base file changed, with and without rendering, warm
   parse and render caches (target: within 1 s of each other);
3. the rendering cost per unit: kustomize units in batches (one process for many units), a
   kustomize unit alone, a Helm unit.

Usage: bench_render.py [--count 10000] [--repeat 2] [--dir EXISTING_CORPUS]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import corpus

PROJECT = Path(__file__).resolve().parents[1]
CHART = PROJECT / "tests" / "render" / "fixtures" / "chart" / "web"
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      automountServiceAccountToken: false
      containers:
        - name: {name}
          image: registry.example.com/{name}:1.0.0
          resources:
            requests: {{cpu: 100m, memory: 64Mi}}
            limits: {{cpu: 200m, memory: 128Mi}}
          readinessProbe: {{httpGet: {{path: /, port: 8080}}}}
          livenessProbe: {{httpGet: {{path: /, port: 8080}}}}
          securityContext:
            runAsNonRoot: true
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {{drop: [ALL]}}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
"""
APP = """apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: {name}, namespace: argocd}}
spec:
  project: default
  source:
    repoURL: https://git.example.com/gitops.git
    path: rendered/charts/{name}
    helm:
      valueFiles: [values-prod.yaml]
  destination: {{server: https://kubernetes.default.svc, namespace: {name}}}
"""


def build(count: int, directory: Path | None) -> Path:
    repo = Path(tempfile.mkdtemp(prefix="gk-bench-render-")) / "repo"
    shutil.copytree(corpus(count, directory, "render"), repo / "corpus")
    top = repo / "rendered"
    for b in range(10):
        name = f"svc{b}"
        base = top / "bases" / name
        base.mkdir(parents=True)
        (base / "app.yaml").write_text(DEPLOY.format(name=name))
        (base / "kustomization.yaml").write_text("resources: [app.yaml]\n")
        for env in ("dev", "test", "staging", "prod"):
            overlay = top / "overlays" / env / name
            overlay.mkdir(parents=True)
            (overlay / "kustomization.yaml").write_text(
                f"resources: [../../../bases/{name}]\nnamespace: {env}\n"
                f"images: [{{name: registry.example.com/{name}, newTag: 1.0.{b}}}]\n"
                "patches: [{path: replicas.yaml}]\n")
            (overlay / "replicas.yaml").write_text(
                f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec: {{replicas: 3}}\n")
    for c in range(3):
        name = f"chart{c}"
        chart = top / "charts" / name
        shutil.copytree(CHART, chart)
        (chart / "values-prod.yaml").write_text("replicaCount: 3\n")
        (top / "apps" / f"{name}.yaml").parent.mkdir(parents=True, exist_ok=True)
        (top / "apps" / f"{name}.yaml").write_text(APP.format(name=name))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    return repo


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, check=True,
                          capture_output=True, text=True).stdout


def check(repo: Path, *args: str) -> tuple[float, dict]:
    """Wall seconds and the report; the report gains ``cpu``: CPU seconds of the process and its
    children (renderers, git), the fairer figure on a loaded machine."""
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, "-m", "gatekeeper", "check", *args, "--format", "json"], cwd=repo,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"check {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-500:]}")
    report = json.loads(proc.stdout)
    report["cpu"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(f"    check {' '.join(args)}: {seconds:.2f} s wall, {report['cpu']:.2f} s CPU "
          f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    return seconds, report


def best(repeat: int, repo: Path, *args: str) -> tuple[float, dict]:
    """The fastest of ``repeat`` runs (every run's time is printed: the first of a rendered run is
    the one with a cold render cache)."""
    return min(runs_of(repeat, repo, *args), key=lambda r: r[0])


def runs_of(repeat: int, repo: Path, *args: str) -> list[tuple[float, dict]]:
    runs = [check(repo, *args) for _ in range(repeat)]
    print(f"  runs of check {' '.join(args)}: {', '.join(f'{r[0]:.2f} s' for r in runs)}", flush=True)
    return runs


def rendered_note(report: dict) -> tuple[int, int, float, int]:
    for note in report["notes"]:
        found = re.search(r"rendered (\d+) of (\d+) deployment unit\(s\) into \d+ object\(s\) in ([\d.]+)s "
                          r"\((\d+) from", note)
        if found:
            return int(found.group(1)), int(found.group(2)), float(found.group(3)), int(found.group(4))
    return 0, 0, 0.0, 0


def per_unit(repo: Path) -> dict[str, float]:
    """Seconds per unit: a kustomize unit alone, a batch of the 40 overlays, a Helm unit alone."""
    from gatekeeper.sources import kustomize as kz
    from gatekeeper.sources.files import SourceFile
    from gatekeeper.sources.render import Renderer
    from gatekeeper.sources.tree import DiskTree
    from gatekeeper.sources.units import HELM, KUSTOMIZE, Unit, ValuesSource
    from gatekeeper.sources.yamlload import parse

    tree = DiskTree(repo)
    files = [p for p in tree.files_under("rendered") if p.endswith(".yaml") and "/templates/" not in p]
    docs = [d for p in files for d in parse(SourceFile(p, tree.read(p) or b"")).documents]
    renderer = Renderer(tree, docs, kz.find(docs, tree.kind))
    overlays = [Unit(KUSTOMIZE, f"rendered/overlays/{e}/svc{b}") for e in ("dev", "test", "staging", "prod")
                for b in range(10)]
    try:
        started = time.perf_counter()
        renderer.render(overlays[0])
        alone = time.perf_counter() - started
        started = time.perf_counter()
        renderer.render_many(overlays)
        batched = (time.perf_counter() - started) / len(overlays)
        started = time.perf_counter()
        renderer.render(Unit(HELM, "rendered/charts/chart0",
                             values=[ValuesSource("rendered/charts/chart0/values.yaml")]))
        helm = time.perf_counter() - started
    finally:
        renderer.close()
    return {"kustomize unit alone": alone, "kustomize unit in a batch of 40": batched, "Helm unit": helm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--pr-only", action="store_true", help="measure the PR mode (2.) alone")
    args = parser.parse_args()
    repo = build(args.count, args.dir)
    print(f"repository: {repo} (load average {os.getloadavg()[0]:.1f})", flush=True)

    if not args.pr_only:
        nones = runs_of(args.repeat, repo, ".", "--render", "none")
        none_s, none_r = min(nones, key=lambda r: r[0])
        none_cpu = min(r[1]["cpu"] for r in nones)
        full = runs_of(max(args.repeat, 2), repo, ".")  # the first with a cold render cache, then warm
        full_s, full_r = min(full[1:], key=lambda r: r[0])
        done, units, render_s, cached = rendered_note(full_r)
        print(f"full check, --render none : {none_s:6.2f} s  ({none_r['summary']['resources']} resources)")
        print(f"full check, rendered, warm: {full_s:6.2f} s  ({full_r['summary']['resources']} resources, "
              f"{done} of {units} units rendered in {render_s:.2f} s, {cached} from the cache) -> "
              f"{full_s / none_s:.2f}x")
        warm_cpu = min(r[1]["cpu"] for r in full[1:])
        print(f"full check, CPU: --render none {none_cpu:.2f} s, rendered cold {full[0][1]['cpu']:.2f} s "
              f"({full[0][1]['cpu'] / none_cpu:.2f}x), warm {warm_cpu:.2f} s ({warm_cpu / none_cpu:.2f}x)")

    git(repo, "checkout", "-q", "-b", "change")
    base = repo / "rendered" / "bases" / "svc3" / "app.yaml"
    base.write_text(base.read_text().replace("replicas: 2", "replicas: 4"))
    git(repo, "commit", "-qam", "one base file")
    for flags in ((), ("--render", "none")):
        check(repo, "--base", "main", *flags)  # warm the parse and render caches
    pr_none, none_r = best(args.repeat, repo, "--base", "main", "--render", "none")
    pr_full, pr_r = best(args.repeat, repo, "--base", "main")
    done, units, render_s, cached = rendered_note(pr_r)
    print(f"PR mode, one base changed, --render none: {pr_none:6.2f} s  (CPU {none_r['cpu']:.2f} s)")
    print(f"PR mode, one base changed, rendered, CPU : {pr_r['cpu']:6.2f} s  (+{pr_r['cpu'] - none_r['cpu']:.2f} s)")
    print(f"PR mode, one base changed, rendered     : {pr_full:6.2f} s  ({units} units, {cached} from the cache, "
          f"rendering {render_s:.2f} s) -> +{pr_full - pr_none:.2f} s (load average {os.getloadavg()[0]:.1f})")
    if args.pr_only:
        return
    for what, seconds in per_unit(repo).items():
        print(f"per unit: {what:<34} {seconds * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
