"""Every check reads mistyped fields defensively: a wrong type is the schema check's finding (or, in
a policy object the tree holds, that policy's load error), never another check's internal error.
``containerPort: {}`` next to a probe crashed lint (an unhashable dict in a set); the property test
swaps the type of fields of every documented example."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from gatekeeper.checks import names
from gatekeeper.pipeline import Run, execute
from gatekeeper.sources.files import SourceFile
from tests.conftest import run_json
from tests.fuzz.budget import budgets
from tests.fuzz.seeds import seeds

# The policy check reads manifests through policies; its loader has its own tests.
CHECKS = [n for n in names() if n != "policy"]
WRONG: tuple[Any, ...] = ({}, [], None, True, 7, "x", [{}], {"a": {}})


def test_a_mapping_as_container_port_next_to_a_probe_is_not_a_lint_error(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: nginx:1\n"
        "    ports:\n    - containerPort: {}\n      name: []\n    readinessProbe:\n      httpGet: {port: {}}\n"
        "    livenessProbe:\n      tcpSocket: {port: [1]}\n")
    code, report = run_json(str(tmp_path), "--checks", ",".join(CHECKS))
    assert report["errors"] == [] and code == 1
    assert ("schema-type", 9) in {(f["rule"], f["line"]) for f in report["findings"]}


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here] if here else []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        out.extend(_paths(value, (*here, key)))
    return out


def _swap_types(data: st.DataObject) -> None:
    docs = [d for d in yaml.safe_load_all(data.draw(st.sampled_from(seeds()), label="seed")) if d is not None]
    candidates = [d for d in docs if isinstance(d, (dict, list)) and _paths(d)]
    if not candidates:
        return
    doc = copy.deepcopy(data.draw(st.sampled_from(candidates), label="doc"))
    for _ in range(data.draw(st.integers(1, 3), label="swaps")):
        path = data.draw(st.sampled_from(_paths(doc)), label="path")
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = copy.deepcopy(data.draw(st.sampled_from(WRONG), label="value"))
    text = yaml.safe_dump(doc)
    with tempfile.TemporaryDirectory() as tmp:
        report = execute(Run(root=Path(tmp), files=[SourceFile("m.yaml", text.encode())], checks=CHECKS))
    # A policy object in the tree (a ValidatingAdmissionPolicy, a Kyverno policy) that does not load is a
    # load error by design (fail closed); an exception a check did not expect never is.
    unexpected = [e.message for e in report.errors if "internal error" in e.message
                  or e.message.startswith("failed to load:")]
    assert unexpected == []


test_wrong_field_types_are_never_internal_errors, test_wrong_field_types_are_never_internal_errors_deep = \
    budgets(_swap_types, default=60, deep=3000)
