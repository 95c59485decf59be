"""Remembered passes: a rule's compiled check proved a pass (or skip) for data of one shape, so it
passes for every resource of the run whose data agree with it on that shape.

Rendered repositories repeat themselves (overlays repeat their bases, Deployments share their
security settings), and a rule reads only a few fields (``reads.Shape``). The key of a resource
for a rule is a digest of what the rule's shape selects from its data, written so that values of
different types never agree (``1``, ``1.0``, ``True`` and ``"1"`` differ; a missing field differs
from a null one; a string read only as text counts only as a string, one read only against
wildcard patterns only as the patterns it matches). Only proved passes are
kept: a failure, an error or an outcome the interpreter decided is computed every time, so a
remembered entry can never turn an error into a pass. Everything the check reads besides the
data (the policy, the plan's kind, the values and ConfigMaps of the run) is fixed within a run,
and each plan's step has its own memo. Keys are digests, and memos live only in memory.

A resource's key for a shape is made once (``Keys``), shared by the rules that read the same
fields from the same root (the Pod Security levels). A memo that rarely hits (a rule that fails
everywhere) stops making keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from gatekeeper.kyverno import wildcard
from gatekeeper.kyverno.reads import Shape

MAX_ENTRIES = 4096  # passes one rule remembers (per process); past it, nothing more is kept
MAX_NODES = 400  # a larger shape gets no memo
TRIAL = 64  # keys made before a memo judges whether it pays
MIN_HITS = 0.25  # the share of hits below which it stops
_OPEN, _LIST, _MISSING, _TEXT, _EMPTY_LIST, _MATCHES = "\x01{", "\x01[", "\x01-", "\x01s", "\x01[]", "\x01m"
class _Absent:
    """A field not in the mapping (``get``'s default: no value of the data is it); written as the
    missing token."""

    def __repr__(self) -> str:
        return _MISSING


_ABSENT = _Absent()


class Keys:
    """The keys of one resource, made once per distinct shape (``Memo.key`` fills it)."""

    __slots__ = ("found",)

    def __init__(self) -> None:
        self.found: dict[str, bytes | None] = {}


class Memo:
    """The passes one compiled step proved, keyed by the digest of the data its rule reads."""

    __slots__ = ("_calls", "_hits", "_object", "_passed", "_root", "_text", "off", "shape")

    def __init__(self, shape: Shape) -> None:
        """ValueError when the shape is too large to key resources by."""
        if size(shape) > MAX_NODES:
            raise ValueError("shape too large")
        self.shape = shape
        self._passed: set[bytes] = set()
        self._calls = self._hits = 0
        self.off = False
        # a shape under ``request.object`` only is read from the object itself (no request data needed)
        request = shape.fields.get("request")
        only = (len(shape.fields) == 1 and request is not None and not request.whole and not request.text
                and request.matches is None and request.items is None and list(request.fields) == ["object"])
        self._object = only
        self._root = request.fields["object"] if only and request is not None else shape
        self._text = ("object:" if only else "data:") + describe(self._root)  # equal texts, equal keys

    def key(self, obj: Any, data: Callable[[], Any], keys: Keys) -> bytes | None:
        """The key of a resource (``data()`` gives its JMESPath data), or None when it cannot be
        written (an unusual value: the resource is then evaluated as usual) or the memo is off."""
        if self.off:
            return None
        if self._text in keys.found:
            return keys.found[self._text]
        out: list[str] = []
        found: bytes | None
        try:
            _write(obj if self._object else data(), self._root, out)
            found = hashlib.blake2b("\x00".join(out).encode("utf-8", "surrogatepass"), digest_size=20).digest()
        except (ValueError, TypeError, RecursionError, OverflowError):
            found = None
        keys.found[self._text] = found
        return found

    def passed(self, key: bytes | None) -> bool:
        if key is None:
            return False
        self._calls += 1
        if key in self._passed:
            self._hits += 1
            return True
        if self._calls == TRIAL and self._hits < TRIAL * MIN_HITS:
            self.off = True  # the rule's data rarely repeats (or it rarely passes): keys cost more than they save
        return False

    def remember(self, key: bytes | None) -> None:
        if key is not None and len(self._passed) < MAX_ENTRIES:
            self._passed.add(key)


def describe(shape: Shape) -> str:
    """A shape written out (equal texts, equal shapes)."""
    parts = ["W" if shape.whole else "T" if shape.text else f"M{shape.matches!r}" if shape.matches else ""]
    for name, inner in shape.fields.items():
        parts.append(f"{name!r}:({describe(inner)})")
    if shape.items is not None:
        parts.append(f"[]({describe(shape.items)})")
    return ",".join(parts)


def size(shape: Shape) -> int:
    return 1 + sum(size(s) for s in shape.fields.values()) + (size(shape.items) if shape.items else 0)


def _write(value: Any, shape: Shape, out: list[str]) -> None:
    """The tokens of what ``shape`` selects from ``value`` (a token never contains the separator:
    reprs escape control characters)."""
    if shape.whole:
        out.append(repr(value))
        return
    cls = value.__class__
    if cls is dict:
        out.append(_OPEN)
        for name, inner in shape.fields.items():
            _write(value.get(name, _ABSENT), inner, out)
    elif cls is list:
        items = shape.items
        if items is None:
            out.append(_EMPTY_LIST)  # only that it is a list is read
            return
        out.append(f"{_LIST}{len(value)}")
        for item in value:
            _write(item, items, out)
    elif cls is str and shape.text:
        out.append(_TEXT)
    elif cls is str and shape.matches:
        out.append(_MATCHES + "".join("1" if wildcard.match(p, value) else "0" for p in shape.matches))
    else:
        out.append(repr(value))  # a scalar whole; an absent field writes the missing token
