"""The redaction scan skips documents read from the parse store, which keeps only documents in which
that scan finds nothing: the values policies are kept from are the same with the store and without.

Real SQLite stores in temp dirs, the real loader (``ParseMemo``) and the real scan.
"""

from __future__ import annotations

from pathlib import Path

from gatekeeper.checks.policy.redact import scan, scan_clean
from gatekeeper.context_cache import ContextCache, storable
from gatekeeper.model import Document
from gatekeeper.scope import ParseMemo
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.yamlload import parse

# A configMapGenerator literal: the secrets check judges it as a key and a value (nothing to
# report), the redaction scan walks the document and finds a random-looking string in it.
ENCODED = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A="
GENERATOR = (f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nconfigMapGenerator:\n"
             f"- name: settings\n  literals:\n  - x={ENCODED}\n")
PLAIN = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  mode: fast\n"


def _stored_then_loaded(tmp_path: Path, source: SourceFile) -> list[Document]:
    store = ContextCache(tmp_path / "store.sqlite3")
    ParseMemo(store)(source, True)  # judged, and stored when it may be
    store.close()
    return ParseMemo(ContextCache(tmp_path / "store.sqlite3"))(source, True).documents


def test_a_document_the_scan_finds_something_in_is_not_stored_even_when_the_check_reports_nothing(
        tmp_path: Path) -> None:
    doc = parse(SourceFile("app/kustomization.yaml", GENERATOR.encode())).documents[0]
    assert scan([doc])[0] == [f"x={ENCODED}"]  # what a stored copy would have hidden from the scan
    assert not scan_clean(doc) and storable(doc) is None
    loaded = _stored_then_loaded(tmp_path, SourceFile("app/kustomization.yaml", GENERATOR.encode()))
    assert [d.stored for d in loaded] == [False]  # parsed again, so scanned again
    assert scan(loaded)[0] == [f"x={ENCODED}"]
    assert ENCODED.encode() not in (tmp_path / "store.sqlite3").read_bytes()


def test_stored_documents_are_marked_and_skipped_and_the_scan_gives_what_it_gave_on_a_parse(
        tmp_path: Path) -> None:
    source = SourceFile("app/plain.yaml", PLAIN.encode())
    loaded = _stored_then_loaded(tmp_path, source)
    assert [d.stored for d in loaded] == [True]
    fresh = parse(source).documents
    assert scan_clean(fresh[0]) and scan(fresh) == ([], {})
    assert scan(loaded) == scan(fresh)


def test_a_stored_document_is_not_scanned(tmp_path: Path) -> None:
    """The skip is real: a stored document whose object were changed afterwards (nothing in the
    loader does that) would not be read by the scan."""
    loaded = _stored_then_loaded(tmp_path, SourceFile("app/plain.yaml", PLAIN.encode()))
    loaded[0].obj["data"]["token"] = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
    assert scan(loaded)[0] == []
    loaded[0].stored = False
    assert scan(loaded)[0] == ["ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"]
