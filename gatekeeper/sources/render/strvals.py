"""Helm's ``--set`` syntax (``strvals``): how ``name=value`` lines are typed and merged into values.

Argo CD passes ``helm.parameters`` to ``helm template --set`` (``--set-string`` with
``forceString``, ``--set-file`` for ``fileParameters``), and Flux sets a ``valuesFrom`` entry with a
``targetPath`` the same way, so a parameter ``safe=false`` is the boolean false for the chart, not
the string "false" (which a template's ``if`` treats as true). This module follows Helm's parser
rule for rule:

- a line is ``key=value`` pairs separated by ``,``; a key is dotted (``a.b.c``) with list indexes
  (``a[0].b``, ``a[1][2]``); ``\\`` escapes the next character in keys and values;
- ``value`` typed: ``true``/``false`` (any case) are booleans, ``null`` is null (deletes the key
  from the chart's defaults), ``0`` and base-10 integers that fit 64 bits and do not start with
  ``0`` are integers; everything else, and every value when forced to string, is a string;
- ``{a,b}`` is a list (each item typed the same way); an empty ``a=`` is the empty string;
- setting below a key that holds a scalar, or indexing one that holds no list, is an error, as
  are negative indexes, indexes over 65536 and names nested more than 30 levels.
Values are parsed into the given map in place (Helm's ``ParseInto``); on error the map may be
partly changed, as in Helm, so callers parse into a copy.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

MAX_INDEX = 65536
MAX_NESTED_NAME_LEVEL = 30
_INT = re.compile(r"[+-]?[0-9]+")
_INT64 = (-(2 ** 63), 2 ** 63 - 1)

Reader = Callable[[str], Any]


class StrvalsError(ValueError):
    """A ``--set`` line Helm refuses. The message is Helm's reason without the line's text (a value may
    be a secret, and a stray comma makes part of a value parse as a key)."""


class _Eof(Exception):
    """The end of the line (not an error by itself: Helm's ``io.EOF``)."""


class _NotList(Exception):
    """The value is not a ``{...}`` list."""


_EOF = _Eof()


def _fold_equal(text: str, word: str) -> bool:
    """Go's ``strings.EqualFold`` for the ASCII words Helm compares with."""
    if len(text) != len(word):
        return False
    return all(c.lower() == w or (c == "\u017f" and w == "s") or (c == "\u212a" and w == "k")
               for c, w in zip(text, word, strict=True))


def typed(value: str, force_string: bool = False) -> Any:
    """A ``--set`` value as Helm types it (``typedVal``)."""
    if force_string:
        return value
    if _fold_equal(value, "true"):
        return True
    if _fold_equal(value, "false"):
        return False
    if _fold_equal(value, "null"):
        return None
    if value == "0":
        return 0
    if value and value[0] != "0" and _INT.fullmatch(value):
        number = int(value)
        if _INT64[0] <= number <= _INT64[1]:
            return number
    return value


class _Scanner:
    """A rune reader over the line (Go's ``bytes.Buffer`` with ``UnreadRune``)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def read(self) -> str | None:
        if self.pos >= len(self.text):
            return None
        ch = self.text[self.pos]
        self.pos += 1
        return ch

    def unread(self) -> None:
        self.pos -= 1

    def until(self, stop: str) -> tuple[str, str | None]:
        """Characters up to one in ``stop`` (escapes resolved), and that character (None at the end)."""
        out: list[str] = []
        while True:
            ch = self.read()
            if ch is None:
                return "".join(out), None
            if ch in stop:
                return "".join(out), ch
            if ch == "\\":
                nxt = self.read()
                if nxt is None:
                    return "".join(out), None
                out.append(nxt)
            else:
                out.append(ch)


class _Parser:
    def __init__(self, text: str, reader: Reader) -> None:
        self.sc = _Scanner(text)
        self.reader = reader

    def parse(self, data: dict[str, Any]) -> None:
        while True:
            try:
                self.key(data, 0)
            except _Eof:
                return

    def key(self, data: dict[str, Any], level: int) -> None:
        try:
            self._key(data, level)
        except (_Eof, StrvalsError):
            raise
        except (TypeError, AttributeError, IndexError, KeyError):  # Go's recovered panics
            raise StrvalsError("unable to parse key") from None

    def _key(self, data: dict[str, Any], level: int) -> None:
        k, last = self.sc.until("=[,.")
        if last is None:
            if not k:
                raise _EOF
            raise StrvalsError("a key has no value")
        if last == "[":
            index = self.index()
            existing = data.get(k, [])
            if k in data and not isinstance(existing, list):
                raise StrvalsError("a key indexed as a list holds something else")
            items, eof = self.list_item(existing, index, level)
            _set(data, k, items)
            if eof:
                raise _EOF
            return
        if last == "=":
            try:
                items = self.val_list()
            except _Eof:
                _set(data, k, "")
                raise
            except _NotList:
                text = self.val()
                _set(data, k, self.reader(text))
                return
            _set(data, k, items)
            return
        if last == ",":
            _set(data, k, "")
            raise StrvalsError("a key has no value (cannot end with ,)")
        level += 1  # last == "."
        if level > MAX_NESTED_NAME_LEVEL:
            raise StrvalsError(f"value name nested level is greater than maximum supported nested level of "
                               f"{MAX_NESTED_NAME_LEVEL}")
        inner: Any = data.get(k, {})
        if not isinstance(inner, dict):
            raise StrvalsError(f"a key set below holds a {_kind(inner)}, not a map")
        try:
            self.key(inner, level)
        except _Eof:
            if inner:
                _set(data, k, inner)
            raise
        if not inner:
            raise StrvalsError("a key map has no value")
        _set(data, k, inner)

    def index(self) -> int:
        text, last = self.sc.until("]")
        if last is None:
            raise StrvalsError("error parsing index: EOF")
        if not _INT.fullmatch(text):
            raise StrvalsError("error parsing index: not a number")
        return int(text)

    def list_item(self, items: list[Any], i: int, level: int) -> tuple[list[Any], bool]:
        """The list with item ``i`` set from what follows ``]``; True when the line ended there."""
        if i < 0:
            raise StrvalsError(f"negative {i} index not allowed")
        k, last = self.sc.until("[.=")
        if k:
            raise StrvalsError("unexpected data at end of array index")
        if last is None:
            return items, True
        if last == "=":
            try:
                value: Any = self.val_list()
            except _Eof:
                return _set_index(items, i, ""), False
            except _NotList:
                value = self.reader(self.val())
            return _set_index(items, i, value), False
        if last == "[":
            nxt = self.index()
            current: list[Any] = []
            if len(items) > i and items[i] is not None:
                if not isinstance(items[i], list):
                    raise StrvalsError(f"list item {i} indexed as a list holds something else")
                current = items[i]
            inner_list, eof = self.list_item(current, nxt, level)
            if eof:
                return items, True
            return _set_index(items, i, inner_list), False
        inner: dict[str, Any] = {}  # last == "."
        if len(items) > i:
            if isinstance(items[i], dict):
                inner = items[i]
            else:
                items[i] = inner
        try:
            self.key(inner, level)
        except _Eof:
            return items, True
        return _set_index(items, i, inner), False

    def val(self) -> str:
        text, _ = self.sc.until(",")
        return text

    def val_list(self) -> list[Any]:
        ch = self.sc.read()
        if ch is None:
            raise _EOF
        if ch != "{":
            self.sc.unread()
            raise _NotList
        out: list[Any] = []
        while True:
            text, last = self.sc.until(",}")
            if last is None:
                raise StrvalsError("list must terminate with '}'")
            out.append(self.reader(text))
            if last == "}":
                nxt = self.sc.read()
                if nxt is not None and nxt != ",":
                    self.sc.unread()
                return out


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    if key:
        data[key] = value


def _set_index(items: list[Any], index: int, value: Any) -> list[Any]:
    if index < 0:
        raise StrvalsError(f"negative {index} index not allowed")
    if index > MAX_INDEX:
        raise StrvalsError(f"index of {index} is greater than maximum supported index of {MAX_INDEX}")
    if len(items) <= index:
        items = items + [None] * (index + 1 - len(items))
    items[index] = value
    return items


def parse_into(line: str, dest: dict[str, Any], *, force_string: bool = False,
               reader: Reader | None = None) -> None:
    """Merge a ``--set`` line into ``dest`` (``--set-string`` with ``force_string``; a ``reader``
    turns each raw value into the value set, as ``--set-file`` does). Raises StrvalsError."""
    _Parser(line, reader or (lambda text: typed(text, force_string))).parse(dest)


def argocd_line(name: str, value: str) -> str:
    """The ``name=value`` Argo CD passes to ``--set``: commas in the value are escaped unless the
    value is a ``{...}`` list (or the comma is escaped already)."""
    if value.startswith("{") and value.endswith("}"):
        return f"{name}={value}"
    out: list[str] = []
    prev = ""
    for ch in value:
        out.append("\\," if ch == "," and prev != "\\" else ch)
        prev = ch
    return f"{name}={''.join(out)}"


def flux_target(path: str, value: str, dest: dict[str, Any], wrap: Callable[[Any], Any] | None = None) -> None:
    """Flux's ``valuesFrom`` ``targetPath``: ``path=value`` parsed as ``--set``; a value in single or
    double quotes is set as a string without them (``wrap`` wraps each value set)."""
    quoted = (value.startswith("'") and value.endswith("'")) or (value.startswith('"') and value.endswith('"'))
    if quoted:
        value = value.strip("'\"")

    def reader(text: str) -> Any:
        typed_value = typed(text, quoted)
        return wrap(typed_value) if wrap is not None else typed_value
    parse_into(f"{path}={value}", dest, reader=reader)
