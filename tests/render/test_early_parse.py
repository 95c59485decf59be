"""The render stage starts on the kustomization files before the run parses the rest: those parses
are the run's own, so a plain check parses each file once (real kubectl kustomize)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from gatekeeper import pipeline
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.yamlload import ParsedFile
from tests.conftest import run_cli
from tests.render.conftest import CLEAN_DEPLOY, needs_kustomize, put


@needs_kustomize
def test_each_file_is_parsed_once_and_the_findings_are_those_of_a_run_without_rendering_early(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    put(tmp_path, {"base/kustomization.yaml": "resources: [deploy.yaml]\n", "base/deploy.yaml": CLEAN_DEPLOY,
                   "prod/kustomization.yaml": "resources: [../base]\nnamespace: prod\n",
                   "other/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"})
    code, out = run_cli("check", str(tmp_path), "--no-cache", "--format", "json")
    parsed: Counter[str] = Counter()
    real = pipeline.parse

    def counting(source: SourceFile) -> ParsedFile:
        parsed[source.path] += 1
        return real(source)

    monkeypatch.setattr(pipeline, "parse", counting)
    again = run_cli("check", str(tmp_path), "--no-cache", "--format", "json")
    assert again[0] == code and json.loads(again[1])["findings"] == json.loads(out)["findings"]
    assert parsed == {"base/kustomization.yaml": 1, "base/deploy.yaml": 1, "prod/kustomization.yaml": 1,
                      "other/cm.yaml": 1}
    assert any("rendered 1 of 1" in note for note in json.loads(again[1])["notes"])
