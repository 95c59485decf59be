"""Provenance: which source file and line set each field of a rendered object.

A rendered object's :class:`ProvenanceIndex` stands where a parsed document's position index
stands, so every check that locates a field through the model gets the source line for free.
It answers from the object's *contributors* in the order they were applied (the base document,
then each patch or values layer) and from the *transforms* that rewrite fields afterwards
(a kustomization's ``namespace``, ``namePrefix``, ``images``, ``replicas``, labels):

1. the last contributor that writes the field with the rendered value set it;
2. otherwise a transform that covers the field changed it (its kustomization line);
3. otherwise the contributor that writes the longest part of the path (the nearest written
   ancestor), later contributors first.

Lists are followed by merge key (``name``, ``mountPath``, ``containerPort``...), as strategic
merge does, so a patch that names a container by ``name`` maps onto the rendered container
whatever its index. The work happens on lookup: only findings pay for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.model import Document, FieldPath, Origin, PositionIndex

MERGE_KEYS = ("name", "mountPath", "containerPort", "devicePath", "ip", "topologyKey", "key", "port")


@dataclass(slots=True)
class Contributor:
    """A source document that wrote part of a rendered object."""

    role: str  # base | patch | values | template | generator
    doc: Document
    base: FieldPath  # where the object (or patch body) sits in the document
    obj: Any
    ops: list[Op] | None = None  # JSON 6902 operations instead of an object
    prefix: FieldPath = ()  # the object sits at this path of the rendered object (Helm values subtrees)

    @property
    def path(self) -> str:
        return self.doc.path


@dataclass(frozen=True, slots=True)
class Op:
    """One JSON 6902 operation that writes a value: the path it writes and where it is written."""

    path: tuple[str | int, ...]
    value: Any
    where: FieldPath  # the operation's ``value`` in the patch document ('-' list appends match any index)


@dataclass(slots=True)
class Transform:
    """A field rewrite after the contributors (a kustomization line that changed the value)."""

    path: str
    line: int
    applies: Callable[[Sequence[str | int], Any, dict[str, Any]], bool]
    role: str = "transformer"
    column: int = 1


@dataclass(slots=True)
class Attribution:
    """The answer for one field: the primary source and every contributing line."""

    path: str
    line: int
    column: int
    origins: list[Origin] = field(default_factory=list)


def as_map(value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping, else an empty one (objects that fail validation are read
    defensively)."""
    return value if isinstance(value, dict) else {}


class ShiftedPositions(PositionIndex):
    """Positions of text embedded in another file (an inline patch), moved to that file's lines."""

    __slots__ = ("_indent", "_inner", "_offset")

    def __init__(self, inner: PositionIndex, offset: int, indent: int = 0) -> None:
        super().__init__(None, (1, 1))
        self._inner = inner
        self._offset = offset
        self._indent = indent

    def lookup(self, path: Sequence[str | int]) -> tuple[int, int]:
        line, column = self._inner.lookup(path)
        return line + self._offset, column + self._indent

    def exists(self, path: Sequence[str | int]) -> bool:
        return self._inner.exists(path)


def _match_item(item: Any, items: list[Any], index: int) -> int | None:
    """The index in ``items`` that corresponds to a rendered list item."""
    if isinstance(item, dict):
        for key in MERGE_KEYS:
            if key in item:
                for j, other in enumerate(items):
                    if isinstance(other, dict) and other.get(key) == item[key]:
                        return j
                return None
        return index if index < len(items) and isinstance(items[index], dict) else None
    for j, other in enumerate(items):
        if other == item:
            return j
    return None


def translate(path: Sequence[str | int], rendered: Any, source: Any) -> tuple[list[str | int], Any, bool]:
    """Follow a rendered path into a source object: (the source path written, its value, complete)."""
    out: list[str | int] = []
    r, s = rendered, source
    for part in path:
        if isinstance(part, int):
            if not isinstance(r, list) or not isinstance(s, list) or not 0 <= part < len(r):
                return out, s, False
            j = _match_item(r[part], s, part)
            if j is None:
                return out, s, False
            out.append(j)
            r, s = r[part], s[j]
        else:
            if not isinstance(s, dict) or part not in s:
                return out, s, False
            out.append(part)
            r = r.get(part) if isinstance(r, dict) else None
            s = s[part]
    return out, s, True


def existing_prefix(path: Sequence[str | int], obj: Any) -> tuple[list[str | int], Any]:
    """The longest prefix of ``path`` present in ``obj`` and the value there."""
    out: list[str | int] = []
    node = obj
    for part in path:
        child = _child(node, part)
        if child is _MISSING:
            break
        node = child
        out.append(part)
    return out, node


_MISSING = object()
HOLE = object()  # a list item a layer does not set (``--set a[2]=x`` leaves items 0 and 1 as they were)


def _child(node: Any, part: str | int) -> Any:
    if isinstance(part, int):
        found = node[part] if isinstance(node, list) and 0 <= part < len(node) else _MISSING
        return _MISSING if found is HOLE else found
    return node[part] if isinstance(node, dict) and part in node else _MISSING


def _scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


class ProvenanceIndex(PositionIndex):
    """Positions of a rendered object, answered with source files and lines (see the module doc)."""

    __slots__ = ("_memo", "contributors", "home", "obj", "transforms")

    def __init__(self, obj: dict[str, Any], contributors: list[Contributor], transforms: list[Transform],
                 home: Origin) -> None:
        super().__init__(None, (home.line, 1))
        self.obj = obj
        self.contributors = contributors
        self.transforms = transforms
        self.home = home
        self._memo: dict[tuple[str | int, ...], Attribution] = {}

    @property
    def home_index(self) -> int | None:
        """The index of the source document the object came from (its base), when known."""
        base = next((c for c in self.contributors if c.role == "base"), None)
        return None if base is None else base.doc.index

    def lookup(self, path: Sequence[str | int]) -> tuple[int, int]:
        found = self.attribute(path)
        return found.line, found.column

    def source(self, path: Sequence[str | int]) -> tuple[str | None, int, int, tuple[Origin, ...]]:
        found = self.attribute(path)
        return found.path, found.line, found.column, tuple(found.origins)

    def exists(self, path: Sequence[str | int]) -> bool:
        written, _ = existing_prefix(path, self.obj)
        return len(written) == len(path)

    def attribute(self, path: Sequence[str | int]) -> Attribution:
        key = tuple(path)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._attribute(key)
        return found

    def _attribute(self, path: tuple[str | int, ...]) -> Attribution:
        written, value = existing_prefix(path, self.obj)
        exact = self._exact(written, value)
        if exact is not None:
            return self._with_home(exact)
        if written and _scalar(value):
            for transform in reversed(self.transforms):
                if transform.applies(written, value, self.obj):
                    origin = Origin(transform.path, transform.line, transform.role)
                    return self._with_home(Attribution(transform.path, transform.line, transform.column, [origin]))
        nearest = self._nearest(written)
        if nearest is not None:
            return self._with_home(nearest)
        return Attribution(self.home.path, self.home.line, 1, [self.home])

    def _with_home(self, found: Attribution) -> Attribution:
        if all(o.path != self.home.path or o.line != self.home.line for o in found.origins):
            found.origins.append(self.home)
        return found

    def _exact(self, path: list[str | int], value: Any) -> Attribution | None:
        """The last contributor that writes ``path`` with the rendered value (any value for a map
        or a list, which a later contributor may have extended)."""
        for contributor in reversed(self.contributors):
            hit = self._locate_in(contributor, path, value, exact=True)
            if hit is not None:
                return hit[0]
        return None

    def _nearest(self, path: list[str | int]) -> Attribution | None:
        """The contributor that writes the longest part of ``path`` (later ones win ties)."""
        best: tuple[int, Attribution] | None = None
        for contributor in reversed(self.contributors):
            hit = self._locate_in(contributor, path, None, exact=False)
            if hit is not None and (best is None or hit[1] > best[0]):
                best = (hit[1], hit[0])
        return None if best is None else best[1]

    def _locate_in(self, contributor: Contributor, path: list[str | int], value: Any,
                   *, exact: bool) -> tuple[Attribution, int] | None:
        """Where a contributor writes ``path`` (exactly, with the value; or its longest written
        prefix) and how deep that is."""
        prefix = contributor.prefix
        if prefix:
            if tuple(path[:len(prefix)]) != prefix:
                return None
            rel_path = path[len(prefix):]
            rendered_sub: Any = existing_prefix(prefix, self.obj)[1]
        else:
            rel_path, rendered_sub = path, self.obj
        if contributor.ops is not None:
            return self._locate_op(contributor, rel_path, value, exact=exact)
        written, found, complete = translate(rel_path, rendered_sub, contributor.obj)
        if exact and (not complete or (_scalar(value) and found != value)):
            return None
        if not exact and not written and not prefix:
            return None
        line, column = contributor.doc.locate((*contributor.base, *written))
        origin = Origin(contributor.path, line, contributor.role)
        return Attribution(contributor.path, line, column, [origin]), len(prefix) + len(written)

    def _locate_op(self, contributor: Contributor, path: list[str | int], value: Any,
                   *, exact: bool) -> tuple[Attribution, int] | None:
        for op in reversed(contributor.ops or []):
            n = len(op.path)
            if len(path) < n or any(a != b and b != "-" for a, b in zip(path[:n], op.path, strict=False)):
                continue
            rest = path[n:]
            written, found, complete = translate(rest, existing_prefix(path[:n], self.obj)[1], op.value)
            if exact and (not complete or (_scalar(value) and found != value)):
                continue
            line, column = contributor.doc.locate((*contributor.base, *op.where, *written))
            origin = Origin(contributor.path, line, contributor.role)
            return Attribution(contributor.path, line, column, [origin]), n + len(written)
        return None
