"""Run the real pipeline on manifests written to a temp dir, and find lines in them."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

from gatekeeper.config import Config
from gatekeeper.model import Finding, Report
from gatekeeper.pipeline import Run, execute


def run(root: Path, files: dict[str, str], *, rules: dict[str, Any] | None = None,
        waivers: list[dict[str, Any]] | None = None, checks: tuple[str, ...] = ("lint",),
        today: dt.date | None = None) -> Report:
    """Write ``files`` under ``root`` and run the pipeline with the given checks and config."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    config = Config(rules=dict(rules or {}), waivers=list(waivers or []))
    return execute(Run(root=root, paths=[root], config=config, checks=list(checks), today=today))


def of_rule(report: Report, rule: str) -> list[Finding]:
    return [f for f in report.findings if f.rule == rule]


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the ``nth`` line containing ``needle`` (the text as written to disk)."""
    seen = 0
    for number, line in enumerate(textwrap.dedent(text).lstrip("\n").splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == nth:
                return number
    raise AssertionError(f"{needle!r} (#{nth}) not in text")


def workload(name: str, labels: str = "app: web", namespace: str = "shop", image: str | None = None,
             container: str = "") -> str:
    """A Deployment whose pods carry ``labels`` (a flow mapping body, e.g. ``app: web, tier: db``);
    ``container`` adds one line to its container."""
    return f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
          namespace: {namespace}
        spec:
          selector:
            matchLabels: {{{labels}}}
          template:
            metadata:
              labels: {{{labels}}}
            spec:
              containers:
                - name: {name}
                  image: {image or f"registry.example.com/{name}:1.0.0"}
                  {container}
        """
