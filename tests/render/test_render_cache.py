"""The render cache holds no detected secret: a unit whose inputs hold one is rendered every time,
whatever form its output gives the value (real Helm render and kubectl kustomize, the real store)."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from pathlib import Path

import pytest

from gatekeeper.sources.render import kustomize_executable
from tests.conftest import run_cli
from tests.pr.conftest import Repo
from tests.render.conftest import CLEAN_DEPLOY, at, needs_helm, needs_kustomize

PASSWORD = "Zq8vT3mW9xLp2RkY7nBf"
STORE = ".git/gatekeeper/context-cache.sqlite3"
TEMPLATE = """apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: shop}
data:
  plain: {{ .Values.db.password | quote }}
  upper: {{ .Values.db.password | upper | quote }}
  twice: {{ .Values.db.password | b64enc | b64enc | quote }}
"""


def _rendered_rows(repo: Repo) -> list[bytes | None]:
    with sqlite3.connect(repo.path / STORE) as db:
        return [row[0] for row in db.execute("SELECT output FROM rendered")]


def _everything_stored(repo: Repo) -> bytes:
    with sqlite3.connect(repo.path / STORE) as db:
        return b"".join(str(row).encode() for table in ("rendered", "parsed", "render_alone")
                        for row in db.execute(f"SELECT * FROM {table}"))


def _check(repo: Repo) -> dict:
    code, out = run_cli("check", str(repo.path), "--base", "HEAD~1", "--format", "json")
    assert code in (0, 1), out
    return json.loads(out)


@needs_helm
def test_a_chart_whose_values_hold_a_secret_is_never_stored(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write("chart/Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\n")
    repo.write("chart/values.yaml", f'db:\n  password: "{PASSWORD}"\n')
    repo.write("chart/templates/cm.yaml", TEMPLATE)
    repo.commit("chart")
    repo.write("chart/values.yaml", f'db:\n  password: "{PASSWORD}"\nother: 1\n')
    repo.commit("pr")
    report = _check(repo)
    assert [(f["path"], f["line"]) for f in report["findings"] if f["rule"].startswith("secret-")] == \
        [("chart/values.yaml", 2)]
    _check(repo)  # a second run would read what the first stored
    rows = _rendered_rows(repo)
    assert rows and all(row is None for row in rows)  # the mark that says: render every time (head and base)
    stored = _everything_stored(repo)
    for form in (PASSWORD, PASSWORD.upper(), base64.b64encode(base64.b64encode(PASSWORD.encode()))):
        assert (form if isinstance(form, bytes) else form.encode()) not in stored


@needs_kustomize
def test_a_unit_with_a_secret_in_a_generator_file_is_never_stored_and_a_clean_one_is(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write("clean/kustomization.yaml", "resources: [deploy.yaml]\n")
    repo.write("clean/deploy.yaml", CLEAN_DEPLOY)
    repo.write("gen/kustomization.yaml", "configMapGenerator:\n  - name: app\n    files: [app.ini]\n")
    repo.write("gen/app.ini", f"[db]\npassword = {PASSWORD}\n")
    repo.commit("units")
    assert run_cli("check", str(repo.path))[0] == 0  # a plain check of a checkout keeps renders too
    stored = [row for row in _rendered_rows(repo) if row is not None]
    assert len(stored) == 1 and b"kind: Deployment" in stored[0]  # the clean unit
    assert len(_rendered_rows(repo)) == 2  # gen: the mark that says to render it every time
    assert PASSWORD.encode() not in _everything_stored(repo)
    code, out = run_cli("check", str(repo.path), "--format", "json")
    assert code == 0
    assert any(re.search(r"rendered 2 of 2 .*\(1 from the render cache\)", n) for n in json.loads(out)["notes"])


PRIVILEGED = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - name: web
          securityContext: {privileged: %s}
"""


def _stored_documents(repo: Repo) -> list[list]:
    with sqlite3.connect(repo.path / STORE) as db:
        return [json.loads(row[0]) for row in db.execute("SELECT objects FROM rendered WHERE objects IS NOT NULL")]


def _located(report: dict) -> list[tuple[str, str, int]]:
    return sorted((f["rule"], f["path"], f["line"]) for f in report["findings"])


@needs_kustomize
def test_a_hit_reads_the_documents_stored_beside_the_output_and_a_changed_input_renders_again(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write("base/kustomization.yaml", "resources: [deploy.yaml]\n")
    repo.write("base/deploy.yaml", CLEAN_DEPLOY)
    repo.write("prod/kustomization.yaml", "resources: [../base]\npatches: [{path: patch.yaml}]\n")
    repo.write("prod/patch.yaml", PRIVILEGED % "false")
    repo.commit("units")
    code, out = run_cli("check", str(repo.path), "--format", "json")
    first = json.loads(out)
    stored = _stored_documents(repo)
    assert len(stored) == 1 and [doc["kind"] for doc in stored[0]] == ["Deployment"]  # prod (base is in it)
    code, out = run_cli("check", str(repo.path), "--format", "json")
    assert any("(1 from the render cache)" in n for n in json.loads(out)["notes"])
    assert json.loads(out)["findings"] == first["findings"]  # the stored documents give what the render gave
    repo.write("prod/patch.yaml", PRIVILEGED % "true")  # an input changes: the unit renders again
    code, out = run_cli("check", str(repo.path), "--format", "json")
    report = json.loads(out)
    assert code == 1 and any("(0 from the render cache)" in n for n in report["notes"])
    assert ("privileged-container", "prod/patch.yaml", 9) in _located(report)
    # the stored documents are what a hit reads (the text is not parsed again): edit them in place
    with sqlite3.connect(repo.path / STORE) as db:
        for key, objects in list(db.execute("SELECT key, objects FROM rendered WHERE objects IS NOT NULL")):
            db.execute("UPDATE rendered SET objects = ? WHERE key = ?",
                       (objects.replace('"privileged": true', '"privileged": false'), key))
    code, out = run_cli("check", str(repo.path), "--format", "json")
    assert at(json.loads(out), "privileged-container") == []


BAD_BINDING = """apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read}
subjects: {kind: ServiceAccount, name: app}"""


def _counting_kubectl(tmp_path: Path) -> tuple[Path, Path]:
    """A kubectl that logs each start and runs the real one (the log counts renderer processes)."""
    real, log = kustomize_executable(), tmp_path / "starts.log"
    assert real is not None
    wrapper = tmp_path / "bin" / "kubectl"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho start >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, log


def _starts(log: Path) -> int:
    count = len(log.read_text().splitlines()) if log.exists() else 0
    log.unlink(missing_ok=True)
    return count


@needs_kustomize
def test_a_unit_that_fails_in_a_batch_renders_alone_next_time_storing_only_digests(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrapper, log = _counting_kubectl(tmp_path)
    monkeypatch.setenv("GATEKEEPER_KUSTOMIZE", str(wrapper))
    repo = Repo(tmp_path / "repo")
    repo.write("gen/kustomization.yaml", "configMapGenerator:\n  - name: app\n    files: [app.ini]\n")
    repo.write("gen/app.ini", f"[db]\npassword = {PASSWORD}\n")  # never stored: renders every run
    repo.write("bad/kustomization.yaml", "namespace: shop\nresources: [binding.yaml]\n")
    repo.write("bad/binding.yaml", BAD_BINDING)  # kustomize cannot set the namespace of its subjects
    repo.commit("units")
    code, out = run_cli("check", str(repo.path), "--format", "json")
    first = json.loads(out)
    assert at(first, "render-error") == [("bad/kustomization.yaml", 1)]
    assert _starts(log) == 3  # the batch fails on bad, bad alone, gen again
    with sqlite3.connect(repo.path / STORE) as db:
        alone = [row[0] for row in db.execute("SELECT key FROM render_alone")]
    assert len(alone) == 1 and re.fullmatch(r"[^:]+:[0-9a-f]+:[0-9a-f]{64}", alone[0])
    assert PASSWORD.encode() not in _everything_stored(repo)
    code, out = run_cli("check", str(repo.path), "--format", "json")
    assert json.loads(out)["findings"] == first["findings"]
    assert _starts(log) == 2  # bad alone from the start, gen in its batch
    repo.write("bad/binding.yaml", BAD_BINDING.replace("subjects: {", "subjects: [{") + "]\n")  # fixed
    code, out = run_cli("check", str(repo.path), "--format", "json")
    assert code in (0, 1) and at(json.loads(out), "render-error") == []
    assert _starts(log) == 1  # gen and bad in one batch
