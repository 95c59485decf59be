"""One module set compiled over many data documents (a template per deployment unit): from the
second compile on the modules are parsed once and each copy gets its own data; the programs give
what a fresh compile gives, and bad data still fails the load."""

from __future__ import annotations

import math
from typing import Any

import pytest

from gatekeeper.rego.engine import RegorusEngine
from gatekeeper.rego.modules import PolicyLoadError, load_modules

LIB_V0 = """package lib.hosts

owners[host] = names {
  host := data.inventory.namespace[_][_]["Ingress"][_].spec.rules[_].host
  names := {name | data.inventory.namespace[_][_]["Ingress"][name].spec.rules[_].host == host}
}
"""

TEMPLATE_V1 = """package k8shosts
import rego.v1
import data.lib.hosts

violation contains {"msg": sprintf("%v also claimed by %v", [host, sort(others)])} if {
  host := input.review.object.spec.rules[_].host
  others := hosts.owners[host] - {input.review.name}
  count(others) > 0
}
"""


def _inventory(*claims: tuple[str, str]) -> dict[str, Any]:
    ingresses = {name: {"spec": {"rules": [{"host": host}]}} for name, host in claims}
    return {"inventory": {"namespace": {"shop": {"networking.k8s.io/v1": {"Ingress": ingresses}}}}}


def _review(name: str, host: str) -> dict[str, Any]:
    return {"review": {"name": name, "object": {"spec": {"rules": [{"host": host}]}}}}


QUERIES = {"violation": ["k8shosts", "violation"]}
DATA = [_inventory(("web", "a.example"), ("admin", "a.example")), _inventory(("web", "a.example")),
        _inventory(), _inventory(("web", "b.example"), ("api", "b.example"), ("blog", "b.example"))]
INPUTS = [_review("web", "a.example"), _review("web", "b.example"), _review("other", "a.example")]


def test_programs_compiled_from_parsed_modules_agree_with_fresh_compiles() -> None:
    modules = load_modules([("lib.rego", LIB_V0, "v0"), ("t.rego", TEMPLATE_V1, "v1")])
    engine = RegorusEngine()
    shared = [engine.compile(modules, data, QUERIES) for data in DATA]  # the 2nd on reuse parsed modules
    assert engine._parsed  # the reuse path was taken
    for data, program in zip(DATA, shared, strict=True):
        fresh = RegorusEngine().compile(modules, data, QUERIES)
        for value in INPUTS:
            assert program.evaluate(value) == fresh.evaluate(value)
    assert shared[0].evaluate(_review("web", "a.example")) == {
        "violation": [{"msg": "a.example also claimed by [\"admin\"]"}]}
    assert shared[1].evaluate(_review("web", "a.example")) == {"violation": []}
    assert shared[3].evaluate(_review("other", "b.example")) == {
        "violation": [{"msg": "b.example also claimed by [\"api\", \"blog\", \"web\"]"}]}


def test_data_that_cannot_be_loaded_fails_the_load_on_the_reuse_path_too() -> None:
    modules = load_modules([("t.rego", TEMPLATE_V1, "v1"), ("lib.rego", LIB_V0, "v0")])
    engine = RegorusEngine()
    engine.compile(modules, DATA[0], QUERIES)
    with pytest.raises(PolicyLoadError, match="policy data cannot be loaded"):
        engine.compile(modules, {"inventory": {"x": math.nan}}, QUERIES)
