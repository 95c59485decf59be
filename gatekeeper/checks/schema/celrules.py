"""CRD validation rules (``x-kubernetes-validations``) evaluated offline, as the API server does on create.

``RuleTree.build`` walks a CRD version's ``openAPIV3Schema`` once and keeps only the nodes whose
subtree holds a rule or a list-type constraint, with every rule compiled (cached by the engine).
``RuleTree.evaluate`` walks an object alongside that tree: each rule runs with ``self`` bound to
the value at its node (every list item for rules under ``items``, every map value for rules under
``additionalProperties``); absent and null values are not validated. ``self`` is the value the
API server's CEL sees: property names escaped (``x-y`` is also ``x__dash__y``), ``date``/
``date-time`` strings as timestamps, ``duration`` strings as durations, ``byte`` strings as bytes,
and at the root only ``metadata.name``/``generateName``. Transition rules (those reading
``oldSelf``) do not run on create, unless ``optionalOldSelf`` is set, when ``oldSelf`` is
``optional.none()``. Lists with ``x-kubernetes-list-type: set``/``map`` must not repeat an item or
a key, as the API server checks.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gatekeeper import cel
from gatekeeper.cel.source import replace_identifier
from gatekeeper.checks.secrets.masking import cut
from gatekeeper.model import FieldPath

_VARIABLES = ("self", "oldSelf")
_RESERVED = {"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if",
             "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"}
_ESCAPABLE = re.compile(r"^[a-zA-Z_.\-/][a-zA-Z0-9_.\-/]*$")
_FIELD_PATH = re.compile(r"\.([A-Za-z0-9_\-]+)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]")
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_FORMATS = ("date", "date-time", "duration", "byte")
MESSAGE_LIMIT = 300


class RuleCompileError(Exception):
    """A rule does not compile: where it is (path in the CRD) and the compiler's error."""

    def __init__(self, path: FieldPath, error: cel.CompileError) -> None:
        super().__init__(error.message)
        self.path = path
        self.error = error


@dataclass(slots=True)
class Rule:
    """One ``x-kubernetes-validations`` entry, compiled."""

    rule: str
    path: FieldPath  # of the entry in the CRD object
    message: str = ""
    message_program: cel.Program | None = None
    field_path: FieldPath = ()
    reason: str = ""
    program: cel.Program | None = None  # None: a transition rule, not run on create
    limit: str = ""  # the rule is over the engine's limits (reported at the CRD)


@dataclass(slots=True)
class Node:
    """A schema node that holds rules or list-type constraints, or leads to one that does."""

    rules: list[Rule] = field(default_factory=list)
    properties: dict[str, Node] = field(default_factory=dict)
    items: Node | None = None
    additional: Node | None = None
    list_type: str = ""
    map_keys: tuple[str, ...] = ()
    view: Callable[[Any], Any] | None = None  # how ``self`` is built from the value (None: as is)


@dataclass(slots=True)
class Failure:
    """A rule that failed, could not run, or a list-type violation, at a path of the object."""

    kind: str  # "failed", "error", "cost", "unsupported", "duplicate"
    message: str
    path: FieldPath
    rule: Rule | None = None


def _escape(name: str) -> str | None:
    """The CEL name of a property (None when it cannot be accessed as a field)."""
    if name in _RESERVED:
        return f"__{name}__"
    if not _ESCAPABLE.match(name):
        return None
    escaped = name.replace("__", "__underscores__").replace(".", "__dot__").replace("-", "__dash__")
    return escaped.replace("/", "__slash__")


def _duration(text: str) -> datetime.timedelta:
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body == "0":
        return datetime.timedelta()
    pos, total = 0, 0.0
    for m in _DURATION.finditer(body):
        if m.start() != pos:
            raise ValueError(text)
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(body) or not body:
        raise ValueError(text)
    return datetime.timedelta(seconds=sign * total)


def _convert(fmt: str, value: Any) -> Any:
    """A string of a CEL-typed format as the CEL value (unchanged when it does not parse). The engine
    takes timestamps and durations as the protobuf well-known types."""
    if not isinstance(value, str):
        return value
    from google.protobuf import duration_pb2, timestamp_pb2

    try:
        if fmt == "byte":
            return base64.b64decode(value, validate=True)
        if fmt == "duration":
            duration = duration_pb2.Duration()
            duration.FromTimedelta(_duration(value))
            return duration
        moment = datetime.datetime.strptime(value, "%Y-%m-%d") if fmt == "date" else \
            datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(moment)
        return stamp
    except (ValueError, OverflowError):
        return value


def _view_builder(schema: dict[str, Any], depth: int = 0) -> Callable[[Any], Any] | None:
    """A function building CEL's view of a value of this schema, or None when the value is its own view."""
    if depth > 64 or not isinstance(schema, dict):
        return None
    fmt = schema.get("format")
    if schema.get("type") == "string" and fmt in _FORMATS:
        return lambda v: _convert(fmt, v)
    found = schema.get("properties")
    props: dict[str, Any] = found if isinstance(found, dict) else {}
    children: dict[str, Callable[[Any], Any]] = {}
    for name, sub in props.items():
        built = _view_builder(sub, depth + 1)
        if built is not None:
            children[name] = built
    escapes = {name: esc for name in props if (esc := _escape(name)) is not None and esc != name}
    items = _view_builder(schema["items"], depth + 1) if isinstance(schema.get("items"), dict) else None
    extra = schema.get("additionalProperties")
    values = _view_builder(extra, depth + 1) if isinstance(extra, dict) else None
    if not (children or escapes or items or values):
        return None

    def view(value: Any) -> Any:
        if isinstance(value, list):
            return [items(v) for v in value] if items is not None else value
        if not isinstance(value, dict):
            return value
        out = dict(value)
        if values is not None:
            convert = values
            out = {k: convert(v) if k not in props else v for k, v in out.items()}
        for name, build in children.items():
            if name in out and out[name] is not None:
                out[name] = build(out[name])
        for name, esc in escapes.items():
            if name in out:
                out[esc] = out[name]
        return out

    return view


def _root_view(inner: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """At the root, ``metadata`` holds only ``name`` and ``generateName``."""

    def view(value: Any) -> Any:
        out = inner(value) if inner else value
        if isinstance(out, dict) and isinstance(out.get("metadata"), dict):
            out = dict(out)
            out["metadata"] = {k: v for k, v in out["metadata"].items() if k in ("name", "generateName")}
        return out

    return view


def parse_field_path(text: str) -> FieldPath | None:
    """``.spec.x``, ``['a.b']``, ``.list[0]`` as a field path (None when it is not one)."""
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        m = _FIELD_PATH.match(text, pos)
        if not m:
            return None
        if m.group(1) is not None:
            parts.append(m.group(1))
        elif m.group(2) is not None:
            parts.append(re.sub(r"\\(.)", r"\1", m.group(2)))
        else:
            parts.append(int(m.group(3)))
        pos = m.end()
    return tuple(parts)


def _compile_rule(env: cel.Environment, entry: dict[str, Any], path: FieldPath) -> Rule | None:
    text = entry.get("rule")
    if not isinstance(text, str):
        return None
    rule = Rule(text, path, message=str(entry.get("message") or ""), reason=str(entry.get("reason") or ""))
    fp = entry.get("fieldPath")
    if isinstance(fp, str) and fp:
        rule.field_path = parse_field_path(fp) or ()
    try:
        program = env.compile(text)
    except cel.CompileError as exc:
        if exc.limit:
            rule.limit = exc.message
            return rule
        raise RuleCompileError((*path, "rule"), exc) from None
    if "oldSelf" in program.variables:
        if entry.get("optionalOldSelf") is True:
            rule.program = env.compile(replace_identifier(text, "oldSelf", "optional.none()"))
    else:
        rule.program = program
    expr = entry.get("messageExpression")
    if isinstance(expr, str) and expr.strip():
        try:
            rule.message_program = env.compile(expr)
        except cel.CompileError as exc:
            if not exc.limit:
                raise RuleCompileError((*path, "messageExpression"), exc) from None
    return rule


def _build(env: cel.Environment, schema: Any, path: FieldPath, depth: int) -> Node | None:
    if not isinstance(schema, dict) or depth > 64:
        return None
    node = Node()
    entries = schema.get("x-kubernetes-validations")
    if isinstance(entries, list):
        for i, entry in enumerate(entries):
            if isinstance(entry, dict):
                rule = _compile_rule(env, entry, (*path, "x-kubernetes-validations", i))
                if rule is not None:
                    node.rules.append(rule)
    props = schema.get("properties")
    if isinstance(props, dict):
        for name, sub in props.items():
            child = _build(env, sub, (*path, "properties", name), depth + 1)
            if child is not None:
                node.properties[name] = child
    node.items = _build(env, schema.get("items"), (*path, "items"), depth + 1)
    node.additional = _build(env, schema.get("additionalProperties"), (*path, "additionalProperties"), depth + 1)
    if schema.get("type") == "array" and schema.get("x-kubernetes-list-type") in ("set", "map"):
        node.list_type = str(schema["x-kubernetes-list-type"])
        keys = schema.get("x-kubernetes-list-map-keys")
        node.map_keys = tuple(k for k in keys if isinstance(k, str)) if isinstance(keys, list) else ()
    if not (node.rules or node.properties or node.items or node.additional or node.list_type):
        return None
    if node.rules:
        node.view = _view_builder(schema)
    return node


@dataclass(slots=True)
class RuleTree:
    """The rules of one CRD version, ready to evaluate against its custom resources."""

    root: Node

    @classmethod
    def build(cls, schema: dict[str, Any], path: FieldPath) -> RuleTree | None:
        """The tree for an ``openAPIV3Schema`` found at ``path`` in the CRD (None without rules);
        ``RuleCompileError`` when a rule does not compile."""
        env = cel.environment(_VARIABLES)
        root = _build(env, schema, path, 0)
        if root is None:
            return None
        root.view = _root_view(root.view)
        return cls(root)

    def rules(self) -> Iterator[Rule]:
        """Every rule of the tree."""
        stack = [self.root]
        while stack:
            node = stack.pop()
            yield from node.rules
            stack.extend(node.properties.values())
            stack.extend(n for n in (node.items, node.additional) if n is not None)

    def evaluate(self, obj: Any) -> list[Failure]:
        """Every failure of ``obj`` against the tree's rules, in walk order. All rules evaluated for
        one object share the API server's total cost budget: past it, no further rule runs."""
        out: list[Failure] = []
        with contextlib.suppress(_Exhausted):
            _walk(self.root, obj, (), out, cel.Budget())
        return out


class _Exhausted(Exception):
    """The object's rules spent the total cost budget: no further rule runs."""


def _walk(node: Node, value: Any, path: FieldPath, out: list[Failure], budget: cel.Budget) -> None:
    if value is None:
        return
    if node.rules:
        _run_rules(node, value, path, out, budget)
    if node.list_type and isinstance(value, list):
        _check_list(node, value, path, out)
    if isinstance(value, dict):
        for name, child in node.properties.items():
            if name in value:
                _walk(child, value[name], (*path, name), out, budget)
        if node.additional is not None:
            for key, item in value.items():
                if key not in node.properties:
                    _walk(node.additional, item, (*path, key), out, budget)
    elif isinstance(value, list) and node.items is not None:
        for i, item in enumerate(value):
            _walk(node.items, item, (*path, i), out, budget)


def _run_rules(node: Node, value: Any, path: FieldPath, out: list[Failure], budget: cel.Budget) -> None:
    bound = cel.environment(_VARIABLES).bindings({"self": node.view(value) if node.view else value})
    for rule in node.rules:
        if rule.limit:
            continue  # reported once, at the CRD
        if rule.program is None:
            continue  # a transition rule: nothing to compare with on create
        where = (*path, *rule.field_path)
        try:
            result = rule.program.evaluate(bound, budget=budget)
        except cel.Unsupported as exc:
            out.append(Failure("unsupported", f"rule not evaluated offline: it {exc.message} [rule: "
                               f"{_short(rule.rule)}]", where, rule))
            continue
        except cel.CostLimitExceeded as exc:
            if budget.spent > budget.limit:
                out.append(Failure("cost", f"{exc.message}; no further rule of the object runs [rule: "
                                   f"{_short(rule.rule)}]", where, rule))
                raise _Exhausted from None
            out.append(Failure("cost", f"{exc.message} [rule: {_short(rule.rule)}]", where, rule))
            continue
        except cel.EvaluationError as exc:
            out.append(Failure("error", f"rule could not be evaluated: {exc.message} [rule: {_short(rule.rule)}]",
                               where, rule))
            continue
        if result is True:
            continue
        if result is not False:
            out.append(Failure("error", f"rule did not evaluate to a boolean [rule: {_short(rule.rule)}]",
                               where, rule))
            continue
        out.append(Failure("failed", _message(rule, bound, budget), where, rule))


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 120 else flat[:117] + "..."


def _message(rule: Rule, bound: cel.Bindings, budget: cel.Budget) -> str:
    """messageExpression's string, else message, else the API server's default."""
    text = ""
    if rule.message_program is not None:
        try:
            value = rule.message_program.evaluate(bound, budget=budget)
        except cel.CelError:
            value = None
        if isinstance(value, str) and value.strip() and "\n" not in value:
            text = value
    text = text or rule.message or f"failed rule: {_short(rule.rule)}"
    if rule.reason:
        text += f" (reason: {rule.reason})"
    return cut(text, MESSAGE_LIMIT)  # marked, so the report's masking sees a value cut short


def _check_list(node: Node, items: list[Any], path: FieldPath, out: list[Failure]) -> None:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if node.list_type == "set":
            key = repr(item)
            what = "duplicate value in a list with x-kubernetes-list-type: set"
        else:
            if not isinstance(item, dict):
                continue
            key = repr(tuple(item.get(k) for k in node.map_keys))
            names = ", ".join(node.map_keys) or "its keys"
            what = f"duplicate entry in a list with x-kubernetes-list-type: map (same {names})"
        if key in seen:
            out.append(Failure("duplicate", f"{what}: item {i} repeats item {seen[key]}", (*path, i)))
        else:
            seen[key] = i
