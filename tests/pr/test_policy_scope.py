"""Policies in git modes: unchanged objects are evaluated only when the change can alter their results."""

from __future__ import annotations

import shutil
from typing import Any

from gatekeeper.rego.library import library_path
from tests.conftest import run_json
from tests.pr.conftest import Repo

DENY_UNSAFE = """
package main

import rego.v1

deny contains msg if {
    input.kind == "ConfigMap"
    input.data.mode == "unsafe"
    msg := sprintf("ConfigMap %s is unsafe", [input.metadata.name])
}
"""

def _cm(name: str, mode: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: shop\ndata:\n  mode: {mode}\n"


def _ingress(name: str, host: str) -> str:
    return (f"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: shop\n"
            f"spec:\n  rules:\n    - host: {host}\n")


def _policy(report: dict[str, Any]) -> list[tuple[str, int, str]]:
    return sorted((f["path"], f["line"], f["message"]) for f in report["findings"] if f["check"] == "policy")


def test_unchanged_objects_keep_their_old_policy_results_out_of_the_report(repo: Repo) -> None:
    repo.write("policies/main.rego", DENY_UNSAFE)
    repo.write("apps/old.yaml", _cm("old", "unsafe"))  # violates already at the base
    repo.write("apps/new.yaml", _cm("new", "fast"))
    repo.commit("base")
    repo.write("apps/new.yaml", _cm("new", "unsafe"))
    repo.commit("pr")
    code, report = run_json("--checks", "policy", "--base", "HEAD~1", cwd=repo.path)
    assert code == 1
    assert _policy(report) == [("apps/new.yaml", 1, "ConfigMap new is unsafe")]
    assert "base" not in report["timings"]  # nothing outside the change needed the base pass


def test_an_inventory_template_still_sees_unchanged_objects(repo: Repo) -> None:
    shutil.copytree(library_path() / "gatekeeper" / "unique-ingress-host", repo.path / "policies" / "unique")
    repo.write("apps/a.yaml", _ingress("a", "shop.example.com"))
    repo.write("apps/b.yaml", _ingress("b", "blog.example.com"))
    repo.commit("base")
    repo.write("apps/c.yaml", _ingress("c", "shop.example.com"))  # collides with an unchanged object
    repo.commit("pr")
    code, report = run_json("--checks", "policy", "--base", "HEAD~1", cwd=repo.path)
    assert code == 1
    assert [(path, line) for path, line, _ in _policy(report)] == [("apps/a.yaml", 8), ("apps/c.yaml", 8)]
