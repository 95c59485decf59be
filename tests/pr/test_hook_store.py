"""The pre-commit hook with a warm store judges exactly what will be committed, as ``--no-cache`` does.

The store (``.git/gatekeeper``) keeps parses, renders and a pass at the base between runs; files it
may not hold (a Secret, a detected credential) are read with the fast loader and parsed for positions
only when a finding lands in them. None of this may change a verdict: the index is what is judged
(not the working tree), a rename, a new unit or an edit of an unstaged file are seen as such.
Real git repositories, real kustomize renders.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.context_cache import ContextCache, LazyPositions, quick
from gatekeeper.scope import ParseMemo
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.render import fastload
from gatekeeper.sources.yamlload import parse
from tests.conftest import run_json
from tests.pr.conftest import Repo

TOKEN = "ghp_" + "Qm7tPv2LxR9sWc4KdZ8aHn3YbJ6uEf1GiT0o"
STORE = Path(".git") / "gatekeeper" / "context-cache.sqlite3"

DEPLOY = """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
    spec:
      replicas: 2
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
          - name: web
            image: registry.example.com/web:1.2.3
            securityContext:
              privileged: false
    """

FILES = {
    "base/kustomization.yaml": """
        resources:
        - deploy.yaml
        """,
    "base/deploy.yaml": DEPLOY,
    # a file the store may not hold (a Secret with a token), with an object after it
    "shop/a-secret.yaml": f"""
        apiVersion: v1
        kind: Secret
        metadata:
          name: repo
          namespace: shop
        stringData:
          token: {TOKEN}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          namespace: shop
          name: settings
        data:
          mode: fast
        """,
    "shop/cm.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: other
          namespace: shop
        data:
          mode: slow
        """,
}

PRIVILEGED_PATCH = """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
    spec:
      template:
        spec:
          containers:
          - name: web
            securityContext:
              privileged: true
    """


@pytest.fixture
def shop(repo: Repo) -> Repo:
    for path, text in FILES.items():
        repo.write(path, text)
    repo.commit("base")
    return repo


def _hook(repo: Repo, files: list[str], *extra: str) -> tuple[int, dict[str, Any]]:
    return run_json("--staged", "--scope", "all", *extra, *files, cwd=repo.path)


def _shown(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(f["path"], f["line"], f["column"], f["rule"], f["field"], f["message"], f.get("unit"),
             str(f.get("origin"))) for f in report["findings"]]


def _warm_and_plain(repo: Repo, files: list[str]) -> list[tuple[Any, ...]]:
    """The hook's findings with the store (run twice: written, then read) and without it: all equal."""
    first_code, first = _hook(repo, files)
    code, warm = _hook(repo, files)
    plain_code, plain = _hook(repo, files, "--no-cache")
    assert first_code == code == plain_code
    assert _shown(first) == _shown(warm) == _shown(plain)
    return _shown(warm)


def _rules_at(shown: list[tuple[Any, ...]]) -> set[tuple[str, int, str]]:
    return {(s[0], s[1], s[3]) for s in shown}


def test_the_hook_judges_the_index_not_an_unstaged_edit(shop: Repo) -> None:
    _warm_and_plain(shop, ["base/deploy.yaml"])  # warm the store on the committed content
    # staged: still clean; unstaged on top: privileged. The hook judges the index.
    shop.write("base/deploy.yaml", DEPLOY.replace("replicas: 2", "replicas: 3"))
    shop.git("add", "base/deploy.yaml")
    shop.write("base/deploy.yaml", DEPLOY.replace("privileged: false", "privileged: true"))
    clean = _warm_and_plain(shop, ["base/deploy.yaml"])
    assert not any(s[3] == "privileged-container" for s in clean)
    # staged now: reported at its line (17), with and without the store
    shop.git("add", "base/deploy.yaml")
    bad = _warm_and_plain(shop, ["base/deploy.yaml"])
    assert ("base/deploy.yaml", 17, "privileged-container") in _rules_at(bad)
    # the reverse: the problem staged, the working tree fixed but not staged: still reported
    shop.write("base/deploy.yaml", DEPLOY)
    still = _warm_and_plain(shop, ["base/deploy.yaml"])
    assert ("base/deploy.yaml", 17, "privileged-container") in _rules_at(still)


def test_an_unstaged_edit_of_a_context_file_is_not_seen(shop: Repo) -> None:
    _warm_and_plain(shop, ["shop/cm.yaml"])
    # the staged change names its ConfigMap like the one in shop/a-secret.yaml; an unstaged rename of
    # that one would hide the duplicate, but it is not what will be committed
    shop.write("shop/cm.yaml", FILES["shop/cm.yaml"].replace("name: other", "name: settings"))
    shop.git("add", "shop/cm.yaml")
    shop.write("shop/a-secret.yaml", FILES["shop/a-secret.yaml"].replace("name: settings", "name: renamed"))
    shown = _warm_and_plain(shop, ["shop/cm.yaml"])
    assert ("shop/cm.yaml", 4, "duplicate-object") in _rules_at(shown)
    assert any("shop/a-secret.yaml:9" in s[5] for s in shown if s[3] == "duplicate-object")


def test_a_finding_caused_in_a_file_the_store_may_not_hold_keeps_its_line(shop: Repo) -> None:
    _warm_and_plain(shop, ["shop/cm.yaml"])
    # a new file sorted before shop/a-secret.yaml defines its ConfigMap again: the duplicate is reported
    # in the unchanged file (caused by the change), at the name's line there, read through lazy positions
    shop.write("shop/0-new.yaml", FILES["shop/cm.yaml"].replace("name: other", "name: settings"))
    shop.git("add", "shop/0-new.yaml")
    shown = _warm_and_plain(shop, ["shop/0-new.yaml"])
    assert ("shop/a-secret.yaml", 13, "duplicate-object") in _rules_at(shown)
    assert TOKEN.encode() not in (shop.path / STORE).read_bytes()


def test_a_renamed_file_is_reported_under_its_new_name(shop: Repo) -> None:
    shop.write("shop/cm.yaml", FILES["shop/cm.yaml"].replace("mode: slow", "mode: slower"))
    shop.git("add", "shop/cm.yaml")
    _warm_and_plain(shop, ["shop/cm.yaml"])
    shop.git("reset", "-q", "--hard")
    # the same content under a new name, now with a duplicate of shop/a-secret.yaml's ConfigMap
    shop.git("mv", "shop/cm.yaml", "shop/moved.yaml")
    shop.write("shop/moved.yaml", FILES["shop/cm.yaml"].replace("name: other", "name: settings"))
    shop.git("add", "shop/moved.yaml")
    shown = _warm_and_plain(shop, ["shop/moved.yaml"])
    assert ("shop/moved.yaml", 4, "duplicate-object") in _rules_at(shown)
    assert not any(s[0] == "shop/cm.yaml" for s in shown)
    # renamed without an edit: the same blob under the new path is judged at the new path, and the
    # duplicate is gone again
    shop.git("reset", "-q", "--hard")
    shop.git("mv", "shop/cm.yaml", "shop/moved.yaml")
    shown = _warm_and_plain(shop, ["shop/moved.yaml"])
    assert not any(s[3] == "duplicate-object" for s in shown)


def test_a_new_kustomization_makes_a_new_unit_rendered_at_the_patch_line(shop: Repo) -> None:
    _warm_and_plain(shop, ["base/deploy.yaml"])  # the store knows the base unit and its render
    shop.write("overlays/prod/kustomization.yaml", """
        resources:
        - ../../base
        namespace: prod
        patches:
        - path: patch.yaml
        """)
    shop.write("overlays/prod/patch.yaml", PRIVILEGED_PATCH)
    shop.git("add", "-A")
    shown = _warm_and_plain(shop, ["overlays/prod/kustomization.yaml", "overlays/prod/patch.yaml"])
    privileged = [s for s in shown if s[3] == "privileged-container"]
    assert privileged and privileged[0][:2] == ("overlays/prod/patch.yaml", 11)
    assert privileged[0][6] == ["overlays/prod"]
    # the overlay then drops its patch: the unit renders again, without the finding
    shop.write("overlays/prod/kustomization.yaml", """
        resources:
        - ../../base
        namespace: prod
        """)
    shop.git("add", "-A")
    shown = _warm_and_plain(shop, ["overlays/prod/kustomization.yaml"])
    assert not any(s[3] == "privileged-container" for s in shown)


# -- the fast context loader ---------------------------------------------------------------------

SHAPES = {
    "plain.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  n: '1'\n  b: true\n",
    "multi.yaml": "---\n# comment only\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
                  "  apiVersion: v1\n  kind: Secret\n  metadata: {name: b}\n  stringData: {x: y}\n",
    "numbers.yaml": "a: 0x1F\nb: 1_000\nc: .5\nd: ~\ne: 2001-12-14\nf: [1, 2.5, -3]\ng: 'yes'\nh: on\n",
    "json.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}\n',
    "block.yaml": "a: |\n  line one\n  line two\nb: >-\n  folded\n  text\n",
}
IRREGULAR = {
    "alias.yaml": "a: &x {k: v}\nb: *x\n",
    "merge.yaml": "a: &x {k: v}\nb:\n  <<: *x\n  m: n\n",
    "duplicate.yaml": "a: 1\na: 2\n",
    "tag.yaml": "a: !!int nope\n",
    "broken.yaml": "a: [1, 2\n",
    "escape.yaml": 'a: "\\ud800"\n',
    "intkey.yaml": "1: one\n",
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_quick_gives_the_objects_and_starts_parse_gives(name: str) -> None:
    source = SourceFile(name, SHAPES[name].encode())
    full, fast = parse(source), quick(source)
    assert fast is not None and not full.findings
    assert [(d.index, d.line, d.obj) for d in fast.documents] == [(d.index, d.line, d.obj) for d in full.documents]
    for a, b in zip(fast.documents, full.documents, strict=True):
        assert isinstance(a.positions, LazyPositions)
        assert a.text == b.text
        for path in ((), ("metadata",), ("metadata", "name"), ("data", "b"), ("f", 2), ("missing", "x")):
            assert a.locate(path) == b.locate(path)


@pytest.mark.parametrize("name", sorted(IRREGULAR))
def test_quick_leaves_irregular_files_to_the_full_parse(name: str) -> None:
    assert quick(SourceFile(name, IRREGULAR[name].encode())) is None


def test_load_documents_gives_each_documents_start() -> None:
    found = fastload.load_documents(SHAPES["multi.yaml"])
    assert found is not None
    assert [start for _, start in found] == [(4, 1), (8, 3)]


def test_a_file_the_store_marked_is_read_quickly_and_parsed_only_for_a_position(tmp_path: Path) -> None:
    store = ContextCache(tmp_path / "store.sqlite3")
    source = SourceFile("shop/a-secret.yaml", FILES["shop/a-secret.yaml"].replace("\n        ", "\n")
                        .lstrip("\n").encode())
    memo = ParseMemo(store)
    first = memo(source, True)  # not judged yet: parsed in full, then judged (a Secret: marked)
    assert not isinstance(first.documents[0].positions, LazyPositions)
    store.close()
    assert TOKEN.encode() not in (tmp_path / "store.sqlite3").read_bytes()
    later = ParseMemo(ContextCache(tmp_path / "store.sqlite3"))(source, True)
    full = parse(source)
    assert [d.obj for d in later.documents] == [d.obj for d in full.documents]
    positions = later.documents[1].positions
    assert isinstance(positions, LazyPositions) and positions._loaded is None  # no parse yet
    assert later.documents[1].locate(("metadata", "name")) == full.documents[1].locate(("metadata", "name"))
    # a file whose hooks run is always parsed in full
    hooked = ParseMemo(ContextCache(tmp_path / "store.sqlite3"))(source, False)
    assert not isinstance(hooked.documents[0].positions, LazyPositions)


def test_positions_looked_up_once_are_kept_by_content_and_hold_no_field_name(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  distinctiveFieldName: 'x'\n"
    source = SourceFile("cm.yaml", text.encode())
    store_path = tmp_path / "store.sqlite3"
    path = ("data", "distinctiveFieldName")
    store = ContextCache(store_path)
    memo = ParseMemo(store)
    memo(source, True)  # judged and stored (nothing detected)
    store.close()
    store = ContextCache(store_path)
    first = ParseMemo(store)(source, True)
    assert isinstance(first.documents[0].positions, LazyPositions)
    assert first.documents[0].locate(path) == (6, 3)  # parses the file once, and keeps the answer
    store.close()
    with sqlite3.connect(store_path) as db:
        rows = db.execute("SELECT key, record FROM located").fetchall()
    assert len(rows) == 1 and "distinctiveFieldName" not in rows[0][0] + rows[0][1]
    assert list(json.loads(rows[0][1]).values()) == [[6, 3]]
    store = ContextCache(store_path)
    later = ParseMemo(store)(source, True)
    positions = later.documents[0].positions
    assert isinstance(positions, LazyPositions)
    assert later.documents[0].locate(path) == (6, 3)
    assert positions._loaded is None  # answered from the store: no parse
    assert later.documents[0].locate(("data",)) == (5, 1)  # a new lookup parses, as before
    assert positions._loaded is not None
    store.close()
    # other content at the same path: the kept positions are not used
    moved = SourceFile("cm.yaml", text.replace("\ndata:\n", "\n# moved\ndata:\n").encode())
    store = ContextCache(store_path)
    ParseMemo(store)(moved, True)
    store.close()
    store = ContextCache(store_path)
    other = ParseMemo(store)(moved, True)
    assert other.documents[0].locate(path) == (7, 3)
    store.close()


def test_a_quickly_read_file_keeps_its_looked_up_positions_too(tmp_path: Path) -> None:
    source = SourceFile("shop/a-secret.yaml", FILES["shop/a-secret.yaml"].replace("\n        ", "\n")
                        .lstrip("\n").encode())
    store_path = tmp_path / "store.sqlite3"
    for _ in range(2):  # judged (marked: a Secret), then read quickly and located
        store = ContextCache(store_path)
        parsed = ParseMemo(store)(source, True)
        assert parsed.documents[1].locate(("metadata", "name")) == (13, 3)
        store.close()
    store = ContextCache(store_path)
    parsed = ParseMemo(store)(source, True)
    assert parsed.documents[1].locate(("metadata", "name")) == (13, 3)
    positions = parsed.documents[1].positions
    assert isinstance(positions, LazyPositions) and positions._loaded is None
    store.close()
    assert TOKEN.encode() not in store_path.read_bytes()
