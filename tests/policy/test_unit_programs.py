"""Inventory-reading templates per deployment unit: units whose inventory (the kinds the template
reads) is equal share one compiled program, with the same findings as one program per unit, and a
unit's ``print()`` output still reaches the gate's stderr."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.checks.base import Context
from gatekeeper.checks.policy import PolicyCheck, gkdialect
from gatekeeper.pipeline import Run, load
from gatekeeper.rego.library import library_path

INGRESS = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: shop
spec:
  rules:
    - host: {host}
"""

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: shop
spec:
  replicas: 1
"""

PRINTING = """apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8scountingressesprint
spec:
  crd:
    spec:
      names:
        kind: K8sCountIngressesPrint
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8scountingressesprint

        violation[{"msg": msg}] {
          n := count([name | data.inventory.namespace[_][_]["Ingress"][name]])
          print(sprintf("%v sees %v", [input.review.name, n]))
          n > 99
          msg := "never"
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sCountIngressesPrint
metadata:
  name: count-ingresses
spec:
  match:
    kinds:
      - apiGroups: ["networking.k8s.io"]
        kinds: ["Ingress"]
      - apiGroups: ["apps"]
        kinds: ["Deployment"]
"""

# unit -> files it applies: "a" holds two Ingresses with one host (a conflict), "b" one with the
# same host (no conflict inside b), "c" and "d" no Ingress at all (equal inventories for the template)
UNITS = {
    "a": {"a/web.yaml": INGRESS.format(name="web", host="shop.example"),
          "a/admin.yaml": INGRESS.format(name="admin", host="shop.example")},
    "b": {"b/web.yaml": INGRESS.format(name="web", host="shop.example")},
    "c": {"c/app.yaml": DEPLOYMENT.format(name="app")},
    "d": {"d/app.yaml": DEPLOYMENT.format(name="app")},
}


def _tree(root: Path, printing: bool = False) -> Path:
    for files in UNITS.values():
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
    policy = root.parent / f"{root.name}-policy"
    policy.mkdir()
    for name in ("template.yaml", "constraint.yaml"):
        shutil.copy(library_path() / "gatekeeper" / "unique-ingress-host" / name, policy / name)
    if printing:
        (policy / "printing.yaml").write_text(PRINTING)
    return policy


def _run(root: Path, policy: Path) -> tuple[PolicyCheck, list[tuple[str, str, int, str]]]:
    run = Run(root=root, paths=[root], options={"policy": [str(policy)], "jobs": 2})
    loaded = load(run)
    for doc in loaded.documents:  # each directory stands for a rendered deployment unit
        doc.unit = doc.path.split("/")[0]
    ctx = Context(run.root, loaded.documents, loaded.resources, run.config, "1.31", dict(run.options))
    check = PolicyCheck()
    check.prepare(ctx)
    findings = sorted((f.path, f.rule, f.line, f.message) for f in check.check_all(ctx) if f.check == "policy")
    return check, findings


def test_units_with_equal_inventories_share_a_program_with_the_same_findings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    policy = _tree(root)
    check, shared = _run(root, policy)
    gk = check.gatekeeper
    assert gk is not None
    kind = "K8sUniqueIngressHost"
    programs = {unit: gk.scoped[unit][kind] for unit in UNITS}
    assert programs["c"] is programs["d"]  # no Ingress in either: one program
    assert len({id(p) for p in programs.values()}) == 3  # a, b and the Ingress-less units
    # only unit a's two Ingresses conflict; b's Ingress with the same host is another apply
    assert [(p, rule) for p, rule, _, _ in shared] == [("a/admin.yaml", "policy/K8sUniqueIngressHost/unique-"
                                                                         "ingress-host"),
                                                       ("a/web.yaml", "policy/K8sUniqueIngressHost/unique-"
                                                                      "ingress-host")]

    counter = iter(range(10**6))
    monkeypatch.setattr(gkdialect, "_canonical", lambda data: f"unshared {next(counter)}")
    check, unshared = _run(root, policy)
    assert check.gatekeeper is not None
    assert check.gatekeeper.scoped["c"][kind] is not check.gatekeeper.scoped["d"][kind]
    assert unshared == shared


def test_print_output_of_a_units_program_is_shown(tmp_path: Path, capsys: pytest.CaptureFixture[Any]) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    policy = _tree(root, printing=True)
    _run(root, policy)
    err = capsys.readouterr().err
    # each object counts the Ingresses of its own unit: two in a, one in b, none in c and d
    assert err.count("web sees 2") == 1
    assert err.count("admin sees 2") == 1
    assert err.count("web sees 1") == 1
    assert err.count("app sees 0") == 2
    assert "sees 3" not in err  # no object of a unit sees the whole tree's Ingresses


def test_a_units_program_is_hoisted_only_when_evaluated_more_than_once(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    policy = _tree(root)
    check, findings = _run(root, policy)
    gk = check.gatekeeper
    assert gk is not None
    kind = "K8sUniqueIngressHost"
    assert gk.programs[kind].hoisted  # the template itself: always (its index over the whole tree)
    assert gk.scoped["a"][kind].hoisted  # two Ingresses evaluate unit a's copy
    assert not gk.scoped["b"][kind].hoisted  # one Ingress: computing the index once gains nothing
    assert not gk.scoped["c"][kind].hoisted  # no object evaluates it
    assert [p for p, _, _, _ in findings] == ["a/admin.yaml", "a/web.yaml"]


def test_the_inventory_holds_only_the_kinds_the_templates_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    policy = _tree(root, printing=True)
    built: list[list[str]] = []
    real = gkdialect.scope_inventory

    def spy(policies: Any, engine: Any, inventories: Any) -> None:
        def record(kinds: Any) -> Any:
            units = inventories(kinds)
            built.append(sorted({kind for inv in units.values() for gvs in inv["namespace"].values()
                                 for by_kind in gvs.values() for kind in by_kind}))
            return units
        real(policies, engine, record)

    monkeypatch.setattr(gkdialect, "scope_inventory", spy)
    check, findings = _run(root, policy)
    assert check.gatekeeper is not None
    assert gkdialect.inventory_kinds(check.gatekeeper) == {"Ingress"}  # both templates name Ingress only
    assert built == [["Ingress"]]  # the units' Deployments were left out
    assert [p for p, _, _, _ in findings] == ["a/admin.yaml", "a/web.yaml"]
