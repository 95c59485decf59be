"""Every path a configuration names stays inside the repository: a pull request that sets
``checks.policy.data`` to a file elsewhere on the runner (a registry credential) had a policy print it
into the report. Absolute paths, '..' out of the configuration's directory and symlinks out of it are
configuration errors (exit 2) naming the key and its line; command-line options stay free."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.catalogue import REPOSITORY_PATH
from gatekeeper.checks import catalogue
from gatekeeper.config import config_schema, path_values
from tests.conftest import run_cli
from tests.pr.conftest import Repo

CREDENTIAL = '{"auths": {"registry.example.com": {"auth": "dXNlcjpTM2NyM3RQYXNzdzByZA=="}}}'
ENCODED = base64.b64encode(json.dumps(json.loads(CREDENTIAL)["auths"]).encode()).decode()[:24]
PRINTS_DATA = ('package main\nimport rego.v1\ndeny contains msg if { input.kind == "ConfigMap"; data.auths; '
               'msg := sprintf("data: %s", [base64.encode(json.marshal(data.auths))]) }\n')
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\ndata: {a: b}\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout with a policy that prints ``data.auths`` and one ConfigMap for it to deny."""
    root = tmp_path / "repo"
    (root / "policies").mkdir(parents=True)
    (root / "policies" / "main.rego").write_text(PRINTS_DATA)
    (root / "cm.yaml").write_text(CM)
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    where = tmp_path / "outside"
    (where / "dir").mkdir(parents=True)
    (where / "config.json").write_text(CREDENTIAL)
    return where


@pytest.mark.parametrize(("body", "line", "key", "why"), [
    ("checks:\n  policy:\n    data: [{out}/config.json]\n", 3, "checks.policy.data.0", "is an absolute path"),
    ("checks:\n  policy:\n    paths: [policies, ../outside/dir]\n", 3, "checks.policy.paths.1",
     "leaves the repository"),
    ("checks:\n  schema:\n    schema_dirs:\n      - {out}/dir\n", 4, "checks.schema.schema_dirs.0",
     "is an absolute path"),
    ("checks:\n  kyverno:\n    values: ../outside/config.json\n", 3, "checks.kyverno.values", "leaves the repository"),
    ("checks:\n  admission:\n    paths: ['{out}/dir']\n", 3, "checks.admission.paths.0", "is an absolute path"),
    ("checks:\n  secrets:\n    baseline: a/../../outside/config.json\n", 3, "checks.secrets.baseline",
     "leaves the repository"),
    ("render:\n  - path: /etc\n", 2, "render.0.path", "is an absolute path"),
    ("render:\n  - path: web\n    values: [web/v.yaml, ../outside/config.json]\n", 3, "render.0.values.1",
     "leaves the repository"),
])
def test_a_configured_path_outside_the_repository_is_a_config_error(
        repo: Path, outside: Path, body: str, line: int, key: str, why: str) -> None:
    (repo / ".gatekeeper.yaml").write_text("version: 1\n" + body.format(out=outside))
    code, out = run_cli("check", str(repo))
    assert code == 2, out
    assert f".gatekeeper.yaml:{line + 1}: {key}: {why}" in out, out
    assert "a command-line option can name a path elsewhere" in out
    assert ENCODED not in out


def test_a_symlink_out_of_the_repository_is_a_config_error(repo: Path, outside: Path) -> None:
    os.symlink(outside / "config.json", repo / "data.json")
    os.symlink(outside / "dir", repo / "schemas")
    (repo / ".gatekeeper.yaml").write_text("version: 1\nchecks:\n  policy:\n    data: [data.json]\n")
    code, out = run_cli("check", str(repo))
    assert code == 2, out
    assert ".gatekeeper.yaml:4: checks.policy.data.0: leaves the repository through a symlink" in out, out
    assert ENCODED not in out
    (repo / ".gatekeeper.yaml").write_text("version: 1\nchecks:\n  schema:\n    schema_dirs: [schemas/.]\n")
    code, out = run_cli("check", str(repo))
    assert code == 2, out
    assert ".gatekeeper.yaml:4: checks.schema.schema_dirs.0: leaves the repository through a symlink" in out, out
    (repo / "data.json").unlink()
    (repo / "schemas").unlink()
    (repo / "in.json").write_text('{"auths": {"x": {"auth": "in-repo"}}}')
    (repo / ".gatekeeper.yaml").write_text("version: 1\nchecks:\n  policy:\n    data: [policies/../in.json]\n")
    code, out = run_cli("check", str(repo))
    assert code == 1 and "policy/main/deny" in out, out  # a path inside the repository is read


def test_the_pull_request_mode_and_sync_refuse_the_change_and_print_nothing_of_the_file(
        repo: Path, outside: Path) -> None:
    git = Repo(repo)
    git.write(".gatekeeper.yaml", "version: 1\n")
    git.commit("base")
    git.write(".gatekeeper.yaml", f"version: 1\nchecks:\n  policy:\n    data: [{outside}/config.json]\n")
    git.write("cm.yaml", CM + "# touched\n")
    git.write("apps/cm.yaml", CM)
    git.commit("pr")
    code, out = run_cli("check", "--base", "HEAD~1", cwd=repo)
    assert code == 2, out
    assert ".gatekeeper.yaml:4: checks.policy.data.0: is an absolute path" in out, out
    assert ENCODED not in out
    code, out = run_cli("sync", "--repo", str(repo), "--target-branch", "environments/prod", "--path", "apps")
    assert code == 2, out
    assert ".gatekeeper.yaml:4: checks.policy.data.0: is an absolute path" in out, out
    assert ENCODED not in out
    assert "environments/prod" not in git.git("branch", "--list")


def test_command_line_options_may_name_paths_elsewhere(repo: Path, outside: Path) -> None:
    code, out = run_cli("check", str(repo), "--data", str(outside / "config.json"), "--no-hints")
    assert code == 1, out
    assert "cm.yaml:1:1" in out and "policy/main/deny" in out, out


def _string_keys(schema: Any, loc: str = "") -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if not isinstance(schema, dict):
        return out
    if schema.get("type") == "string" or schema.get("items", {}).get("type") == "string":
        out.append((loc, schema))
    for key, sub in schema.get("properties", {}).items():
        out += _string_keys(sub, f"{loc}.{key}" if loc else key)
    for key in ("items", "additionalProperties"):
        out += _string_keys(schema.get(key), f"{loc}[]")
    return out


def test_every_path_valued_key_of_the_schema_is_confined() -> None:
    """The schema marks each key that names a file or directory; a new one that is not marked fails here."""
    keys = _string_keys(config_schema(catalogue()))
    marked = {loc for loc, s in keys if s.get(REPOSITORY_PATH)}
    assert marked == {"checks.schema.schema_dirs", "checks.secrets.baseline", "checks.kyverno.values",
                      "checks.admission.paths", "checks.policy.paths", "checks.policy.data", "render[].path",
                      "render[].values"}
    for loc, s in keys:
        words = s.get("description", "").lower()
        names_a_path = any(w in words for w in ("file", "director", "relative to")) and "glob" not in words
        assert not names_a_path or loc in marked, f"{loc} names a path but is not marked {REPOSITORY_PATH}"
    raw = {"checks": {"policy": {"data": ["a.json"], "paths": ["p"]}}, "render": [{"path": "w", "values": ["v"]}]}
    assert sorted((".".join(map(str, loc)), v) for loc, v in path_values(raw, catalogue())) == [
        ("checks.policy.data.0", "a.json"), ("checks.policy.paths.0", "p"), ("render.0.path", "w"),
        ("render.0.values.0", "v")]


def test_a_policy_directory_never_reads_through_a_symlink_out_of_it(repo: Path, outside: Path) -> None:
    (outside / "dir" / "leak.rego").write_text("package leak\n" + CREDENTIAL + "\n")
    (repo / "policies" / "config.json").symlink_to(outside / "config.json")
    code, out = run_cli("check", str(repo), "--checks", "policy")
    assert code == 2, out
    assert "error: policy: " in out, out
    assert "policies/config.json is a symbolic link out of the policy directory" in out, out
    (repo / "policies" / "config.json").unlink()
    (repo / "policies" / "lib").symlink_to(outside / "dir")
    code, out = run_cli("check", str(repo), "--checks", "policy", "--policy", str(repo / "policies"))
    assert code == 2 and "lib is a symbolic link out of the policy directory" in out, out
    assert "registry.example.com" not in out
    (repo / "policies" / "lib").unlink()
    (repo / "rules").symlink_to(repo / "policies")  # a link that stays inside the policy directory's tree
    code, out = run_cli("check", str(repo), "--checks", "policy", "--policy", str(repo / "rules"), "--data",
                        str(outside / "config.json"))
    assert code == 1 and "policy/main/deny" in out, out
