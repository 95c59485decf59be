"""The store's snapshot: a run reads its context records in one piece, with the same results.

Each test uses a real git repository and the real CLI; the store is read back with sqlite3 to
see which records the snapshot holds (paths only: records are never printed).
"""

from __future__ import annotations

import json
import marshal
import sqlite3
from pathlib import Path
from typing import Any

from tests.conftest import run_json
from tests.pr.conftest import SERVICE, WEB_CM, Repo

STORE = Path(".git") / "gatekeeper" / "context-cache.sqlite3"

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: web, image: "registry.example.com/web:1.2.3"}
"""
SECRET = """
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
stringData: {password: "Snapshot-S3cret-Value-41"}
"""
CREDS = "db:\n  user: app\n  port: 5432\n"


def _findings(report: dict[str, Any]) -> str:
    return json.dumps(sorted(report["findings"], key=lambda f: json.dumps(f, sort_keys=True)), sort_keys=True)


def _note(report: dict[str, Any]) -> str:
    return next(n for n in report["notes"] if n.startswith("parse cache:"))


def _snapshot_paths(repo: Repo) -> dict[str, bool]:
    """Each path in the snapshot and whether its record holds documents (False: the "parse every
    time" mark)."""
    with sqlite3.connect(repo.path / STORE) as db:
        rows = db.execute("SELECT records FROM snapshot").fetchall()
    assert len(rows) == 1
    records = marshal.loads(rows[0][0])
    return {key.split(":", 2)[2].rsplit(":", 1)[0]: isinstance(record, bytes) for key, record in records.items()}


def _staged_change(repo: Repo) -> None:
    repo.write("apps/deploy.yaml", DEPLOY)
    repo.write("apps/secret.yaml", SECRET)
    repo.write("apps/web.yaml", WEB_CM)
    repo.write("apps/creds.yaml", CREDS)
    repo.commit("base")
    repo.write("apps/service.yaml", SERVICE.replace("port: 80", "port: eighty"))
    repo.git("add", "-A")


def test_a_run_reads_its_records_from_the_snapshot_with_the_same_findings(repo: Repo) -> None:
    _staged_change(repo)
    _, plain = run_json("--staged", "--no-cache", cwd=repo.path)
    _, cold = run_json("--staged", cwd=repo.path)
    assert _snapshot_paths(repo) == {"apps/deploy.yaml": True, "apps/web.yaml": True, "apps/creds.yaml": True,
                                     "apps/secret.yaml": False}
    with sqlite3.connect(repo.path / STORE) as db:  # every record now comes from the snapshot alone
        db.execute("DELETE FROM parsed")
    _, warm = run_json("--staged", cwd=repo.path)
    assert _note(warm).startswith("parse cache: 3 context file(s) read")
    assert _findings(plain) == _findings(cold) == _findings(warm)
    assert any(f["path"] == "apps/service.yaml" for f in warm["findings"])


def test_a_file_a_secret_generator_starts_reading_leaves_the_snapshot(repo: Repo) -> None:
    _staged_change(repo)
    run_json("--staged", cwd=repo.path)
    assert _snapshot_paths(repo)["apps/creds.yaml"] is True
    # the change now makes creds.yaml a Secret's content: its record goes, from the table too
    repo.write("apps/kustomization.yaml", """
        resources: [deploy.yaml, web.yaml, service.yaml]
        secretGenerator:
          - {name: creds, files: [creds.yaml]}
        """)
    repo.git("add", "-A")
    _, first = run_json("--staged", cwd=repo.path)
    assert "apps/creds.yaml" not in _snapshot_paths(repo)
    with sqlite3.connect(repo.path / STORE) as db:
        keys = [k for (k,) in db.execute("SELECT key FROM parsed")]
    assert not any(":apps/creds.yaml:" in k for k in keys)
    _, second = run_json("--staged", cwd=repo.path)
    _, plain = run_json("--staged", "--no-cache", cwd=repo.path)
    assert _findings(first) == _findings(second) == _findings(plain)


def test_a_damaged_snapshot_is_a_miss(repo: Repo) -> None:
    _staged_change(repo)
    _, plain = run_json("--staged", "--no-cache", cwd=repo.path)
    run_json("--staged", cwd=repo.path)
    with sqlite3.connect(repo.path / STORE) as db:
        db.execute("UPDATE snapshot SET records = ?", (b"\xff not marshal",))
        db.execute("DELETE FROM parsed")
    code, damaged = run_json("--staged", cwd=repo.path)
    assert code == 1 and _findings(damaged) == _findings(plain)
    assert _note(damaged).startswith("parse cache: 0 context file(s) read")
    assert _snapshot_paths(repo)["apps/web.yaml"] is True  # written again by that run
    _, again = run_json("--staged", cwd=repo.path)
    assert _note(again).startswith("parse cache: 3 context file(s) read") and _findings(again) == _findings(plain)
