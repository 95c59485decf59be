"""The render cache keeps every unit's output sealed (``sources/render/seal``): a unit whose inputs
hold secrets is served from it like any other, and the store's bytes hold no form of the secret
(real Helm render and kubectl kustomize, the real store and its files on disk)."""

from __future__ import annotations

import base64
import codecs
import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.sources.render import kustomize as kz_render
from gatekeeper.sources.render import kustomize_executable
from tests.conftest import run_cli
from tests.pr.conftest import Repo
from tests.render.conftest import CLEAN_DEPLOY, at, needs_helm, needs_kustomize

PASSWORD = "Zq8vT3mW9xLp2RkY7nBf"  # a Secret's stringData
LITERAL = "Pw7xQ2mZ9vLr4TkN8bHc"  # a secretGenerator literal
FILE_PASSWORD = "Hq4nW8rTz2LmV6pKx9Js"  # in a secretGenerator's file source
STORE = ".git/gatekeeper/context-cache.sqlite3"
TEMPLATE = """apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: shop}
data:
  plain: {{ .Values.db.password | quote }}
  upper: {{ .Values.db.password | upper | quote }}
  twice: {{ .Values.db.password | b64enc | b64enc | quote }}
"""
SECRET = f"""apiVersion: v1
kind: Secret
metadata: {{name: db-admin}}
stringData:
  password: {PASSWORD}
"""
GENERATOR = f"""resources: [secret.yaml, deploy.yaml]
secretGenerator:
  - name: db
    literals: [password={LITERAL}]
    files: [creds.ini]
"""


def _store_bytes(repo: Repo) -> bytes:
    """Every byte of the store's files on disk: the database, its write-ahead log and shared memory."""
    files = [repo.path / f"{STORE}{suffix}" for suffix in ("", "-wal", "-shm", "-journal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def _forms(secret: str) -> list[bytes]:
    """Encodings a secret can take on its way into rendered output, each a byte string the store
    must not hold: as written, case-changed, reversed, hex, ROT13, base64 (standard and URL-safe,
    twice, and at each alignment inside a longer encoded text, such as a whole file source), UTF-16."""
    raw = secret.encode()
    out = [raw, raw.upper(), raw.lower(), raw[::-1], raw.hex().encode(), raw.hex().upper().encode(),
           codecs.encode(secret, "rot13").encode(), base64.b64encode(base64.b64encode(raw)).rstrip(b"="),
           secret.encode("utf-16-le"), secret.encode("utf-16-be")]
    for prefix in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"x" * prefix + raw)
            out.append(text[4 if prefix else 0:-4])  # the part only the secret's bytes decide
    return out


def _leaks(repo: Repo, *secrets: str) -> list[tuple[str, bytes]]:
    stored = _store_bytes(repo)
    return [(secret, form) for secret in secrets for form in _forms(secret) if form in stored]


def _sorted_findings(report: dict[str, Any]) -> str:
    return json.dumps(sorted(json.dumps(f, sort_keys=True) for f in report["findings"]))


def _run(repo: Repo, *args: str) -> dict[str, Any]:
    code, out = run_cli("check", str(repo.path), "--format", "json", *args)
    assert code in (0, 1), out
    return json.loads(out)


def _from_cache(report: dict[str, Any]) -> tuple[int, int]:
    """(units rendered, of them from the render cache), from the report's note."""
    for note in report["notes"]:
        found = re.search(r"rendered (\d+) of \d+ .*\((\d+) from the render cache\)", note)
        if found:
            return int(found.group(1)), int(found.group(2))
    raise AssertionError(report["notes"])


def _entries(repo: Repo) -> list[tuple[str, bytes]]:
    with sqlite3.connect(repo.path / STORE) as db:
        return list(db.execute("SELECT key, entry FROM render_sealed ORDER BY key"))


@needs_kustomize
def test_a_unit_with_secrets_is_served_sealed_from_the_cache_with_the_same_findings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrapper, log = _counting_kubectl(tmp_path)
    monkeypatch.setenv("GATEKEEPER_KUSTOMIZE", str(wrapper))
    repo = Repo(tmp_path / "repo")
    repo.write("app/kustomization.yaml", GENERATOR)
    repo.write("app/secret.yaml", SECRET)
    repo.write("app/creds.ini", f"[db]\nuser = app\npassword = {FILE_PASSWORD}\n")
    repo.write("app/deploy.yaml", CLEAN_DEPLOY)
    repo.commit("unit")
    first = _run(repo)
    assert _from_cache(first) == (1, 0) and _starts(log) == 1
    secrets = {(f["path"], f["line"]) for f in first["findings"] if f["rule"].startswith("secret-")}
    assert {("app/secret.yaml", 5), ("app/kustomization.yaml", 4), ("app/creds.ini", 3)} <= secrets
    assert _entries(repo) and _leaks(repo, PASSWORD, LITERAL, FILE_PASSWORD) == []
    second = _run(repo)
    assert _from_cache(second) == (1, 1) and _starts(log) == 0  # served from the cache, no kustomize
    uncached = _run(repo, "--no-cache")
    assert _starts(log) == 1
    assert _sorted_findings(second) == _sorted_findings(first) == _sorted_findings(uncached)
    assert _leaks(repo, PASSWORD, LITERAL, FILE_PASSWORD) == []

    repo.write("app/creds.ini", "[db]\nuser = app\npassword = Tm3kR9wXq5ZbN2vLp8Hd\n")  # an edited input: a miss
    edited = _run(repo)
    assert _from_cache(edited) == (1, 0) and _starts(log) == 1
    assert _sorted_findings(edited) == _sorted_findings(_run(repo, "--no-cache"))
    assert _starts(log) == 1
    assert _from_cache(_run(repo)) == (1, 1) and _starts(log) == 0
    assert _leaks(repo, PASSWORD, LITERAL, FILE_PASSWORD, "Tm3kR9wXq5ZbN2vLp8Hd") == []


@needs_kustomize
def test_a_corrupted_or_misplaced_sealed_entry_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrapper, log = _counting_kubectl(tmp_path)
    monkeypatch.setenv("GATEKEEPER_KUSTOMIZE", str(wrapper))
    repo = Repo(tmp_path / "repo")
    repo.write("app/kustomization.yaml", GENERATOR)
    repo.write("app/secret.yaml", SECRET)
    repo.write("app/creds.ini", f"password = {FILE_PASSWORD}\n")
    repo.write("app/deploy.yaml", CLEAN_DEPLOY)
    repo.write("other/kustomization.yaml", "resources: [deploy.yaml]\n")
    repo.write("other/deploy.yaml", CLEAN_DEPLOY.replace("name: web", "name: other"))
    repo.commit("units")
    first = _run(repo)
    starts = _starts(log)
    assert _from_cache(first) == (2, 0) and starts >= 1
    (app_key, app_entry), (other_key, other_entry) = _entries(repo)
    with sqlite3.connect(repo.path / STORE) as db:  # each entry under the other's key
        db.execute("UPDATE render_sealed SET entry = ? WHERE key = ?", (other_entry, app_key))
        db.execute("UPDATE render_sealed SET entry = ? WHERE key = ?", (app_entry, other_key))
    swapped = _run(repo)
    assert _from_cache(swapped) == (2, 0) and _starts(log) == starts
    assert _sorted_findings(swapped) == _sorted_findings(first)
    for at_byte in (20, 40, -1):  # in the nonce, the tag, the cipher text
        with sqlite3.connect(repo.path / STORE) as db:
            for key, entry in list(db.execute("SELECT key, entry FROM render_sealed")):
                flipped = bytearray(entry)
                flipped[at_byte] ^= 0x20
                db.execute("UPDATE render_sealed SET entry = ? WHERE key = ?", (bytes(flipped), key))
        corrupted = _run(repo)
        assert _from_cache(corrupted) == (2, 0) and _starts(log) == starts
        assert _sorted_findings(corrupted) == _sorted_findings(first)
    assert _from_cache(_run(repo)) == (2, 2) and _starts(log) == 0  # the misses stored good entries again
    with sqlite3.connect(repo.path / STORE) as db:
        db.execute("UPDATE render_sealed SET entry = ?", (b"not an entry",))
    assert _from_cache(_run(repo)) == (2, 0)
    assert _leaks(repo, PASSWORD, LITERAL, FILE_PASSWORD) == []


@needs_kustomize
def test_another_build_of_the_renderer_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrapper, log = _counting_kubectl(tmp_path)
    monkeypatch.setenv("GATEKEEPER_KUSTOMIZE", str(wrapper))
    repo = Repo(tmp_path / "repo")
    repo.write("app/kustomization.yaml", "resources: [deploy.yaml]\n")
    repo.write("app/deploy.yaml", CLEAN_DEPLOY)
    repo.commit("unit")
    first = _run(repo)
    assert _from_cache(_run(repo)) == (1, 1) and _starts(log) == 1
    stat = wrapper.stat()
    os.utime(wrapper, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the renderer was replaced
    again = _run(repo)
    assert _from_cache(again) == (1, 0) and _starts(log) == 1
    assert again["findings"] == first["findings"]


@needs_helm
def test_a_chart_whose_values_hold_a_secret_is_served_sealed(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write("chart/Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\n")
    repo.write("chart/values.yaml", f'db:\n  password: "{PASSWORD}"\n')
    repo.write("chart/templates/cm.yaml", TEMPLATE)
    repo.commit("chart")
    repo.write("chart/values.yaml", f'db:\n  password: "{PASSWORD}"\nother: 1\n')
    repo.commit("pr")
    first = _run(repo, "--base", "HEAD~1")
    assert [(f["path"], f["line"]) for f in first["findings"] if f["rule"].startswith("secret-")] == \
        [("chart/values.yaml", 2)]
    assert _from_cache(first) == (1, 0)
    second = _run(repo, "--base", "HEAD~1")  # the head and the base pass read what the first stored
    assert _from_cache(second) == (1, 1)
    assert _sorted_findings(second) == _sorted_findings(first) == _sorted_findings(
        _run(repo, "--base", "HEAD~1", "--no-cache"))
    assert _entries(repo)
    assert _leaks(repo, PASSWORD) == []


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


def _located(report: dict) -> list[tuple[str, str, int]]:
    return sorted((f["rule"], f["path"], f["line"]) for f in report["findings"])


@needs_kustomize
def test_a_hit_reads_the_documents_stored_beside_the_output_and_a_changed_input_renders_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write("base/kustomization.yaml", "resources: [deploy.yaml]\n")
    repo.write("base/deploy.yaml", CLEAN_DEPLOY)
    repo.write("prod/kustomization.yaml", "resources: [../base]\npatches: [{path: patch.yaml}]\n")
    repo.write("prod/patch.yaml", PRIVILEGED % "false")
    repo.commit("units")
    first = _run(repo)
    loads: list[bytes] = []
    real = kz_render.load_output
    monkeypatch.setattr(kz_render, "load_output", lambda text: loads.append(text) or real(text))
    second = _run(repo)
    assert _from_cache(second) == (1, 1) and loads == []  # the stored documents: the text is not loaded
    assert second["findings"] == first["findings"]  # the stored documents give what the render gave
    repo.write("prod/patch.yaml", PRIVILEGED % "true")  # an input changes: the unit renders again
    report = _run(repo)
    assert _from_cache(report) == (1, 0) and len(loads) == 1
    assert ("privileged-container", "prod/patch.yaml", 9) in _located(report)


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
def test_a_refusal_is_kept_sealed_and_a_fixed_unit_renders_in_a_batch_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrapper, log = _counting_kubectl(tmp_path)
    monkeypatch.setenv("GATEKEEPER_KUSTOMIZE", str(wrapper))
    repo = Repo(tmp_path / "repo")
    repo.write("gen/kustomization.yaml", "configMapGenerator:\n  - name: app\n    files: [app.ini]\n")
    repo.write("gen/app.ini", f"[db]\npassword = {PASSWORD}\n")
    repo.write("bad/kustomization.yaml", "namespace: shop\nresources: [binding.yaml]\n")
    repo.write("bad/binding.yaml", BAD_BINDING)  # kustomize cannot set the namespace of its subjects
    repo.commit("units")
    first = _run(repo)
    assert at(first, "render-error") == [("bad/kustomization.yaml", 1)]
    assert _starts(log) == 3  # the batch fails on bad, bad alone, gen again
    with sqlite3.connect(repo.path / STORE) as db:
        alone = [row[0] for row in db.execute("SELECT key FROM render_alone")]
    assert len(alone) == 1 and re.fullmatch(r"[^:]+:[0-9a-f]+:[0-9a-f]{64}", alone[0])
    assert _leaks(repo, PASSWORD) == []
    refusal = next(f["message"] for f in first["findings"] if f["rule"] == "render-error")
    assert len(refusal) > 40 and refusal[-40:].encode() not in _store_bytes(repo)  # kept sealed
    assert _run(repo)["findings"] == first["findings"]
    assert _starts(log) == 0  # gen's output and bad's refusal from the cache
    assert _run(repo, "--no-cache")["findings"] == first["findings"]
    assert _starts(log) == 3
    repo.write("bad/binding.yaml", BAD_BINDING.replace("subjects: {", "subjects: [{") + "]\n")  # fixed
    repo.write("gen/app.ini", "[db]\nuser = app\n")  # and gen changed: neither is in the cache
    assert at(_run(repo), "render-error") == []
    assert _starts(log) == 1  # gen and bad in one batch
