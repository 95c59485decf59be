"""Configuration: discovery, validation errors naming key and line, typed access."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from gatekeeper import config as config_mod
from gatekeeper.checks import catalogue
from gatekeeper.config import ConfigError, config_schema, discover, load, parse_size
from gatekeeper.model import Severity
from tests.conftest import PROJECT, run_cli, run_json

Write = Callable[[str, str], Path]
SHIPPED = PROJECT / "gatekeeper" / "schemas" / "gatekeeper-config.schema.json"


def test_defaults_without_a_file() -> None:
    cfg = load(None, catalogue())
    assert cfg.kubernetes_version is None and cfg.fail_on is None and cfg.max_file_size == 5 * 1024 * 1024


def test_full_config_is_read(write: Write) -> None:
    path = write(".gatekeeper.yaml", """
        version: 1
        kubernetes_version: "1.30"
        include: ["clusters/**/*.yaml"]
        exclude: ["vendor/"]
        fail_on: warning
        max_file_size: 512KiB
        checks:
          schema: {strict: false, missing_schema: error, schema_dirs: [schemas]}
        rules:
          schema-missing: {severity: info}
        waivers:
          - rule: schema-missing
            match: {kind: Thing}
            reason: vendor CRD not published
            owner: platform-team
            expires: "2030-01-31"
        """)
    cfg = load(path, catalogue())
    assert cfg.kubernetes_version == "1.30"
    assert cfg.fail_on is Severity.WARNING
    assert cfg.max_file_size == 512 * 1024
    assert cfg.checks["schema"]["strict"] is False
    assert cfg.rule_severity("schema-missing", Severity.WARNING) is Severity.INFO
    assert cfg.waivers[0]["owner"] == "platform-team"
    assert cfg.base_dir == path.parent


@pytest.mark.parametrize(("text", "expected"), [
    ("version: 1\nfail_om: error\n", ":2: fail_om: unknown key"),
    ("version: 1\nchecks:\n  schema:\n    stric: true\n", ":4: checks.schema.stric: unknown key"),
    ("version: 1\nchecks:\n  nosuch: {}\n", ":3: checks.nosuch: unknown key"),
    ("version: 1\nfail_on: fatal\n", ":2: fail_on: must be one of error, warning, info"),
    ("version: 1\ninclude: '*.yaml'\n", ":2: include: expected array"),
    ("version: 2\n", "this gatekeeper reads config version 1"),
    ("version: 1\nrules:\n  no-such-rule: {enabled: false}\n", ":3: rules.no-such-rule: unknown rule id"),
    ("version: 1\nwaivers:\n  - rule: schema-missing\n", "reason"),
    ("- a\n- b\n", "must be a mapping"),
    ("version: 1\nversion: 1\n", "defined more than once"),
    ("version: [1\n", "cannot parse"),
])
def test_invalid_config_is_a_clear_error(write: Write, text: str, expected: str) -> None:
    path = write(".gatekeeper.yaml", text)
    with pytest.raises(ConfigError) as err:
        load(path, catalogue())
    assert expected in str(err.value)


def test_invalid_config_exits_2_through_the_cli(write: Write, tmp_path: Path) -> None:
    write(".gatekeeper.yaml", "version: 1\nfial_on: error\n")
    write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    code, out = run_cli("check", str(tmp_path))
    assert code == 2 and "fial_on: unknown key" in out


def test_discovery_walks_up_to_the_git_top(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gatekeeper.yaml").write_text("version: 1\n")
    deep = tmp_path / "clusters" / "prod"
    deep.mkdir(parents=True)
    assert discover(deep) == tmp_path / ".gatekeeper.yaml"
    inner = tmp_path / "sub"
    (inner / ".git").mkdir(parents=True)
    assert discover(inner) is None


def test_config_fail_on_and_include_apply(write: Write, tmp_path: Path) -> None:
    write("a/cm.yaml", "apiVersion: v1\nkind: Endpoints\nmetadata: {name: a}\n")
    write("b/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, bogus: 1}\n")
    write(".gatekeeper.yaml", "version: 1\nfail_on: warning\ninclude: ['a/**']\n")
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 1 and [f["rule"] for f in report["findings"]] == ["deprecated-api"]
    code, report = run_json(str(tmp_path), "--checks", "schema", "--fail-on", "error")
    assert code == 0


def test_rule_overrides_disable_and_change_severity(write: Write, tmp_path: Path) -> None:
    write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, bogus: 1}\n")
    write(".gatekeeper.yaml", "version: 1\nrules:\n  schema-unknown-field: {severity: warning}\n")
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 0 and report["findings"][0]["severity"] == "warning"
    write(".gatekeeper.yaml", "version: 1\nrules:\n  schema-unknown-field: {enabled: false}\n")
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 0 and report["findings"] == []


def test_explicit_config_option(write: Write, tmp_path: Path) -> None:
    cfg = write("conf/gate.yaml", "version: 1\nfail_on: info\n")
    write("m/cm.yaml", "apiVersion: acme.io/v1\nkind: X\nmetadata: {name: b}\n")
    code, _ = run_json(str(tmp_path / "m"), "--checks", "schema", "--config", str(cfg))
    assert code == 1


def test_parse_size() -> None:
    assert parse_size("5MiB") == 5 * 1024 * 1024
    assert parse_size("10 KB") == 10 * 1024
    assert parse_size(42) == 42
    with pytest.raises(ConfigError):
        parse_size("lots")


def test_shipped_schema_file_is_current() -> None:
    shipped = json.loads(SHIPPED.read_text())
    assert shipped == config_schema(catalogue()), (
        "gatekeeper/schemas/gatekeeper-config.schema.json is stale: "
        "regenerate with `python -m gatekeeper.docs_gen`")


def test_every_config_key_is_documented() -> None:
    doc = (PROJECT / "docs" / "configuration.md").read_text()
    schema = config_schema(catalogue())
    missing = [k for k in schema["properties"] if f"`{k}`" not in doc]
    for check, section in schema["properties"]["checks"]["properties"].items():
        missing += [f"checks.{check}.{k}" for k in section.get("properties", {})
                    if f"`{k}`" not in doc]
    assert missing == [], f"undocumented keys in docs/configuration.md: {missing}"
    assert config_mod.CONFIG_VERSION == 1
