"""What a policy may be given: values Rego can hold, nested no deeper than the limit.

Rego numbers beyond 64-bit integers lose precision in the engine, and very deep values make
native code recurse without bound; such a value in a document is reported as a finding on its
field (the object is not evaluated), and in a data file it is a load error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gatekeeper.checks.base import CheckLoadError
from gatekeeper.checks.policy.files import display
from gatekeeper.model import FieldPath

INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def invalid_value(value: Any, max_depth: int) -> tuple[FieldPath, str] | None:
    """(field path, reason) of the first value a policy cannot be given, or None."""
    stack: list[tuple[Any, FieldPath]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if len(path) > max_depth:
            return path, f"nests values more than {max_depth} levels deep (the policy depth limit)"
        if isinstance(item, dict):
            stack.extend((v, (*path, str(k))) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(item))
        elif isinstance(item, int) and not isinstance(item, bool) and not INT_MIN <= item <= INT_MAX:
            return path, "is an integer beyond 64 bits, which a policy cannot compare exactly"
        elif isinstance(item, float) and item != item:
            return path, "is not a number (NaN)"
    return None


def may_hold_invalid(value: Any, max_depth: int, loader_depth: int) -> bool:
    """A fast pre-check: False when ``invalid_value`` cannot find anything (no integer beyond 64
    bits, no NaN, and the loader already bounded nesting below the limit)."""
    if max_depth < loader_depth:
        return True
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = item.__class__
        if kind is dict:
            extend(item.values())
        elif kind is list:
            extend(item)
        elif kind is int:
            if not INT_MIN <= item <= INT_MAX:
                return True
        elif kind is float:
            if item != item:
                return True
        elif kind is not str and kind is not bool and item is not None:
            return True  # an unusual type: let the exact check decide
    return False


def load_data(paths: list[Path], max_depth: int = 100) -> dict[str, Any]:
    """Merge ``--data`` YAML/JSON files into one document (later files win on conflicts);
    CheckLoadError names a file that cannot be read or holds a value no policy can be given."""
    merged: dict[str, Any] = {}
    for path in paths:
        try:
            value = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise CheckLoadError(f"cannot read policy data file {display(path)}: {exc.__class__.__name__}") from None
        except RecursionError:
            raise CheckLoadError(f"policy data file {display(path)} nests values too deeply") from None
        if value is None:
            continue
        if not isinstance(value, dict):
            raise CheckLoadError(f"policy data file {display(path)} must hold a mapping")
        bad = invalid_value(value, max_depth)
        if bad is not None:
            where = ".".join(str(p) for p in bad[0][:12])
            raise CheckLoadError(f"policy data file {display(path)}: the value at {where} {bad[1]}")
        _merge(merged, value)
    return merged


def _merge(into: dict[str, Any], value: dict[str, Any]) -> None:
    for key, item in value.items():
        if isinstance(item, dict) and isinstance(into.get(key), dict):
            _merge(into[key], item)
        else:
            into[key] = item
