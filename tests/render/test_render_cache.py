"""The render cache holds no detected secret: a unit whose inputs hold one is rendered every time,
whatever form its output gives the value (real Helm render and kubectl kustomize, the real store)."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from pathlib import Path

from tests.conftest import run_cli
from tests.pr.conftest import Repo
from tests.render.conftest import CLEAN_DEPLOY, needs_helm, needs_kustomize

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
        return b"".join(str(row).encode() for table in ("rendered", "parsed")
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
