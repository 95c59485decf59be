"""The store overwrites what it drops or replaces: an earlier version's table of unsealed render
output, dropped on first open, leaves none of its bytes in the database file.

SQLite builds differ in their default (Debian's overwrites, the upstream default does not), so the
store asks for it on every connection; this test holds on either kind of build.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gatekeeper.context_cache import ContextCache

OLD_OUTPUT = "Unsealed-Render-Output-Of-An-Earlier-Version-4c1d"


def test_the_dropped_table_of_unsealed_output_leaves_no_bytes_behind(tmp_path: Path) -> None:
    path = tmp_path / "context-cache.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA secure_delete=OFF")
        db.execute("CREATE TABLE rendered (key TEXT PRIMARY KEY, output BLOB, objects TEXT)")
        db.execute("INSERT INTO rendered VALUES ('k', ?, ?)", ((OLD_OUTPUT * 40).encode(), OLD_OUTPUT * 40))
    db.close()
    assert OLD_OUTPUT.encode() in path.read_bytes()
    store = ContextCache(path)
    db = store._connect()
    assert db is not None and db.execute("PRAGMA secure_delete").fetchone() == (1,)
    store.close()
    left = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert OLD_OUTPUT.encode() not in left
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'rendered'").fetchone() is None
