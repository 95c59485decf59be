"""The parsed shape of a compiled CEL expression, read from the engine's serialised form.

The engine serialises a checked expression as a ``google.protobuf.Any`` holding a
``cel.expr.CheckedExpr``. This module decodes the protobuf wire format directly (no generated
classes) into a small tree of ``Node``s, enough to answer what the gate asks of an expression:
which free variables it reads (``oldSelf`` makes a transition rule), which field paths below a
variable it selects (a finding points at the field a rule reads), and whether it iterates.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

# Field numbers of the cel.expr protos (cel-spec: syntax.proto, checked.proto).
_ANY_VALUE = 2
_CHECKED_EXPR = 4
_CHECKED_SOURCE_INFO = 5
_EXPR_ID, _EXPR_CONST, _EXPR_IDENT, _EXPR_SELECT, _EXPR_CALL = 2, 3, 4, 5, 6
_EXPR_LIST, _EXPR_STRUCT, _EXPR_COMPREHENSION = 7, 8, 9
_SRC_LINE_OFFSETS, _SRC_POSITIONS = 3, 4


class WireError(ValueError):
    """The bytes are not the protobuf message they were expected to be."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise WireError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise WireError("varint too long")


def fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of every field of one message, in order."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, wire, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise WireError("truncated field")
            yield number, wire, data[pos:pos + length]
            pos += length
        elif wire == 1:
            yield number, wire, struct.unpack_from("<q", data, pos)[0]
            pos += 8
        elif wire == 5:
            yield number, wire, struct.unpack_from("<i", data, pos)[0]
            pos += 4
        else:
            raise WireError(f"unsupported wire type {wire}")


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


@dataclass(slots=True)
class Node:
    """One expression node: ``kind`` is const, ident, select, call, list, struct or comprehension."""

    id: int
    kind: str
    name: str = ""  # ident name, selected field, called function, comprehension iteration variable
    children: list[Node] = field(default_factory=list)  # select: [operand]; call: [target?, *args]
    test_only: bool = False  # select inside has()
    member: bool = False  # call written as target.f(args)
    bound: tuple[str, ...] = ()  # comprehension: the variables its loop binds
    value: object = None  # const: the literal (str, int, float, bool, bytes or None)
    literal: str = ""  # const: its CEL type (null, bool, int, uint, double, string, bytes)


def _const(data: bytes) -> tuple[str, object]:
    """(CEL type, value) of a Constant."""
    for number, _wire, value in fields(data):
        if number in (3, 4):
            return ("int", _signed(int(value))) if number == 3 else ("uint", int(value))
        if number == 2:
            return "bool", bool(value)
        if number == 5:
            return "double", struct.unpack("<d", struct.pack("<q", int(value)))[0]
        if number == 6 and isinstance(value, bytes):
            return "string", value.decode("utf-8", "replace")
        if number == 7:
            return "bytes", value
        if number == 1:
            return "null", None
    return "", None  # a deprecated duration/timestamp literal, or an unknown field


def _expr(data: bytes, depth: int = 0) -> Node:
    if depth > 200:
        raise WireError("expression nests too deeply")
    node = Node(0, "const")
    for number, _wire, value in fields(data):
        if number == _EXPR_ID:
            node.id = int(value)
        elif not isinstance(value, bytes):
            continue
        elif number == _EXPR_CONST:
            node.kind = "const"
            node.literal, node.value = _const(value)
        elif number == _EXPR_IDENT:
            node.kind = "ident"
            node.name = next((v.decode() for n, _w, v in fields(value) if n == 1 and isinstance(v, bytes)), "")
        elif number == _EXPR_SELECT:
            node.kind = "select"
            for n, _w, v in fields(value):
                if n == 1 and isinstance(v, bytes):
                    node.children = [_expr(v, depth + 1)]
                elif n == 2 and isinstance(v, bytes):
                    node.name = v.decode()
                elif n == 3:
                    node.test_only = bool(v)
        elif number == _EXPR_CALL:
            node.kind = "call"
            target: list[Node] = []
            args: list[Node] = []
            for n, _w, v in fields(value):
                if n == 1 and isinstance(v, bytes):
                    target = [_expr(v, depth + 1)]
                elif n == 2 and isinstance(v, bytes):
                    node.name = v.decode()
                elif n == 3 and isinstance(v, bytes):
                    args.append(_expr(v, depth + 1))
            node.member = bool(target)
            node.children = target + args
        elif number == _EXPR_LIST:
            node.kind = "list"
            node.children = [_expr(v, depth + 1) for n, _w, v in fields(value) if n == 1 and isinstance(v, bytes)]
        elif number == _EXPR_STRUCT:
            node.kind = "struct"
            for n, _w, v in fields(value):
                if n == 2 and isinstance(v, bytes):  # entry: map_key (3) and value (4)
                    node.children.extend(_expr(ev, depth + 1) for en, _ew, ev in fields(v)
                                         if en in (3, 4) and isinstance(ev, bytes))
        elif number == _EXPR_COMPREHENSION:
            node.kind = "comprehension"
            names: list[str] = []
            for n, _w, v in fields(value):
                if not isinstance(v, bytes):
                    continue
                if n in (1, 3, 8):  # iter_var, accu_var, iter_var2
                    names.append(v.decode())
                elif n in (2, 4, 5, 6, 7):  # range, accu_init, loop condition, loop step, result
                    node.children.append(_expr(v, depth + 1))
            node.name = names[0] if names else ""
            node.bound = tuple(names)
    return node


@dataclass(slots=True)
class Expression:
    """A decoded expression: its root node and the source offset of each node id."""

    root: Node
    positions: dict[int, int]
    line_offsets: list[int]

    def walk(self) -> Iterator[Node]:
        """Every node, parents before children."""
        stack = [self.root]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def free_variables(self) -> set[str]:
        """Names of the variables the expression reads that no comprehension binds."""
        found: set[str] = set()

        def visit(node: Node, bound: frozenset[str]) -> None:
            if node.kind == "ident" and node.name not in bound:
                found.add(node.name)
            if node.kind != "comprehension":
                for child in node.children:
                    visit(child, bound)
                return
            # the range and the accumulator's start are outside the loop's scope, the result sees the
            # accumulator only, the condition and step every name the loop binds
            for i, child in enumerate(node.children):
                if i < 2:
                    visit(child, bound)
                elif i == 4 and len(node.bound) > 1:
                    visit(child, bound | {node.bound[1]})
                else:
                    visit(child, bound | set(node.bound))

        visit(self.root, frozenset())
        return found

    def select_paths(self, variable: str) -> list[tuple[str, ...]]:
        """Field paths selected below ``variable`` (``object.spec.replicas`` -> ("spec", "replicas")),
        longest chains only, in source order; optional selection (``a.?b``) counts as selection."""
        paths: list[tuple[int, tuple[str, ...]]] = []

        def visit(node: Node, inside_chain: bool) -> None:
            found = _chain(node)
            path = found[1] if found is not None and found[0] == variable else None
            if path is not None and not inside_chain and path:
                paths.append((self.positions.get(node.id, 0), path))
            for child in node.children:
                visit(child, path is not None)

        visit(self.root, False)
        return [p for _pos, p in sorted(paths, key=lambda item: item[0])]

    def read_paths(self, variable: str) -> tuple[tuple[str, ...], ...] | None:
        """The field paths below ``variable`` the expression can read, or None when it uses the variable
        as a whole (passes it on, compares it). A ``*`` step stands for every item of a list that a
        comprehension iterates (``object.spec.containers.all(c, c.image != '')`` reads
        ``spec.containers.*.image``). Every value the expression reads lies under one of the paths, so
        a copy holding just those subtrees (``views.prune``) evaluates the same."""
        found = _uses(variable, self.root)
        return None if found is None else tuple(dict.fromkeys(found))

    def chain_of(self, variable: str) -> tuple[str, ...] | None:
        """The path when the whole expression is a field selection below ``variable`` (else None)."""
        chain = _chain(self.root)
        return chain[1] if chain is not None and chain[0] == variable else None

    def iterates(self) -> bool:
        """True when the expression holds a comprehension (all, exists, map, filter...)."""
        return any(node.kind == "comprehension" for node in self.walk())


def _chain(node: Node) -> tuple[str, tuple[str, ...]] | None:
    """(root identifier, path) of a field-selection chain (``a.b.?c``), or None."""
    parts: list[str] = []
    while True:
        if node.kind == "select" and node.children:
            parts.append(node.name)
            node = node.children[0]
        elif (node.kind == "call" and node.name == "_?._" and len(node.children) == 2
              and node.children[1].kind == "const" and isinstance(node.children[1].value, str)):
            parts.append(node.children[1].value)
            node = node.children[0]
        elif node.kind == "ident":
            return node.name, tuple(reversed(parts))
        else:
            return None


def _uses(name: str, node: Node) -> list[tuple[str, ...]] | None:
    """Paths read below identifier ``name`` in ``node`` (None: it is used whole)."""
    found: list[tuple[str, ...]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        chain = _chain(item)
        if chain is not None:
            if chain[0] == name:
                if not chain[1]:
                    return None
                found.append(chain[1])
            continue  # a chain's inner nodes are selections only
        if item.kind == "comprehension" and item.children:
            if name in item.bound:
                # shadowed inside the loop: the range and the accumulator's start read the outer name,
                # and the result too unless it is the accumulator's name
                stack.extend(item.children[:2])
                if len(item.children) == 5 and len(item.bound) > 1 and name != item.bound[1]:
                    stack.append(item.children[4])
                continue
            range_chain = _chain(item.children[0])
            if range_chain is not None and range_chain[0] == name and range_chain[1] and len(item.bound) == 2:
                inner: list[tuple[str, ...]] | None = []
                for body in item.children[1:]:
                    sub = _uses(item.name, body)
                    if sub is None or inner is None:
                        inner = None
                    else:
                        inner.extend(sub)
                if inner:
                    found.extend((*range_chain[1], "*", *p) for p in inner)
                else:
                    found.append(range_chain[1])
                stack.extend(item.children[1:])
                continue
        stack.extend(item.children)
    return found


def decode(serialized: bytes) -> Expression:
    """Decode the engine's serialised checked (or parsed) expression."""
    payload = serialized
    for number, _wire, value in fields(serialized):
        if number == _ANY_VALUE and isinstance(value, bytes):
            payload = value
    root: Node | None = None
    positions: dict[int, int] = {}
    line_offsets: list[int] = []
    for number, _wire, value in fields(payload):
        if number == _CHECKED_EXPR and isinstance(value, bytes):
            root = _expr(value)
        elif number == _CHECKED_SOURCE_INFO and isinstance(value, bytes):
            for n, wire, v in fields(value):
                if n == _SRC_POSITIONS and isinstance(v, bytes):
                    entry = dict((en, ev) for en, _ew, ev in fields(v))
                    positions[int(entry.get(1, 0))] = int(entry.get(2, 0))
                elif n == _SRC_LINE_OFFSETS:
                    if wire == 2 and isinstance(v, bytes):
                        pos = 0
                        while pos < len(v):
                            off, pos = _varint(v, pos)
                            line_offsets.append(off)
                    else:
                        line_offsets.append(int(v))
    if root is None:
        raise WireError("no expression in the serialised program")
    return Expression(root, positions, line_offsets)
