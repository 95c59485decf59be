"""Discoverability: ``gatekeeper rules``/``explain`` and the generated docs/rules.md."""

from __future__ import annotations

import json
from pathlib import Path

from gatekeeper import docs_gen
from gatekeeper.checks.lint.registry import RULES
from tests.conftest import PROJECT, run_cli


def test_rules_lists_the_lint_catalogue() -> None:
    code, out = run_cli("rules", "--check", "lint")
    assert code == 0
    rows = [line for line in out.splitlines() if "  lint " in line]
    assert len(rows) == len(RULES) >= 30
    assert any(row.startswith("image-digest") and " off " in row for row in rows)
    assert any(row.startswith("privileged-container") and " error " in row and " on " in row for row in rows)


def test_rules_json_has_every_rule_with_its_state() -> None:
    code, out = run_cli("rules", "--format", "json")
    assert code == 0
    items = {r["id"]: r for r in json.loads(out)}
    assert {rid for rid, r in items.items() if r["check"] == "lint"} == set(RULES)
    assert items["single-replica"]["enabled"] is False and items["single-replica"]["options"] == {"min_replicas": 2}
    assert items["waiver-expired"]["check"] == "waiver"


def test_explain_prints_rationale_fix_and_examples() -> None:
    code, out = run_cli("explain", "host-path")
    assert code == 0
    for part in ("Why:", "Fix:", "Options", "sensitive_paths", "Bad:", "Good:", "/var/run/docker.sock"):
        assert part in out


def test_docs_rules_md_is_current() -> None:
    page = (PROJECT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert page == docs_gen.current(), "docs/rules.md is stale: run python -m gatekeeper.docs_gen"
    assert "### `image-latest`" in page and "opt-in" in page


def test_docs_gen_check_mode_detects_a_stale_page(tmp_path: Path) -> None:
    stale = tmp_path / "rules.md"
    stale.write_text("# Rule reference\n", encoding="utf-8")
    assert docs_gen.main(["--output", str(stale), "--check"]) == 1
    assert docs_gen.main(["--output", str(stale)]) == 0
    assert docs_gen.main(["--output", str(stale), "--check"]) == 0
    assert stale.read_text(encoding="utf-8") == docs_gen.current()


def test_rules_markdown_is_the_docs_page() -> None:
    code, out = run_cli("rules", "--markdown")
    assert code == 0 and out == docs_gen.current()
