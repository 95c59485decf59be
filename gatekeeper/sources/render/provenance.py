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
from gatekeeper.sources.units import as_map as as_map  # render modules read it from here

MERGE_KEYS = ("name", "mountPath", "containerPort", "devicePath", "ip", "topologyKey", "key", "port")


ANY = object()  # an operation's value whose content is not known (a JSON 6902 copy from the base)


@dataclass(frozen=True, slots=True)
class Deletion:
    """A part of the object a patch deletes: ``$patch: delete``, a ``null`` value, a JSON 6902 ``remove``."""

    path: tuple[Any, ...]  # the deleted field; a ``(key, value)`` part is the list item with that merge key
    where: FieldPath  # the line that deletes it, in the patch document


@dataclass(slots=True)
class Contributor:
    """A source document that wrote part of a rendered object."""

    role: str  # base | patch | values | template | generator
    doc: Document
    base: FieldPath  # where the object (or patch body) sits in the document
    obj: Any
    ops: list[Op] | None = None  # JSON 6902 operations instead of an object
    prefix: FieldPath = ()  # the object sits at this path of the rendered object (Helm values subtrees)
    deletes: list[Deletion] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.doc.path


@dataclass(frozen=True, slots=True)
class Op:
    """One JSON 6902 operation that writes a value: the path it writes and where it is written."""

    path: tuple[str | int, ...]
    value: Any  # ANY: a copy or move whose source the patch did not write (any rendered value is its)
    where: FieldPath  # the operation's ``value`` (or a copy's source) in the patch document ('-' matches any index)


@dataclass(slots=True)
class Transform:
    """A field rewrite after the contributors (a kustomization line that changed the value)."""

    path: str
    line: int
    applies: Callable[[Sequence[str | int], Any, dict[str, Any]], bool]
    role: str = "transformer"
    column: int = 1
    source: Callable[[], Attribution | None] | None = None  # where the value came from (a replacement's source)


@dataclass(slots=True)
class Attribution:
    """The answer for one field: the primary source and every contributing line."""

    path: str
    line: int
    column: int
    origins: list[Origin] = field(default_factory=list)


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

    __slots__ = ("_memo", "contributors", "fallback", "home", "obj", "transforms")

    def __init__(self, obj: dict[str, Any], contributors: list[Contributor], transforms: list[Transform],
                 home: Origin, fallback: Origin | None = None) -> None:
        super().__init__(None, (home.line, 1))
        self.obj = obj
        self.contributors = contributors
        self.transforms = transforms
        self.home = home
        self.fallback = fallback  # the unit's kustomization: a value no source holds came from it
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
        if len(written) < len(path):
            deleted = self._deleted(path)
            if deleted is not None:
                return self._with_home(deleted)
        for transform in reversed(self.transforms):  # a value copied from another field (replacements)
            if transform.source is not None and written and transform.applies(written, value, self.obj):
                return self._with_home(self._from_source(transform))
        exact = self._exact(written, value)
        if exact is not None:
            return self._with_home(exact)
        if written and _scalar(value):
            for transform in reversed(self.transforms):
                if transform.source is None and transform.applies(written, value, self.obj):
                    origin = Origin(transform.path, transform.line, transform.role)
                    return self._with_home(Attribution(transform.path, transform.line, transform.column, [origin]))
        nearest = self._nearest(written)
        if nearest is not None and not self._contradicts(nearest, written, value):
            return self._with_home(nearest[1])
        if self.fallback is not None and written:
            fallback = Attribution(self.fallback.path, self.fallback.line, 1, [self.fallback])
            if nearest is not None:
                fallback.origins.extend(nearest[1].origins)
            return self._with_home(fallback)
        if nearest is not None:
            return self._with_home(nearest[1])
        return Attribution(self.home.path, self.home.line, 1, [self.home])

    def _contradicts(self, nearest: tuple[int, Attribution], written: list[str | int], value: Any) -> bool:
        """True when the nearest source writes this very field with another value (and the rendered
        value is not derived from it, as a prefixed or hashed name is): then it did not set it."""
        if nearest[0] < len(written) or not _scalar(value):
            return False
        for contributor in reversed(self.contributors):
            hit = self._locate_in(contributor, written, None, exact=False)
            if hit is None or hit[1] < len(written):
                continue
            held = _value_at(contributor, written, self.obj)
            if held is _MISSING or held is ANY or held == value:
                return False
            return not (isinstance(held, str) and isinstance(value, str) and held and held in value)
        return False

    def _from_source(self, transform: Transform) -> Attribution:
        entry = Origin(transform.path, transform.line, transform.role)
        found = transform.source() if transform.source is not None else None
        if found is None:
            return Attribution(transform.path, transform.line, transform.column, [entry])
        return Attribution(found.path, found.line, found.column, [*found.origins[:1], entry])

    def _deleted(self, path: tuple[str | int, ...]) -> Attribution | None:
        """The patch line that deleted a missing field: a deletion above it, or one that removed a
        field of the same name from the base."""
        base = next((c for c in self.contributors if c.role == "base"), None)
        for contributor in reversed(self.contributors):
            for deletion in reversed(contributor.deletes):
                above = _follow(self.obj, deletion.path[:-1])
                under = above is not None and tuple(path[:len(deletion.path)]) == (*above, deletion.path[-1])
                if under or (base is not None and isinstance(path[-1], str)
                             and path[-1] in _keys(_follow_value(base.obj, deletion.path))):
                    line, column = contributor.doc.locate((*contributor.base, *deletion.where))
                    return Attribution(contributor.path, line, column, [Origin(contributor.path, line, "patch")])
        return None

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

    def _nearest(self, path: list[str | int]) -> tuple[int, Attribution] | None:
        """The contributor that writes the longest part of ``path`` (later ones win ties), and how deep."""
        best: tuple[int, Attribution] | None = None
        for contributor in reversed(self.contributors):
            hit = self._locate_in(contributor, path, None, exact=False)
            if hit is not None and (best is None or hit[1] > best[0]):
                best = (hit[1], hit[0])
        return best

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
            if op.value is ANY:  # copied from a field the patch did not write: the operation's line
                line, column = contributor.doc.locate((*contributor.base, *op.where))
                origin = Origin(contributor.path, line, contributor.role)
                return Attribution(contributor.path, line, column, [origin]), n
            written, found, complete = translate(rest, existing_prefix(path[:n], self.obj)[1], op.value)
            if exact and (not complete or (_scalar(value) and found != value)):
                continue
            line, column = contributor.doc.locate((*contributor.base, *op.where, *written))
            origin = Origin(contributor.path, line, contributor.role)
            return Attribution(contributor.path, line, column, [origin]), n + len(written)
        return None


def _value_at(contributor: Contributor, path: list[str | int], rendered: Any) -> Any:
    """The value a (non-operation) contributor writes at a rendered path (_MISSING: none)."""
    if contributor.ops is not None or contributor.prefix:
        return _MISSING
    _, found, complete = translate(path, rendered, contributor.obj)
    return found if complete else _MISSING


def _step(node: Any, part: Any) -> tuple[Any, str | int] | None:
    """One step into a value: a key, an index, or a ``(key, value)`` list item; the child and its index."""
    if isinstance(part, tuple):
        if isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, dict) and item.get(part[0]) == part[1]:
                    return item, i
        return None
    child = _child(node, part)
    return None if child is _MISSING else (child, part)


def _follow(node: Any, path: Sequence[Any]) -> list[str | int] | None:
    """The concrete path of ``path`` in ``node`` (None when it is not there)."""
    out: list[str | int] = []
    for part in path:
        found = _step(node, part)
        if found is None:
            return None
        node = found[0]
        out.append(found[1])
    return out


def _follow_value(node: Any, path: Sequence[Any]) -> Any:
    """The value at ``path`` in ``node`` (None when it is not there)."""
    for part in path:
        found = _step(node, part)
        if found is None:
            return None
        node = found[0]
    return node


def _keys(node: Any) -> set[str]:
    """Every mapping key in a value, at any depth."""
    out: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            out.update(k for k in item if isinstance(k, str))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out
