"""Provenance of Helm output: the template line that writes a field, and the values line behind it.

Templates are text, not YAML, so a rendered field is found in its template by its keys: each
key of the field path is searched below the previous one, more indented (template directives
skipped). The deepest key found is the template line. The ``.Values.x`` references on that
line and in its block name the values behind it; when the rest of the path was not written in
the template (``{{- toYaml .Values.securityContext | nindent 12 }}``), the rest is looked up
under that value. The last values layer that sets the path (the chart's ``values.yaml``, then
each values file or inline values in order) gives the values line; when it holds the rendered
value, it is the finding's location and the template line is listed with it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.model import Document, FieldPath, Finding, Origin, PositionIndex
from gatekeeper.sources.render.provenance import existing_prefix

_VALUES_REF = re.compile(r"\.Values((?:\.[A-Za-z_][\w-]*)+)")
_DIRECTIVE = re.compile(r"^\s*\{\{.*\}\}\s*$")


@dataclass(slots=True)
class ValuesLayer:
    """One layer of values: the document holding it, where, and the values object."""

    path: str
    doc: Document
    field: FieldPath
    obj: Any
    role: str = "values"
    at: FieldPath | None = None  # every value of the layer is written at this field (a --set parameter)


@dataclass(slots=True)
class Values:
    """Every layer of a unit's values, the merged user values, and the release identity."""

    layers: list[ValuesLayer] = field(default_factory=list)
    merged: dict[str, Any] = field(default_factory=dict)
    release: str = "release"
    namespace: str = "default"
    findings: list[Finding] = field(default_factory=list)  # layers that could not be applied, duplicate keys

    def locate(self, path: Sequence[str | int]) -> tuple[Origin, Any, bool, int] | None:
        """The last layer that sets ``path`` (origin, its value, complete, column); else the deepest
        prefix set."""
        best: tuple[int, Origin, Any, int] | None = None
        for layer in reversed(self.layers):
            rel = list(path)
            written, value = existing_prefix(rel, layer.obj)
            if not written:
                continue
            line, column = layer.doc.locate(layer.at if layer.at is not None else (*layer.field, *written))
            origin = Origin(layer.path, line, layer.role)
            if len(written) == len(rel):
                return origin, value, True, column
            if written and (best is None or len(written) > best[0]):
                best = (len(written), origin, value, column)
        return None if best is None else (best[1], best[2], False, best[3])


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _key_pattern(key: str) -> re.Pattern[str]:
    return re.compile(r"^(\s*)(?:-\s+)?[\"']?" + re.escape(key) + r"[\"']?\s*:(?:\s|$)")


class TemplateIndex(PositionIndex):
    """Positions of a rendered Helm object, answered with template and values lines."""

    __slots__ = ("_memo", "lines", "obj", "ordinal", "template", "values")

    def __init__(self, obj: dict[str, Any], template: str, lines: list[str], ordinal: int, values: Values) -> None:
        super().__init__(None, (1, 1))
        self.obj = obj
        self.template = template
        self.lines = lines
        self.ordinal = ordinal
        self.values = values
        self._memo: dict[tuple[str | int, ...], tuple[str, int, int, tuple[Origin, ...]]] = {}

    @property
    def home_index(self) -> int:
        """The object's document ordinal within its template."""
        return self.ordinal

    def lookup(self, path: Sequence[str | int]) -> tuple[int, int]:
        found = self.source(path)
        return found[1], found[2]

    def exists(self, path: Sequence[str | int]) -> bool:
        written, _ = existing_prefix(path, self.obj)
        return len(written) == len(path)

    def _section(self) -> tuple[int, int]:
        """The line range (0-based, end exclusive) of this object's document in the template."""
        starts = [0] + [i + 1 for i, line in enumerate(self.lines) if line.rstrip() == "---"]
        begin = starts[self.ordinal] if self.ordinal < len(starts) else 0
        later = [s - 1 for s in starts if s > begin]
        return begin, (later[0] if later else len(self.lines))

    def _template_line(self, path: Sequence[str | int]) -> tuple[int, int, int]:
        """(0-based line, column, number of path parts written in the template); line -1: none."""
        begin, end = self._section()
        pos, parent_indent, line_no, column, consumed = begin, -1, -1, 1, 0
        for i, part in enumerate(path):
            if isinstance(part, int):
                if line_no >= 0:
                    consumed = i + 1
                continue
            pattern = _key_pattern(part)
            hit = -1
            for j in range(pos, end):
                text = self.lines[j]
                if not text.strip() or _DIRECTIVE.match(text) or text.lstrip().startswith("#"):
                    continue
                if j > pos and _indent(text) <= parent_indent and line_no >= 0:
                    break
                match = pattern.match(text)
                if match and _indent(text) > parent_indent:
                    hit = j
                    break
            if hit < 0:
                break
            text = self.lines[hit]
            item = text.lstrip().startswith("-")
            parent_indent = _indent(text) + (2 if item else 0)
            line_no, column, pos, consumed = hit, text.find(part) + 1, hit + 1, i + 1
        return line_no, column, consumed

    def _block_refs(self, line_no: int) -> list[str]:
        """``.Values`` references on a template line and the lines of its block."""
        if line_no < 0:
            return []
        refs = _VALUES_REF.findall(self.lines[line_no])
        indent = _indent(self.lines[line_no])
        for j in range(line_no + 1, min(len(self.lines), line_no + 40)):
            text = self.lines[j]
            if text.strip() and not _DIRECTIVE.match(text) and _indent(text) <= indent:
                break
            if text.strip() and not _DIRECTIVE.match(text) and not text.lstrip().startswith("{{"):
                continue  # a key of its own: values there belong to that key
            refs.extend(_VALUES_REF.findall(text))
        return refs

    def source(self, path: Sequence[str | int]) -> tuple[str | None, int, int, tuple[Origin, ...]]:
        key = tuple(path)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._source(key)
        return found

    def _source(self, path: tuple[str | int, ...]) -> tuple[str, int, int, tuple[Origin, ...]]:
        written, value = existing_prefix(path, self.obj)
        line_no, column, consumed = self._template_line(written)
        template = Origin(self.template, line_no + 1 if line_no >= 0 else 1, "template")
        rest = list(written[consumed:]) if line_no >= 0 else []
        values: list[tuple[Origin, bool, int]] = []
        for ref in dict.fromkeys(self._block_refs(line_no)):
            vpath = [p for p in ref.split(".") if p] + rest
            located = self.values.locate(vpath)
            if located is None:
                continue
            origin, val, complete, vcolumn = located
            exact = complete and ((rest == [] and not isinstance(value, (dict, list)) and _same(val, value))
                                  or (rest != [] and (isinstance(value, (dict, list)) or _same(val, value))))
            values.append((origin, exact, vcolumn))
        primary = next(((o, c) for o, exact, c in values if exact), None)
        origins = ([primary[0]] if primary else []) + [template] + [
            o for o, _, _ in values if primary is None or o is not primary[0]]
        if primary is not None:
            return primary[0].path, primary[0].line, primary[1], tuple(origins)
        return self.template, template.line, column, tuple(origins)


def _same(a: Any, b: Any) -> bool:
    if a == b:
        return True
    return str(a) == str(b) if not isinstance(a, (dict, list)) and not isinstance(b, (dict, list)) else False
