"""Core data types shared by every layer: severities, findings, documents, resources, reports.

These are plain dataclasses with no behaviour beyond small derived properties, so every
layer (sources, checks, pipeline, reporters) can depend on them without pulling in others.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FieldPath = tuple[str | int, ...]


class Severity(enum.IntEnum):
    """Finding severity; ordered so that ``>=`` compares against a fail threshold."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse ``error``/``warning``/``info`` (case-insensitive)."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (expected error, warning or info)") from None

    def __str__(self) -> str:
        return self.name.lower()


_NAME_MARKS = str.maketrans("", "", "-_$@")


def format_field(path: Sequence[str | int]) -> str:
    """Render a field path as ``spec.containers[0].image`` (keys with dots are bracket-quoted)."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif part and (part.isalnum() or _plain_name(part)):
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{part!r}]")
    return "".join(out)


def _plain_name(part: str) -> bool:
    """Letters, digits and ``-_$@`` only (such a key needs no quoting)."""
    rest = part.translate(_NAME_MARKS)
    return not rest or rest.isalnum()


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule a check can report: id, default severity and the documentation users read."""

    id: str
    check: str
    severity: Severity
    summary: str
    rationale: str = ""
    hint: str = ""
    enabled: bool = True
    bad_example: str = ""
    good_example: str = ""
    options: dict[str, Any] = field(default_factory=dict)


# The Kubernetes name grammar for types: a kind is a DNS-1035 label once lower-cased (CRD names.kind),
# an apiVersion is a DNS-1035 label (the version), optionally after a DNS-1123 subdomain (the group).
_KIND = re.compile(r"[A-Za-z](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?")
_VERSION = r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?"
_API_VERSION = re.compile(rf"(?:[a-z0-9](?:[-a-z0-9]{{0,61}}[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]{{0,61}}[a-z0-9])?)*/)?"
                          rf"{_VERSION}")


def valid_type(api_version: str, kind: str) -> bool:
    """Whether an apiVersion and kind fit the Kubernetes name grammar. Every lookup by type (schema
    files, CRDs, policies) is behind this, so a kind such as ``../../x`` or 300 characters long
    never reaches a file name."""
    return (len(api_version) <= 317 and _KIND.fullmatch(kind) is not None
            and _API_VERSION.fullmatch(api_version) is not None)


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """Identity of a Kubernetes object as findings report it."""

    api_version: str
    kind: str
    namespace: str | None
    name: str | None
    document: int

    @property
    def key(self) -> str:
        """``kind/namespace/name`` (namespace omitted when unset)."""
        parts = [self.kind, self.namespace, self.name or "<unnamed>"]
        return "/".join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class Waiver:
    """Why a finding does not count: the reason, where the waiver came from, when it expires."""

    reason: str
    source: str
    expires: str | None = None
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class Origin:
    """A source line that set (part of) a rendered value: file, line and what the file is to the
    render (``base``, ``patch``, ``transformer``, ``generator``, ``template``, ``values``...)."""

    path: str
    line: int
    role: str


@dataclass(frozen=True, slots=True)
class Location:
    """Where a field of an object is written: the file and line a finding points at, plus the
    other source lines that contributed when the object was rendered."""

    path: str
    line: int
    column: int = 1
    origin: tuple[Origin, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place. Every finding has a file and a line."""

    check: str
    rule: str
    severity: Severity
    message: str
    path: str
    line: int
    column: int = 1
    end_line: int | None = None
    resource: ResourceRef | None = None
    field: str = ""
    hint: str = ""
    fingerprint: str = ""
    waived: Waiver | None = None
    baseline: bool = False
    origin: tuple[Origin, ...] = ()  # rendered objects: every source line that set the value
    units: tuple[str, ...] = ()  # rendered objects: the deployment units that apply it

    @property
    def counts(self) -> bool:
        """True when the finding can fail the run (not waived and not in a baseline)."""
        return self.waived is None and not self.baseline


def fingerprint(rule: str, resource: ResourceRef | None, path: str, field_path: str, evidence: str = "") -> str:
    """A fingerprint stable across line moves: rule, object identity, field and normalised evidence.

    The file path stands in for the object when there is none (parse errors). Evidence must
    never be a raw secret: callers pass a keyed digest for secret values.
    """
    ident = (
        f"{resource.api_version}|{resource.kind}|{resource.namespace or ''}|{resource.name or ''}"
        if resource is not None
        else f"file|{path}"
    )
    raw = "\x1f".join((rule, ident, field_path, " ".join(evidence.split())))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


class PositionIndex:
    """Maps a field path inside a document to the (line, column) where it is written.

    Lookups walk the composed YAML node tree lazily, so parsing stays as cheap as a plain
    load; only findings pay for a lookup. For a path that does not exist (a missing
    field) the nearest existing ancestor's position is returned.
    """

    __slots__ = ("_root", "_start")

    def __init__(self, root: Any, start: tuple[int, int]) -> None:
        self._root = root
        self._start = start

    def lookup(self, path: Sequence[str | int]) -> tuple[int, int]:
        """Return 1-based (line, column) of the key (or list item) at ``path``, or its nearest ancestor."""
        node = self._root
        pos = self._start
        for part in path:
            if node is None:
                break
            found = _child(node, part)
            if found is None:
                break
            pos, node = found
        return pos

    def source(self, path: Sequence[str | int]) -> tuple[str | None, int, int, tuple[Origin, ...]]:
        """The file (None: the document's own), line, column and contributing origins of ``path``.

        A parsed file answers with its own positions; a rendered object's index answers with the
        source file and line that set the value (see ``sources/render/provenance.py``).
        """
        line, column = self.lookup(path)
        return None, line, column, ()

    def exists(self, path: Sequence[str | int]) -> bool:
        """True when every element of ``path`` is written in the document."""
        node = self._root
        for part in path:
            found = _child(node, part) if node is not None else None
            if found is None:
                return False
            node = found[1]
        return True


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _child(node: Any, part: str | int) -> tuple[tuple[int, int], Any] | None:
    """Find the position of ``part`` under a YAML node and the child node, or None."""
    tag = getattr(node, "id", None)
    if tag == "mapping" and isinstance(part, str):
        found = _mapping_child(node, part)
        if found is not None:
            mark = found[0].start_mark
            return (mark.line + 1, mark.column + 1), found[1]
        return None
    if tag == "sequence" and isinstance(part, int):
        items = node.value
        if 0 <= part < len(items):
            mark = items[part].start_mark
            return (mark.line + 1, mark.column + 1), items[part]
    return None


def _mapping_child(node: Any, part: str) -> tuple[Any, Any] | None:
    """The (key node, value node) for ``part`` in a mapping node: the last written key wins (a
    duplicate resolves to the value that is used), explicit keys before merged ones (``<<``),
    as YAML merges them."""
    pairs = node.value
    merges = False
    for i in range(len(pairs) - 1, -1, -1):
        key_node = pairs[i][0]
        if key_node.value == part and key_node.tag != _MERGE_TAG:
            return pairs[i]  # type: ignore[no-any-return]
        merges = merges or key_node.tag == _MERGE_TAG
    if not merges:
        return None
    for key_node, value_node in reversed(pairs):
        if key_node.tag != _MERGE_TAG:
            continue
        for sub in value_node.value if value_node.id == "sequence" else [value_node]:
            if getattr(sub, "id", None) == "mapping":
                found = _mapping_child(sub, part)
                if found is not None:
                    return found
    return None


class FlatPositions(PositionIndex):
    """A position index for content parsed without node marks: everything is at the start."""

    def __init__(self, start: tuple[int, int] = (1, 1)) -> None:
        super().__init__(None, start)


@dataclass(slots=True)
class Document:
    """One parsed YAML/JSON document with its positions; ``obj`` is the plain Python value."""

    path: str
    index: int
    obj: Any
    line: int
    positions: PositionIndex
    resources: list[Resource] = field(default_factory=list)
    text: str = ""  # the whole file's text (shared by its documents), for comment-aware checks
    # Rendered objects: the unit that applies them and that unit's input files (for PR scoping).
    unit: str | None = None
    inputs: frozenset[str] = frozenset()
    # Source objects a rendered unit consumed: checked through the rendered objects instead (only
    # checks that read sources, such as secrets, still see them here).
    held: list[Resource] = field(default_factory=list)
    # A kustomize input (patch, replacement, transformer config) or a source a rendered unit consumed:
    # checks that evaluate whole documents (conftest policies) read the rendered objects instead.
    consumed: bool = False
    # A rendered object a kustomize generator made: its values are the generator's inputs, which the
    # secrets check reads at their own lines.
    generated: bool = False
    # A patch of a unit that cannot be rendered, checked as a partial object (sources/render/partial):
    # checked like an object, but no object of the cluster for cross-object rules and inventories.
    partial: bool = False
    # Read from the parse store, which keeps only documents in which the redaction scan finds nothing
    # (``context_cache.storable``): the scan skips them.
    stored: bool = False

    def locate(self, path: Sequence[str | int]) -> tuple[int, int]:
        """(line, column) of a field path from the document root."""
        return self.positions.lookup(path)


@dataclass(slots=True)
class Resource:
    """A Kubernetes object: a document (or one item of a ``kind: List``) with apiVersion and kind."""

    document: Document
    obj: dict[str, Any]
    api_version: str
    kind: str
    namespace: str | None
    name: str | None
    base: FieldPath = ()

    @property
    def path(self) -> str:
        return self.document.path

    @property
    def ref(self) -> ResourceRef:
        return ResourceRef(self.api_version, self.kind, self.namespace, self.name, self.document.index)

    @property
    def group(self) -> str:
        """API group ('' for the core group)."""
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def line(self) -> int:
        return self.locate(())[0]

    @property
    def unit(self) -> str | None:
        """The deployment unit that applies this object (None: a file checked as it is)."""
        return self.document.unit

    def locate(self, path: Sequence[str | int]) -> tuple[int, int]:
        """(line, column) of a field path relative to this object (in its source file, see ``source``)."""
        return self.document.positions.lookup((*self.base, *path))

    def source(self, path: Sequence[str | int]) -> Location:
        """Where a field path of this object is written: for a rendered object, the source file and
        line that set it (a base, a patch, a transformer, a template or a values file)."""
        where, line, column, origin = self.document.positions.source((*self.base, *path))
        return Location(where or self.document.path, line, column, origin)

    def has_field(self, path: Sequence[str | int]) -> bool:
        return self.document.positions.exists((*self.base, *path))


@dataclass(frozen=True, slots=True)
class CheckError:
    """An error that makes a run fail closed (exit 2): a check crashed or could not load."""

    check: str
    message: str
    path: str | None = None


@dataclass(slots=True)
class Report:
    """Everything a run produced; reporters render it, the exit code is derived from it."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[CheckError] = field(default_factory=list)
    files: int = 0
    documents: int = 0
    resources: int = 0
    checks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    policy_digest: str = ""
    fail_on: Severity = Severity.ERROR
    root: str = "."
    subjects: list[tuple[str, str]] = field(default_factory=list)  # (path, kind/ns/name) of reported resources
    file_classes: list[tuple[str, str, str]] = field(default_factory=list)  # (path, class, why) of each file
    rules: Mapping[str, Rule] = field(default_factory=dict)  # the rule catalogue by id, for reporters' rule docs

    def count(self, severity: Severity, *, waived: bool = False) -> int:
        """Number of findings of a severity; waived/baselined ones only when ``waived`` is True."""
        return sum(1 for f in self.findings if f.severity == severity and f.counts != waived)

    @property
    def failing(self) -> list[Finding]:
        """Findings that count and are at or above the fail threshold."""
        return [f for f in self.findings if f.counts and f.severity >= self.fail_on]

    @property
    def passed(self) -> bool:
        return not self.errors and not self.failing

    @property
    def exit_code(self) -> int:
        """0 clean, 1 findings at/above the threshold, 2 errors (errors win)."""
        if self.errors:
            return 2
        return 1 if self.failing else 0
