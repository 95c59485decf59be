"""The example manifests in docs/sync.md pass the gate's schema check; its CLI examples parse."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import run_cli, run_json

DOC = Path(__file__).resolve().parents[2] / "docs" / "sync.md"


def _yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_doc_example_manifests_pass_the_schema_check(tmp_path: Path) -> None:
    manifests = [b for b in _yaml_blocks() if b.startswith("apiVersion:")]
    assert len(manifests) == 4  # Application, hydrator Application, AppProject, Flux pair
    for i, block in enumerate(manifests):
        (tmp_path / f"example{i}.yaml").write_text(block, encoding="utf-8")
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 0
    assert report["findings"] == []
    assert report["summary"]["resources"] == 5


def test_doc_options_exist() -> None:
    code, out = run_cli("sync", "--help")
    assert code == 0
    text = DOC.read_text(encoding="utf-8")
    for option in sorted(set(re.findall(r"^\| `(--[a-z-]+)", text, flags=re.M))):
        assert option in out, option
