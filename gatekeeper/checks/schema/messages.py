"""Turn validator errors into (rule, message, field path) without ever echoing a value."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gatekeeper.model import format_field

_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
               dict: "object", type(None): "null"}


def type_name(value: Any) -> str:
    """JSON type name of a Python value."""
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _expected(kind: Any) -> str:
    types = getattr(kind, "types", None) or []
    names = [str(t) for t in types if str(t) != "null"] or [str(t) for t in types]
    return " or ".join(names) or "another type"


def describe(error: Any) -> Iterator[tuple[str, str, list[str | int]]]:
    """Yield (rule id, message, field path) for one jsonschema-rs error."""
    path: list[str | int] = list(error.instance_path)
    kind = error.kind
    kname = type(kind).__name__
    where = format_field(path) or "object"
    if kname == "AdditionalProperties":
        for key in kind.unexpected:
            yield ("schema-unknown-field", f"{format_field([*path, key])}: unknown field {key!r}",
                   [*path, key])
    elif kname == "Required":
        prop = kind.property
        yield ("schema-required", f"{where}: missing required field {prop!r}", [*path, str(prop)])
    elif kname == "Type":
        yield ("schema-type",
               f"{where}: expected {_expected(kind)}, got {type_name(error.instance)}", path)
    elif kname in ("OneOfNotValid", "AnyOf"):
        yield ("schema-type", f"{where}: value of type {type_name(error.instance)} matches none of the "
                              "allowed forms", path)
    elif kname == "Enum":
        options = getattr(kind, "options", None)
        allowed = ", ".join(repr(o) for o in options) if isinstance(options, list) else "the listed values"
        yield ("schema-value", f"{where}: value is not one of {allowed}", path)
    elif kname in ("Minimum", "Maximum", "ExclusiveMinimum", "ExclusiveMaximum", "MinLength", "MaxLength",
                   "MinItems", "MaxItems", "MinProperties", "MaxProperties", "MultipleOf"):
        limit = getattr(kind, "limit", getattr(kind, "multiple_of", "?"))
        yield ("schema-value", f"{where}: violates {_snake(kname)} {limit}", path)
    elif kname == "Pattern":
        yield ("schema-value", f"{where}: does not match pattern {getattr(kind, 'pattern', '')!r}", path)
    elif kname == "Const":
        yield ("schema-value", f"{where}: must equal {getattr(kind, 'expected_value', '?')!r}", path)
    elif kname == "UniqueItems":
        yield ("schema-value", f"{where}: items must be unique", path)
    else:
        yield ("schema-value", f"{where}: violates schema keyword {_snake(kname)!r}", path)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
