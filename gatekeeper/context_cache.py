"""Parsed context kept between runs: a git mode re-parses only the files that changed.

A git mode loads the whole tree as context but runs the per-file hooks, and reports, on the
changed files only; of the other files the checks need the objects (cross-object rules, policy
inventory) and, for a finding that lands there, positions. So each context file's parse is
stored by path and content digest (and a digest of the secret detectors): the documents' index,
start line and object, in ``marshal``'s format (several times cheaper to read back than JSON, and
exact: key types, shared values and interned keys come back as a parse makes them). Positions are
not stored: the first lookup in a stored document parses its file (only findings pay).

A run reads its context files' records from one snapshot (the records the last run used, in one
row) instead of one query per file; a file the snapshot does not know is looked up in the table of
records, and a run that used a different set of records writes the snapshot again. The snapshot
holds only records the table may hold, so it never holds more than the table does.

The store never holds a detected secret, and a stored object is what the checks would see
without it. A file is stored only when the secrets check finds nothing in it, when it holds no
Secret with values (a placeholder would differ from what a render of the file produces), when the
policies' redaction scan finds nothing in it either (so that scan skips stored documents), when no
other copy of a value it finds (a ``last-applied-configuration`` annotation, a YAML alias) is
left in the record, and when no secretGenerator reads it. Files whose hooks run are always parsed (their objects must be
complete), as are files with parse findings. The store is one SQLite file in the repository's
git directory, so it is never committed and goes away with the clone; any problem with it
(read-only directory, corrupt file, another version's records) makes it a miss, never an error.

Rendered output of deployment units is kept too, by a digest of the unit's inputs, and always
sealed (``sources/render/seal``): encrypted and authenticated under a key derived from every byte
of those inputs, which nothing in the store gives, so an entry reveals nothing to a reader who
does not already hold the repository's files, whatever secret the output holds.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import marshal
import sqlite3
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from gatekeeper import __version__
from gatekeeper.model import Document, FieldPath, PositionIndex
from gatekeeper.prefetch import UNANSWERED, Answer
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.render import fastload, seal
from gatekeeper.sources.resources import extract
from gatekeeper.sources.yamlload import ParsedFile, decode, parse

FORMAT = 2  # 2: records in marshal's format, and the snapshot of a run's records
UNSTORABLE = "-"  # the record of a file that must be parsed every time
RENDER_ENTRY = b"render"  # the label a render-cache entry is sealed under
_OUTPUT, _REFUSAL = b"o", b"r"  # what a sealed render entry holds: an output, or the renderer's refusal
MIN_SENSITIVE = 6  # shorter values are not searched for in a record (they are names, numbers)
MAX_ROWS = 200_000  # older records are dropped past this (every version of every file adds one)
MAX_BASES = 200  # base passes kept (one per base commit, change and configuration)
_SECRET_FIELDS = ("data", "stringData")
Record = bytes | str  # a file's record: its documents in marshal's format, or the UNSTORABLE mark


class LazyPositions(PositionIndex):
    """Positions of a stored document, computed by parsing its file on the first lookup (one parse
    per file, shared by its documents through ``parsed``). With ``located``, a lookup made in an
    earlier run of the same file content is answered from the store without the parse."""

    __slots__ = ("_index", "_loaded", "_located", "_parsed", "_source")

    def __init__(self, source: SourceFile, index: int, start: tuple[int, int], parsed: list[ParsedFile],
                 located: Located | None = None) -> None:
        super().__init__(None, start)
        self._source = source
        self._index = index
        self._parsed = parsed
        self._loaded: PositionIndex | None = None
        self._located = located

    def _positions(self) -> PositionIndex:
        if self._loaded is None:
            if not self._parsed:
                self._parsed.append(parse(self._source))
            found = [d for d in self._parsed[0].documents if d.index == self._index]
            self._loaded = found[0].positions if found else PositionIndex(None, self._start)
        return self._loaded

    def lookup(self, path: Sequence[str | int]) -> tuple[int, int]:
        if self._located is None:
            return self._positions().lookup(path)
        found = self._located.get(self._index, path)
        if found is None:
            found = self._positions().lookup(path)
            self._located.put(self._index, path, found)
        return found

    def exists(self, path: Sequence[str | int]) -> bool:
        return self._positions().exists(path)


class Located:
    """The positions looked up in one file's documents, kept in the store under the file's key
    (its path and content digest) and the digest of the code that computes positions: a later run
    answers the same lookups without parsing the file. A path is kept as a digest and a position
    as two numbers, so the record holds no field name or value of the file."""

    __slots__ = ("_cache", "_key", "_memo")

    def __init__(self, cache: ContextCache, key: str) -> None:
        self._cache = cache
        self._key = key
        self._memo: dict[str, list[int]] | None = None

    def get(self, index: int, path: Sequence[str | int]) -> tuple[int, int] | None:
        if self._memo is None:
            self._memo = self._cache.read_located(self._key)
        found = self._memo.get(_path_key(index, path))
        return (found[0], found[1]) if found is not None else None

    def put(self, index: int, path: Sequence[str | int], position: tuple[int, int]) -> None:
        if self._memo is None:
            self._memo = self._cache.read_located(self._key)
        self._memo[_path_key(index, path)] = [int(position[0]), int(position[1])]
        self._cache.note_located(self._key, self._memo)


def _path_key(index: int, path: Sequence[str | int]) -> str:
    return hashlib.blake2b(f"{index}\0{tuple(path)!r}".encode(), digest_size=10).hexdigest()


class ContextCache:
    """The store; ``load`` and ``save`` never raise (a broken store is only a miss)."""

    def __init__(self, path: Path, root: Path | None = None) -> None:
        self.path = path
        self.root = root  # the working tree, where the secrets check reads generator files
        self.hits = 0
        self.saved = 0
        self._db: sqlite3.Connection | None = None
        self._pending: list[tuple[str, Record]] = []
        self._excluded: set[str] = set()
        self._unstorable: set[str] = set()
        self._broken = False
        self.render_hits = 0
        self._objects: dict[str, str] = {}  # render key -> its output's documents as JSON (hits)
        self._refusals: dict[str, str] = {}  # render key -> the renderer's message refusing the unit (hits)
        self._alone: set[str] | None = None  # render keys of units that render alone (read once)
        self._located: dict[str, dict[str, list[int]]] = {}  # positions looked up this run, by file key
        self._located_dirty: set[str] = set()
        self._snapshot: dict[str, Record] | None = None  # the records the last run used (read once)
        self._used: dict[str, Record] = {}  # the records this run read, by key (the next snapshot)

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None and not self._broken:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=5)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=OFF")  # a lost record is only a miss
                db.execute("PRAGMA secure_delete=ON")  # replaced or dropped rows are overwritten
                db.execute("CREATE TABLE IF NOT EXISTS parsed (key TEXT PRIMARY KEY, record TEXT NOT NULL)")
                with contextlib.suppress(sqlite3.OperationalError):  # another process may hold it
                    db.execute("DROP TABLE IF EXISTS rendered")  # earlier versions' outputs, kept unsealed
                db.execute("CREATE TABLE IF NOT EXISTS render_sealed (key TEXT PRIMARY KEY, entry BLOB NOT NULL)")
                db.execute("CREATE TABLE IF NOT EXISTS render_alone (key TEXT PRIMARY KEY)")
                db.execute("CREATE TABLE IF NOT EXISTS base (key TEXT PRIMARY KEY, fingerprints TEXT NOT NULL)")
                db.execute("CREATE TABLE IF NOT EXISTS located (key TEXT PRIMARY KEY, record TEXT NOT NULL)")
                db.execute("CREATE TABLE IF NOT EXISTS snapshot (key TEXT PRIMARY KEY, records BLOB NOT NULL)")
                self._db = db
            except (OSError, sqlite3.Error):
                self._broken = True
        return self._db

    @staticmethod
    def key(source: SourceFile, digest: bytes) -> str:
        return f"{_prefix(source.path)}{digest.hex()}"

    def load(self, source: SourceFile, digest: bytes) -> ParsedFile | None:
        """The file's documents from the store (objects redacted, positions lazy), or None."""
        key = self.key(source, digest)
        found = self._record(key)
        if found is None:
            return None
        if found == UNSTORABLE:
            self._unstorable.add(key)
            return None
        if not isinstance(found, bytes):
            return None
        try:
            restored = self._restore(source, key, marshal.loads(found))
        except Exception:  # any malformed record is a miss, never a failed run
            return None
        if restored is not None:
            self._used[key] = found
        return restored

    def _record(self, key: str) -> Record | None:
        """A file's record: from the snapshot, else from the table of records (None: a miss)."""
        snapshot = self._read_snapshot()
        found = snapshot.get(key)
        if found is not None:
            if found == UNSTORABLE:
                self._used[key] = found
            return found
        db = self._connect()
        if db is None:
            return None
        try:
            row = db.execute("SELECT record FROM parsed WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error:
            return None
        if row is None or not isinstance(row[0], (bytes, str)):
            return None
        if row[0] == UNSTORABLE:
            self._used[key] = UNSTORABLE
        return row[0]

    def _read_snapshot(self) -> dict[str, Record]:
        """The records the last run used (an empty snapshot on a miss or any problem)."""
        if self._snapshot is None:
            self._snapshot = {}
            db = self._connect()
            try:
                row = db.execute("SELECT records FROM snapshot WHERE key = ?", (_snapshot_key(),)).fetchone() \
                    if db is not None else None
                value = marshal.loads(row[0]) if row is not None else {}
                if isinstance(value, dict) and all(isinstance(k, str) and (isinstance(v, bytes) or v == UNSTORABLE)
                                                   for k, v in value.items()):
                    self._snapshot = value
            except Exception:  # a malformed snapshot is a miss, never a failed run
                pass
        return self._snapshot

    def _restore(self, source: SourceFile, key: str, record: Any) -> ParsedFile | None:
        text, problem = decode(source)
        if problem is not None or text is None:
            return None
        result = ParsedFile(source.path, text=text)
        shared: list[ParsedFile] = []
        located = Located(self, f"{_positions_code()}:{key}")  # as ``located`` makes it, the key known
        for index, line, column, obj in record:
            result.documents.append(Document(source.path, int(index), obj, int(line),
                                             LazyPositions(source, int(index), (int(line), int(column)), shared,
                                                           located),
                                             text=text, stored=True))
        self.hits += 1
        return result

    def located(self, source: SourceFile, digest: bytes) -> Located:
        """The positions kept for a file's content (read on its first lookup; see ``Located``)."""
        return Located(self, f"{_positions_code()}:{self.key(source, digest)}")

    def read_located(self, key: str) -> dict[str, list[int]]:
        """The positions the store keeps under ``key`` (an empty record on a miss or any problem)."""
        known = self._located.get(key)
        if known is not None:
            return known
        db = self._connect()
        found: dict[str, list[int]] = {}
        try:
            row = db.execute("SELECT record FROM located WHERE key = ?", (key,)).fetchone() if db else None
            value = json.loads(row[0]) if row is not None else {}
            if isinstance(value, dict) and all(
                    isinstance(k, str) and isinstance(v, list) and len(v) == 2
                    and all(type(n) is int for n in v) for k, v in value.items()):
                found = value
        except (sqlite3.Error, ValueError):
            pass
        self._located[key] = found
        return found

    def note_located(self, key: str, record: dict[str, list[int]]) -> None:
        """Queue a file's positions record (``record`` is the one ``read_located`` gave, extended)."""
        self._located[key] = record
        self._located_dirty.add(key)

    def marked_in_snapshot(self, source: SourceFile, digest: bytes) -> bool:
        """Whether the snapshot holds the "parse every time" mark for this file: ``load`` will read
        it, and the file will be read with the fast loader (known before the run reads any file)."""
        return self._read_snapshot().get(self.key(source, digest)) == UNSTORABLE

    def unstorable(self, source: SourceFile, digest: bytes) -> bool:
        """Whether ``load`` read the mark that says this file is parsed every time."""
        return self.key(source, digest) in self._unstorable

    def save(self, source: SourceFile, digest: bytes, parsed: ParsedFile) -> None:
        """Queue a fresh parse of a context file (written by ``flush``) when it may be stored."""
        key = self.key(source, digest)
        if parsed.findings or self._broken or key in self._unstorable:
            return
        text: Record = UNSTORABLE  # remembered, so later runs do not judge the file again
        try:
            record = []
            values: set[str] = set()
            for doc in parsed.documents:
                kept = storable(doc)
                if kept is None:
                    break
                record.append([doc.index, doc.line, doc.positions.lookup(())[1], kept[0]])
                values |= kept[1] | _secret_values(doc.obj)
            else:
                # a copy of a found value elsewhere in the file (an annotation, an alias) stays out
                forms = {f for v in values if len(v) >= MIN_SENSITIVE for f in _forms(v)}
                if not forms or not any(form in string for string in _strings(record) for form in forms):
                    text = marshal.dumps(record)
        except Exception:  # a value marshal cannot hold, or a scan that failed: marked, not stored
            text = UNSTORABLE
        self._pending.append((key, text))

    def get_render(self, key: str, seal_key: bytes) -> bytes | None:
        """A unit's rendered output by the digest of its inputs, unsealed with the key derived from
        the same inputs (None: a miss; an entry that does not unseal under the key is a miss too)."""
        db = self._connect()
        if db is None:
            return None
        try:
            row = db.execute("SELECT entry FROM render_sealed WHERE key = ?", (_render_key(key),)).fetchone()
        except sqlite3.Error:
            return None
        opened = seal.unseal(seal_key, RENDER_ENTRY, row[0]) if row is not None else None
        if opened is None:
            return None
        kind, body = opened[:1], opened[1:]
        try:
            if kind == _REFUSAL:
                self._refusals[key] = body.decode("utf-8")
                return None
            size = int.from_bytes(body[:8], "big")
            if kind != _OUTPUT or len(body) < 8 or size > len(body) - 8:
                return None
            objects = body[8 + size:]
            if objects:
                self._objects[key] = objects.decode("utf-8")
        except UnicodeDecodeError:
            return None
        self.render_hits += 1
        return body[8:8 + size]

    def refusal(self, key: str) -> str | None:
        """The renderer's message for a unit it refused, when ``get_render`` read one for ``key``."""
        return self._refusals.get(key)

    def get_render_objects(self, key: str) -> list[Any] | None:
        """The documents of the output ``get_render`` gave for ``key``, as stored beside it (fresh
        objects on every call; None when none were stored: the caller loads the text)."""
        found = self._objects.get(key)
        if found is None:
            return None
        try:
            value = json.loads(found)
        except ValueError:
            return None
        return value if isinstance(value, list) else None

    def renders_alone(self, key: str) -> bool:
        """Whether a unit with exactly these inputs failed in a batch, or had to be rendered again
        alone after one (``put_alone``): it is then rendered alone from the start. Only the
        digest of the inputs is stored, so this holds nothing a secret could be read from."""
        if self._alone is None:
            db = self._connect()
            try:
                self._alone = {row[0] for row in db.execute("SELECT key FROM render_alone")} if db else set()
            except sqlite3.Error:
                self._alone = set()
        return _render_key(key) in self._alone

    def put_alone(self, key: str) -> None:
        """Remember that a unit with these inputs renders alone (see ``renders_alone``)."""
        db = self._connect()
        if db is None:
            return
        try:
            with db:
                db.execute("INSERT OR REPLACE INTO render_alone (key) VALUES (?)", (_render_key(key),))
        except sqlite3.Error:
            self._broken = True

    def put_render(self, key: str, seal_key: bytes, text: bytes, objects: str | None = None) -> None:
        """Store a unit's rendered output (and ``objects``, its loaded documents as JSON, which a
        later run reads instead of parsing the text) sealed under ``seal_key``, the key derived
        from every byte of the unit's inputs (see ``sources/render/seal``): the entry holds
        nothing readable without those bytes, whatever secret the inputs or the output hold."""
        self._put_sealed(key, seal_key, _OUTPUT + len(text).to_bytes(8, "big") + text
                         + (objects.encode("utf-8") if objects else b""))

    def put_refusal(self, key: str, seal_key: bytes, message: str) -> None:
        """Store the message with which the renderer refused a unit (it depends on the inputs alone,
        and may quote them: sealed like an output), so later runs do not start the renderer for it."""
        self._put_sealed(key, seal_key, _REFUSAL + message.encode("utf-8"))

    def _put_sealed(self, key: str, seal_key: bytes, payload: bytes) -> None:
        db = self._connect()
        if db is None:
            return
        try:
            with db:
                db.execute("INSERT OR REPLACE INTO render_sealed (key, entry) VALUES (?, ?)",
                           (_render_key(key), seal.seal(seal_key, RENDER_ENTRY, payload)))
        except sqlite3.Error:
            self._broken = True

    def get_fingerprints(self, key: str) -> set[str] | None:
        """The fingerprints of a pass at the base, by the digest of everything that pass reads (see
        ``scope.base_key``); None: a miss."""
        db = self._connect()
        if db is None:
            return None
        try:
            row = db.execute("SELECT fingerprints FROM base WHERE key = ?", (_render_key(key),)).fetchone()
            found = json.loads(row[0]) if row is not None else None
        except (sqlite3.Error, ValueError):
            return None
        if not isinstance(found, list) or not all(isinstance(f, str) for f in found):
            return None
        return set(found)

    def put_fingerprints(self, key: str, fingerprints: set[str]) -> None:
        """Keep a base pass's fingerprints: digests the reports print anyway, never a finding's text."""
        db = self._connect()
        if db is None:
            return
        try:
            with db:
                db.execute("INSERT OR REPLACE INTO base (key, fingerprints) VALUES (?, ?)",
                           (_render_key(key), json.dumps(sorted(fingerprints))))
                db.execute("DELETE FROM base WHERE rowid IN (SELECT rowid FROM base ORDER BY rowid DESC "
                           "LIMIT -1 OFFSET ?)", (MAX_BASES,))
        except sqlite3.Error:
            self._broken = True

    def exclude(self, parsed: ParsedFile) -> None:
        """Note the files a kustomization's secretGenerators read: ``flush`` keeps none of them."""
        # only a document with a secretGenerator names such files (``secret_sources`` is empty otherwise)
        generating = [doc for doc in parsed.documents if isinstance(doc.obj, dict) and "secretGenerator" in doc.obj]
        if not generating:
            return
        from gatekeeper.checks.secrets.kustomize import secret_sources

        for doc in generating:
            self._excluded |= secret_sources(doc.path, doc.obj, self.root)

    def flush(self) -> None:
        """Write the queued records in one transaction and keep the store bounded."""
        db = self._connect()
        pending = [(k, r) for k, r in self._pending if _key_path(k) not in self._excluded]
        self._pending = []
        located = [(k, json.dumps(self._located[k])) for k in sorted(self._located_dirty)]
        self._located_dirty = set()
        snapshot = self._next_snapshot(pending)
        if db is None or (not pending and not self._excluded and not located and snapshot is None):
            return
        try:
            with db:
                if snapshot is not None:
                    db.execute("INSERT OR REPLACE INTO snapshot (key, records) VALUES (?, ?)",
                               (_snapshot_key(), marshal.dumps(snapshot)))
                    db.execute("DELETE FROM snapshot WHERE key != ?", (_snapshot_key(),))
                if located:
                    db.executemany("INSERT OR REPLACE INTO located (key, record) VALUES (?, ?)", located)
                    (rows,) = db.execute("SELECT count(*) FROM located").fetchone()
                    if rows > MAX_ROWS:
                        db.execute("DELETE FROM located WHERE rowid IN (SELECT rowid FROM located ORDER BY rowid "
                                   "LIMIT ?)", (rows - MAX_ROWS,))
                for path in self._excluded:
                    db.execute("DELETE FROM parsed WHERE key >= ? AND key < ?", (_prefix(path), _prefix(path) + "~"))
                db.executemany("INSERT OR REPLACE INTO parsed (key, record) VALUES (?, ?)", pending)
                self.saved += sum(1 for _, record in pending if record != UNSTORABLE)
                (rows,) = db.execute("SELECT count(*) FROM parsed").fetchone()
                if rows > MAX_ROWS:
                    db.execute("DELETE FROM parsed WHERE rowid IN (SELECT rowid FROM parsed ORDER BY rowid "
                               "LIMIT ?)", (rows - MAX_ROWS,))
        except sqlite3.Error:  # a store that cannot be written (locked, read-only, full) is only a miss
            self._broken = True

    def _next_snapshot(self, pending: list[tuple[str, Record]]) -> dict[str, Record] | None:
        """The records this run read or judged, without the files a secretGenerator reads; None when
        they are exactly the snapshot's (nothing to write)."""
        records = {k: r for k, r in self._used.items() if _key_path(k) not in self._excluded}
        records.update(pending)
        self._used = dict(records)
        if records.keys() == self._read_snapshot().keys():
            return None
        self._snapshot = records
        return records

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None


def quick(source: SourceFile, located: Located | None = None,
          loaded: Answer = UNANSWERED) -> ParsedFile | None:
    """A context file's documents read without positions (a lookup parses the file, as for a
    stored document), or None when the fast loader cannot give exactly what ``parse`` gives (an
    alias, a tag, a duplicate key, a parse error...: see ``sources/render/fastload``); the objects
    are ``parse``'s, so this is only a cheaper way to the same documents. ``loaded``: the fast
    loader's answer for this file when another process already computed it (``prefetch``)."""
    text, problem = decode(source)
    if problem is not None or text is None:
        return None
    found = loaded.found if loaded.known else fastload.load_documents(text)
    if found is None:
        return None
    result = ParsedFile(source.path, text=text)
    shared: list[ParsedFile] = []
    for index, (obj, start) in enumerate(found):
        result.documents.append(Document(source.path, index, obj, start[0],
                                         LazyPositions(source, index, start, shared, located), text=text))
    return result


def _key_path(key: str) -> str:
    """The path in a record's key (``FORMAT:detectors:path:digest``)."""
    return key.split(":", 2)[2].rsplit(":", 1)[0]


def _snapshot_key() -> str:
    """The snapshot's key: this format and these detectors, and the Python whose ``marshal`` wrote it."""
    return f"{FORMAT}:{_detectors()}:{sys.implementation.cache_tag}:{marshal.version}"


def _render_key(key: str) -> str:
    return f"{FORMAT}:{_detectors()}:{key}"


def storable(doc: Document) -> tuple[Any, set[str]] | None:
    """A copy of the document's object for the store and the values the secrets check finds in
    it, or None when it may not be stored: the check finds something, or the document holds a
    Secret with values. (Placeholders for a Secret's values would differ from what a render of
    the same file produces, and provenance compares the two: the store must not change results.)"""
    if _secret_values(doc.obj):
        return None
    from gatekeeper.checks.policy.redact import scan_clean

    if not scan_clean(doc):  # the redaction scan skips stored documents (``Document.stored``)
        return None
    found = _detected(doc)
    if not all(_secret_value_path(doc.obj, path) for path, _ in found):
        return None
    obj = _copy(doc.obj)
    _mask_secrets(obj)
    return obj, {value.strip() for _, value in found}


def _detected(doc: Document) -> list[tuple[FieldPath, str]]:
    """What the secrets check can report in the document: read as its resources, and as a plain
    document (a kustomize patch is read so), except a SealedSecret's ciphertext."""
    from gatekeeper.checks.secrets import detected

    shell = Document(doc.path, doc.index, doc.obj, doc.line, doc.positions, text=doc.text)
    extract(shell)  # a fresh parse has no resources yet: the loader fills them after this step
    found = detected(shell)
    if shell.resources:
        sealed = {r.base for r in shell.resources if r.kind == "SealedSecret"}
        shell.resources = []
        found.extend(item for item in detected(shell) if not _ciphertext(item[0], sealed))
    return found


def _ciphertext(path: FieldPath, sealed: set[FieldPath]) -> bool:
    """Whether ``path`` lies in the ``spec.encryptedData`` of one of the SealedSecrets at ``sealed``."""
    return any(path[:len(base) + 2] == (*base, "spec", "encryptedData") for base in sealed)


def _secret_value_path(obj: Any, path: FieldPath) -> bool:
    """Whether ``path`` lies under a Secret's data or stringData (of the document or a List item)."""
    kind = None
    if len(path) >= 2 and path[0] == "items" and isinstance(path[1], int) and _is_list(obj):
        kind = str(obj.get("kind"))[: -len("List")]  # a typed list's items may leave their kind out
        items = obj.get("items")
        obj = items[path[1]] if isinstance(items, list) and 0 <= path[1] < len(items) else None
        path = path[2:]
    return isinstance(obj, dict) and obj.get("kind", kind) == "Secret" and len(path) >= 2 \
        and path[0] in _SECRET_FIELDS


def _secret_values(obj: Any) -> set[str]:
    """The values of the Secrets in an object (raw, and decoded for ``data``)."""
    out: set[str] = set()
    for secret in _secrets(obj):
        for name in _SECRET_FIELDS:
            values = secret.get(name)
            for value in values.values() if isinstance(values, dict) else ():
                if isinstance(value, str):
                    out.add(value.strip())
                    if name == "data":
                        out.add(_b64decode(value))
    return out


def _forms(value: str) -> set[str]:
    """How a value can be written inside another string: as is, JSON-escaped (once or twice:
    JSON inside an annotation inside JSON), or base64-encoded."""
    out = {value}
    for _ in range(2):
        out |= {json.dumps(f, ensure_ascii=ascii)[1:-1] for f in out for ascii in (True, False)}
    out.add(base64.b64encode(value.encode()).decode().rstrip("="))
    return {f for f in out if f}


def _strings(value: Any) -> list[str]:
    """Every string (keys too) in a nested value."""
    out: list[str] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, dict):
            out.extend(k for k in node if isinstance(k, str))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


def _b64decode(value: str) -> str:
    try:
        return base64.b64decode("".join(value.split()), validate=True).decode("utf-8").strip()
    except (ValueError, UnicodeDecodeError):
        return ""


def _secrets(obj: Any) -> list[dict[str, Any]]:
    """The Secret an object is, or the Secrets of a List: the objects whose values the policy
    check masks (the same rule as its ``redact``, so policies see the same context either way)."""
    if not isinstance(obj, dict):
        return []
    items = obj.get("items") if _is_list(obj) else None
    inner = str(obj.get("kind"))[: -len("List")]  # a typed list's items may leave their kind out
    nested = [i for i in items if isinstance(i, dict) and i.get("kind", inner) == "Secret"] \
        if isinstance(items, list) else []
    return ([obj] if obj.get("kind") == "Secret" else []) + nested


def _is_list(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") is not None and str(obj.get("kind")).endswith("List")


def _prefix(path: str) -> str:
    """The key of every record of ``path`` under this format and these detectors starts with this."""
    return f"{FORMAT}:{_detectors()}:{path}:"


@cache
def _positions_code() -> str:
    """A digest of the code that computes positions (the loader and the position index): positions
    kept by another version of it are never served."""
    from gatekeeper import model
    from gatekeeper.sources import yamlload

    h = hashlib.sha256(__version__.encode())
    for module in (model, yamlload):
        h.update(Path(str(module.__file__)).read_bytes())
    return h.hexdigest()[:16]


@cache
def _detectors() -> str:
    """The version and a digest of the secret detectors' code: records redacted by other detectors
    are never served."""
    from gatekeeper.checks import secrets

    h = hashlib.sha256(__version__.encode())
    for module in sorted(Path(secrets.__file__).parent.glob("*.py")):
        h.update(module.read_bytes())
    h.update(Path(__file__).read_bytes())
    # the redaction scan, which skips stored documents because the store keeps only those it passes
    h.update((Path(__file__).parent / "checks" / "policy" / "redact.py").read_bytes())
    return h.hexdigest()[:16]


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _mask_secrets(obj: Any) -> None:
    """Every string value under a Secret's data and stringData (inside Lists too) becomes a
    placeholder of the same length."""
    for secret in _secrets(obj):
        for name in _SECRET_FIELDS:
            values = secret.get(name)
            if isinstance(values, dict):
                for key, value in values.items():
                    if isinstance(value, str):
                        values[key] = "*" * len(value)
