"""Shared set-up for the Kyverno tests: write a policy and resources, run the real CLI."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from tests.conftest import run_json

Row = tuple[str, int, str, str]


def rule_policy(rules: str, name: str = "pol", action: str = "Enforce", annotations: str = "") -> str:
    """A ClusterPolicy around indented rule text (rules written at column 0, list items)."""
    meta = f"  name: {name}\n" + (f"  annotations:\n{textwrap.indent(annotations, '    ')}" if annotations else "")
    body = textwrap.indent(textwrap.dedent(rules).strip(), "    ")
    return (f"apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n{meta}spec:\n"
            f"  validationFailureAction: {action}\n  rules:\n{body}\n")


def write_tree(tmp_path: Path, policy: str, resources: dict[str, str]) -> None:
    """Write policies/pol.yaml and one apps/<name>.yaml per resource text."""
    (tmp_path / "policies").mkdir(exist_ok=True)
    (tmp_path / "apps").mkdir(exist_ok=True)
    (tmp_path / "policies" / "pol.yaml").write_text(policy, encoding="utf-8")
    for name, text in resources.items():
        (tmp_path / "apps" / f"{name}.yaml").write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def check(tmp_path: Path, policy: str, resources: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    """``write_tree``, then run the kyverno check on apps/ with policies/."""
    write_tree(tmp_path, policy, resources)
    return run_json("apps", "--policy", "policies", "--checks", "kyverno", *args, cwd=tmp_path)


def rows(report: dict[str, Any]) -> list[Row]:
    """(file stem, line, rule, field) of every finding, sorted."""
    return sorted((Path(f["path"]).stem, f["line"], f["rule"], f["field"]) for f in report["findings"])
