"""Fuzzing ``.gatekeeper.yaml``: configurations built from the real keys (checks, rules, waivers,
globs, sizes, thresholds) with values of every type and planted secret values, sometimes damaged
as text. Properties: loading gives a Config or a ConfigError and nothing else, no error message
quotes a planted value, and a real CLI run with the file exits 0, 1 or 2 without an internal error.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from gatekeeper import config as config_mod
from gatekeeper.checks import catalogue, names
from tests.conftest import run_cli
from tests.fuzz.budget import budgets

PLANTED = st.integers(0, 10**6).map(lambda n: f"Pl4nted{n:07d}xQ")
NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_.*/", min_size=1, max_size=12)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=False),
                    PLANTED, st.sampled_from(["error", "warning", "info", "5MiB", "1.31", "v1.30.2", "**",
                                              "2020-01-01", "2999-12-31", "", " ", "-1", "yes"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(NAMES, inner, max_size=3)), max_leaves=8)
SETTINGS = st.dictionaries(st.sampled_from(["enabled", "strict", "salt", "missing_schema", "skip_kinds", "dirs",
                                            "baseline", "namespaces", "schema_dirs", "high_entropy"]) | NAMES,
                           VALUES, max_size=3)


def _rule_ids() -> list[str]:
    return [*[r.id for r in catalogue().rules][:40], "policy/main/deny", "no-such-rule"]


def _configs() -> st.SearchStrategy[dict[str, Any]]:
    waiver = st.fixed_dictionaries({}, optional={
        "rule": st.one_of(st.sampled_from(_rule_ids()), st.lists(st.sampled_from(_rule_ids()), max_size=2), VALUES),
        "reason": st.one_of(PLANTED, VALUES), "owner": st.one_of(PLANTED, VALUES),
        "expires": st.one_of(st.sampled_from(["2999-01-01", "2000-01-01", "2024-02-30"]), PLANTED, VALUES),
        "match": st.one_of(st.fixed_dictionaries({}, optional={k: st.one_of(PLANTED, NAMES, VALUES)
                                                               for k in ("path", "kind", "namespace", "name")}),
                           VALUES)})
    rule = st.fixed_dictionaries({}, optional={"enabled": VALUES, "severity": st.one_of(SCALARS, PLANTED),
                                               "options": VALUES})
    return st.fixed_dictionaries({}, optional={
        "version": st.one_of(st.just(1), VALUES),
        "kubernetes_version": st.one_of(st.sampled_from(["1.30", "v1.29.3", "2.0"]), PLANTED, VALUES),
        "include": st.one_of(st.lists(st.one_of(NAMES, PLANTED), max_size=3), VALUES),
        "exclude": st.one_of(st.lists(st.one_of(NAMES, PLANTED), max_size=3), VALUES),
        "fail_on": st.one_of(st.sampled_from(["error", "warning", "info"]), PLANTED, VALUES),
        "max_file_size": st.one_of(st.sampled_from(["5MiB", "10 KB", 1, 0, -5]), PLANTED, VALUES),
        "checks": st.one_of(st.dictionaries(st.sampled_from(names()) | NAMES, st.one_of(SETTINGS, VALUES),
                                            max_size=3), VALUES),
        "rules": st.one_of(st.dictionaries(st.sampled_from(_rule_ids()) | NAMES, st.one_of(rule, VALUES),
                                           max_size=3), VALUES),
        "waivers": st.one_of(st.lists(waiver, max_size=3), VALUES),
    })


def _planted(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value} if value.startswith("Pl4nted") else set()
    if isinstance(value, dict):
        return set().union(*(_planted(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_planted(v) for v in value)) if value else set()
    return set()


def _run(data: st.DataObject) -> None:
    raw = data.draw(_configs(), label="config")
    text = yaml.safe_dump(raw, sort_keys=False)
    if data.draw(st.booleans(), label="damage"):
        cut = data.draw(st.integers(0, len(text)), label="cut")
        text = text[:cut] + data.draw(st.sampled_from(["", "\t", ": [", "!!bool x\n", "&a [*a]\n"]), label="junk")
    planted = _planted(raw)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / ".gatekeeper.yaml"
        path.write_text(text, encoding="utf-8")
        (root / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: b}\n")
        try:
            config_mod.load(path, catalogue())
        except config_mod.ConfigError as exc:
            assert not any(p in str(exc) for p in planted), "a configuration error quoted a value"
            loaded = False
        else:
            loaded = True
        if data.draw(st.integers(0, 3), label="cli") == 0:  # a real run, for a quarter of the examples
            code, out = run_cli("check", "--checks", "schema,lint,secrets", str(root))
            assert code in (0, 1, 2) and "internal error" not in out
            if not loaded:
                assert code == 2 and not any(p in out for p in planted)


test_fuzzed_configuration_is_a_config_or_a_clear_error, test_fuzzed_configuration_is_a_config_or_a_clear_error_deep = \
    budgets(_run, default=80, deep=4000)
