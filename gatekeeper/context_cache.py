"""Parsed context kept between runs: a git mode re-parses only the files that changed.

A git mode loads the whole tree as context but runs the per-file hooks, and reports, on the
changed files only; of the other files the checks need the objects (cross-object rules, policy
inventory) and, for a finding that lands there, positions. So each context file's parse is
stored by path and content digest: the documents' index, start line and object, with every
value the secrets check reports replaced (the cache never holds a detected secret, and every
Secret's ``data``/``stringData`` value is replaced as the policy check sees it). A file read
from the cache gets its positions lazily: the first lookup parses it (only findings pay).

Files whose hooks run are always parsed (their objects must be complete), as are files with
parse findings (nothing is stored for them). The store is one SQLite file in the repository's
git directory, so it is never committed and goes away with the clone; any problem with it
(read-only directory, corrupt file, another version's records) makes it a miss, never an error.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gatekeeper import __version__
from gatekeeper.model import Document, PositionIndex
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.resources import extract
from gatekeeper.sources.yamlload import ParsedFile, decode, parse

FORMAT = 1
MASK = "<redacted by gatekeeper>"
MAX_ROWS = 200_000  # older records are dropped past this (every version of every file adds one)
_SECRET_FIELDS = ("data", "stringData")


class LazyPositions(PositionIndex):
    """Positions of a cached document, computed by parsing its file on the first lookup."""

    __slots__ = ("_index", "_loaded", "_source")

    def __init__(self, source: SourceFile, index: int, start: tuple[int, int]) -> None:
        super().__init__(None, start)
        self._source = source
        self._index = index
        self._loaded: PositionIndex | None = None

    def _positions(self) -> PositionIndex:
        if self._loaded is None:
            found = [d for d in parse(self._source).documents if d.index == self._index]
            self._loaded = found[0].positions if found else PositionIndex(None, self._start)
        return self._loaded

    def lookup(self, path: Sequence[str | int]) -> tuple[int, int]:
        return self._positions().lookup(path)

    def exists(self, path: Sequence[str | int]) -> bool:
        return self._positions().exists(path)


class ContextCache:
    """The store; ``load`` and ``save`` never raise (a broken store is only a miss)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.hits = 0
        self.saved = 0
        self._db: sqlite3.Connection | None = None
        self._pending: list[tuple[str, str]] = []
        self._broken = False

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None and not self._broken:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=5)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=OFF")  # a lost record is only a miss
                db.execute("CREATE TABLE IF NOT EXISTS parsed (key TEXT PRIMARY KEY, record TEXT NOT NULL)")
                self._db = db
            except (OSError, sqlite3.Error):
                self._broken = True
        return self._db

    @staticmethod
    def key(source: SourceFile, digest: bytes) -> str:
        return f"{FORMAT}:{__version__}:{source.path}:{digest.hex()}"

    def load(self, source: SourceFile, digest: bytes) -> ParsedFile | None:
        """The file's documents from the store (objects redacted, positions lazy), or None."""
        db = self._connect()
        if db is None:
            return None
        try:
            row = db.execute("SELECT record FROM parsed WHERE key = ?", (self.key(source, digest),)).fetchone()
        except sqlite3.Error:
            return None
        if row is None:
            return None
        try:
            return self._restore(source, json.loads(row[0]))
        except Exception:  # any malformed record is a miss, never a failed run
            return None

    def _restore(self, source: SourceFile, record: list[list[Any]]) -> ParsedFile | None:
        text, problem = decode(source)
        if problem is not None or text is None:
            return None
        result = ParsedFile(source.path, text=text)
        for index, line, column, obj in record:
            result.documents.append(Document(source.path, int(index), obj, int(line),
                                             LazyPositions(source, int(index), (int(line), int(column))),
                                             text=text))
        self.hits += 1
        return result

    def save(self, source: SourceFile, digest: bytes, parsed: ParsedFile) -> None:
        """Queue a fresh parse of a context file (written by ``flush``); files with findings are not kept."""
        if parsed.findings or self._broken:
            return
        try:
            record = [[doc.index, doc.line, doc.positions.lookup(())[1], redacted(doc)] for doc in parsed.documents]
            self._pending.append((self.key(source, digest), json.dumps(record, allow_nan=True)))
        except Exception:  # a value JSON cannot hold, or a scan that failed: not stored
            return

    def flush(self) -> None:
        """Write the queued records in one transaction and keep the store bounded."""
        db = self._connect()
        if db is None or not self._pending:
            self._pending = []
            return
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO parsed (key, record) VALUES (?, ?)", self._pending)
                self.saved += len(self._pending)
                (rows,) = db.execute("SELECT count(*) FROM parsed").fetchone()
                if rows > MAX_ROWS:
                    db.execute("DELETE FROM parsed WHERE rowid IN (SELECT rowid FROM parsed ORDER BY rowid "
                               "LIMIT ?)", (rows - MAX_ROWS,))
        except sqlite3.Error:
            pass
        finally:
            self._pending = []

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None


def redacted(doc: Document) -> Any:
    """A copy of the document's object without any value the secrets check reports (read as the
    resources it holds and as a plain document, whichever finds more), and with every Secret's
    ``data``/``stringData`` values replaced."""
    from gatekeeper.checks.secrets import detected_fields

    shell = Document(doc.path, doc.index, doc.obj, doc.line, doc.positions, text=doc.text)
    extract(shell)  # a fresh parse has no resources yet: the loader fills them after this step
    paths = detected_fields(shell)
    if shell.resources:
        shell.resources = []
        paths.extend(detected_fields(shell))
    obj = _copy(doc.obj)
    for path in paths:
        _mask_at(obj, path)
    _mask_secrets(obj)
    return obj


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _mask_at(obj: Any, path: Sequence[str | int]) -> None:
    """Replace the value at ``path`` (the nearest existing container's value when shorter)."""
    node: Any = obj
    for i, part in enumerate(path):
        if isinstance(node, dict):
            if not isinstance(part, str) or part not in node:
                return
        elif not isinstance(node, list) or not isinstance(part, int) or not 0 <= part < len(node):
            return
        child = node[part]
        if i == len(path) - 1 or not isinstance(child, (dict, list)):
            node[part] = MASK
            return
        node = child


def _mask_secrets(obj: Any) -> None:
    """Every value under a Secret's data and stringData (inside Lists too)."""
    if not isinstance(obj, dict):
        return
    if obj.get("kind") == "Secret":
        for name in _SECRET_FIELDS:
            values = obj.get(name)
            if isinstance(values, dict):
                for key in values:
                    values[key] = MASK
    items = obj.get("items")
    if isinstance(items, list):
        for item in items:
            _mask_secrets(item)
