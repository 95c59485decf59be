"""Loader defects an audit found through the real CLI: constructor errors, explicit tags, type
names outside the Kubernetes grammar, and JSON outside the YAML path's bounds. None may crash a
run, and no message may quote a value, a tag or an exception's text."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gatekeeper import cli as cli_mod
from gatekeeper.checks import Check
from gatekeeper.checks.base import Context
from gatekeeper.model import Finding, Resource
from gatekeeper.sources.yamlload import unquoted
from tests.conftest import run_cli, run_json, run_subprocess

PASSWORD = "S3cr3tPassw0rdValue"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\ndata:\n  password: {value}\n"


def _rows(report: dict[str, Any]) -> list[tuple[str, int, int, str]]:
    return sorted((f["path"], f["line"], f["column"], f["rule"]) for f in report["findings"])


def test_a_type_tag_its_text_does_not_fit_is_a_parse_finding_and_the_text_is_still_scanned(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(CM.format(value=f"!!bool {PASSWORD}"))
    proc = run_subprocess("check", "--checks", "secrets", "--format", "json", str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert PASSWORD.lower() not in (proc.stdout + proc.stderr).lower()
    report = json.loads(proc.stdout)
    assert report["errors"] == []
    assert _rows(report) == [("cm.yaml", 5, 3, "secret-keyword-entropy"), ("cm.yaml", 5, 13, "parse-error")]
    parse = next(f for f in report["findings"] if f["rule"] == "parse-error")
    assert "!!bool" not in parse["message"] and "tag" in parse["message"]


@pytest.mark.parametrize("tag", ["!!null", "!Tok3nLookingTagName", "!!python/object:os.system", "!<!x>"])
def test_a_tag_kubernetes_does_not_resolve_leaves_the_value_text_and_is_scanned(tmp_path: Path, tag: str) -> None:
    """``!!null S3cr3t`` read as null hid a value the API server stores as the string."""
    (tmp_path / "cm.yaml").write_text(CM.format(value=f"{tag} Xk9mQ2vLp8RtZw4NsY7b"))
    code, out = run_cli("check", "--checks", "secrets", "--format", "json", str(tmp_path))
    report = json.loads(out)
    assert _rows(report) == [("cm.yaml", 5, 3, "secret-keyword-entropy")]
    assert "Tok3n" not in out and "python" not in out and code == 0


def test_parse_errors_quote_no_tag_alias_or_anchor_name(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a: *Tok3nAliasNameXyz\n")
    (tmp_path / "b.yaml").write_text("a: !Tok3nHandle!x y\n")
    code, out = run_cli("check", "--checks", "schema", "--format", "json", str(tmp_path))
    report = json.loads(out)
    assert code == 1 and "Tok3n" not in out
    assert _rows(report) == [("a.yaml", 1, 4, "parse-error"), ("b.yaml", 1, 4, "parse-error")]
    for text in ("a: *Tok3nAliasNameXyz\n", "a: !Tok3nHandle!x y\n", "a: [&Tok3nX 1, *Tok3nY]\n"):
        with pytest.raises(yaml.YAMLError) as raised:  # PyYAML's own parser quotes names; libyaml does not
            yaml.load(text, Loader=yaml.SafeLoader)
        err = raised.value
        said = f"{getattr(err, 'context', '') or ''} {getattr(err, 'problem', '') or ''}"
        assert "Tok3n" in said and "Tok3n" not in unquoted(said)


def test_type_names_outside_the_kubernetes_grammar_are_findings_and_never_looked_up(
        tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    # a schema the path traversal would reach from --schema-dir sd: sd/core/../../x_v1.json
    write("x_v1.json", json.dumps({"type": "string"}))
    (tmp_path / "sd" / "core").mkdir(parents=True)
    write("m/a.yaml", f"""
        apiVersion: v1
        kind: ../../x
        metadata: {{name: a}}
        ---
        apiVersion: v1
        kind: {"K" * 300}
        metadata: {{name: b}}
        ---
        apiVersion: ../../v1
        kind: Pod
        metadata: {{name: c}}
        ---
        apiVersion: v1
        kind: List
        items:
        - {{apiVersion: v1, kind: ../y, metadata: {{name: d}}}}
        """)
    code, report = run_json(str(tmp_path / "m"), "--schema-dir", str(tmp_path / "sd"))
    assert code == 1 and report["errors"] == []
    assert _rows(report) == [("a.yaml", 2, 1, "missing-kind"), ("a.yaml", 6, 1, "missing-kind"),
                             ("a.yaml", 9, 1, "missing-kind"), ("a.yaml", 16, 20, "missing-kind")]
    assert [f["field"] for f in report["findings"]] == ["kind", "kind", "apiVersion", "kind"]
    assert all("../" not in f["message"] and "KKK" not in f["message"] for f in report["findings"])


def test_json_files_keep_the_yaml_bounds(tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    head = '{"apiVersion":\t"v1", "kind": "ConfigMap", "metadata": {"name": "a"}, '  # the tab: YAML refuses
    write("deep.json", head + '"data": ' + "[" * 400 + "]" * 400 + "}")
    write("long.json", head + '"x": ' + "9" * 5000 + "}")
    write("surrogate.json", head + '"data": {"a": "\\ud800"}}')
    write("long.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\nx: " + "9" * 5000 + "\n")
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 1 and report["errors"] == []
    assert _rows(report) == [("deep.json", 1, 1, "parse-error"), ("long.json", 1, 1, "parse-error"),
                             ("long.yaml", 4, 4, "parse-error"), ("surrogate.json", 1, 1, "encoding-error")]
    assert {f["message"] for f in report["findings"]} == {
        "document 0 nests collections more than 100 levels deep; it was not checked",
        "cannot parse: a number is too long to read",
        "a string escapes a lone UTF-16 surrogate, which is not Unicode text; the document was not checked"}


class _Leaky(Check):
    name = "schema"

    def check_resource(self, resource: Resource, ctx: Context) -> list[Finding]:
        raise KeyError(str(resource.obj["data"]["password"]).lower())


def test_internal_errors_never_quote_exception_text(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Exception text can hold document content (PyYAML's KeyError held the value): an internal
    error names the exception class only, in reports and on the command line."""
    monkeypatch.delenv("GATEKEEPER_DEBUG", raising=False)
    (tmp_path / "cm.yaml").write_text(CM.format(value=PASSWORD))
    import gatekeeper.pipeline as pipeline
    monkeypatch.setattr(pipeline, "get_check", lambda name: _Leaky())
    for fmt in ("json", "sarif", "text", "junit", "github", "markdown"):
        code, out = run_cli("check", "--checks", "schema", "--format", fmt, str(tmp_path))
        assert code == 2 and PASSWORD.lower() not in out.lower() and "KeyError" in out
    monkeypatch.setattr(cli_mod.cli, "main", lambda **kw: (_ for _ in ()).throw(KeyError(PASSWORD.lower())))
    with pytest.raises(SystemExit) as exited:
        cli_mod.main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("gatekeeper: internal error: KeyError") and PASSWORD.lower() not in err.lower()
