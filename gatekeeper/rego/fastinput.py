"""Build rego-cpp input documents: faster than ``regopy.Input``, and with strings that compare right.

Converting a document is most of the cost of evaluating a simple policy: regopy's converter
wraps every node's C call in Python helpers (string buffers, enum comparisons). This calls
the same C functions of the same library directly, dispatching on the exact type.

rego-cpp keeps string scalars in their JSON-escaped form: a string handed over raw that holds
a quote, a backslash or a control character (a newline in a ConfigMap value) then differs
from the same string written in a policy (``==`` and ``startswith`` are false) and is written
back unescaped, which breaks the result's JSON. Such strings are passed escaped, as rego-cpp
reads them from JSON. (Known residue: ``count()`` of such a string counts the escapes.)
"""

from __future__ import annotations

import json
import re
from typing import Any

_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')


class InputError(ValueError):
    """A value that has no Rego form (or a failure of the native builder)."""


def _native() -> Any:
    from regopy import rego_shared

    return rego_shared.rego


def build_input(value: Any) -> Any:
    """A ``regopy.Input`` holding ``value`` (dicts, lists, strings, numbers, booleans, None)."""
    from regopy import Input
    from regopy.rego_shared import rego_free_input, rego_new_input

    lib = _native()
    p = rego_new_input()
    put_str, put_int, put_float = lib.regoInputString, lib.regoInputInt, lib.regoInputFloat
    put_bool, put_null = lib.regoInputBoolean, lib.regoInputNull
    item, obj, arr = lib.regoInputObjectItem, lib.regoInputObject, lib.regoInputArray

    def add(val: Any) -> int:
        t = type(val)
        if t is str:
            if _NEEDS_ESCAPE.search(val):
                val = json.dumps(val, ensure_ascii=False)[1:-1]
            return int(put_str(p, val.encode("utf-8")))
        if t is dict:
            bad = 0
            for k, v in val.items():
                bad |= add(k) | add(v) | int(item(p))
            return bad | int(obj(p, len(val)))
        if t is list:
            bad = 0
            for x in val:
                bad |= add(x)
            return bad | int(arr(p, len(val)))
        if t is bool:
            return int(put_bool(p, val))
        if t is int:
            if not -(2**63) <= val < 2**63:
                raise InputError("integer out of range")
            return int(put_int(p, val))
        if t is float:
            return int(put_float(p, val))
        if val is None:
            return int(put_null(p))
        if isinstance(val, str | int | float | dict | list | tuple):  # subclasses: the slow, general path
            return add(_plain(val))
        raise InputError(f"cannot give a {t.__name__} to a policy")

    try:
        if add(value) != 0:
            raise InputError("the native input builder refused a value")
    except BaseException:
        rego_free_input(p)
        raise
    out = Input.__new__(Input)
    out._impl = p
    return out


def _plain(val: Any) -> Any:
    if isinstance(val, bool):
        return bool(val)
    if isinstance(val, int):
        return int(val)
    if isinstance(val, float):
        return float(val)
    if isinstance(val, str):
        return str(val)
    if isinstance(val, dict):
        return dict(val)
    return list(val)
