"""Kubernetes' quantity library: ``quantity("500m")``, ``isQuantity``, arithmetic and comparison.

Values follow ``resource.Quantity``: a signed decimal number with a binary-SI (Ki..Ei),
decimal-SI (n, u, m, k, M, G, T, P, E) or decimal-exponent (e3, E-2) suffix, held exactly as a
fraction. The message keeps the canonical fraction, so equal quantities compare equal however
they are written. Exponents are bounded so a hostile literal cannot make the arithmetic explode.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from gatekeeper.cel import types
from gatekeeper.cel.lib import Library, glob, member

_NUMBER = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_EXPONENT = re.compile(r"^[eE]([+-]?[0-9]+)$")
_MAX_EXPONENT = 400
_INT64 = (-(2**63), 2**63 - 1)


def parse(text: str) -> Fraction:
    """The exact value of a quantity string; ValueError when it is not one."""
    if not isinstance(text, str) or not text or len(text) > 128:
        raise ValueError("quantities must match the regular expression "
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    m = _NUMBER.match(text)
    if not m:
        raise ValueError("quantities must match the regular expression "
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    number, suffix = Fraction(m.group(1)), m.group(2)
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * Fraction(10) ** _DECIMAL[suffix]
    e = _EXPONENT.match(suffix)
    if e:
        exponent = int(e.group(1))
        if abs(exponent) > _MAX_EXPONENT:
            raise ValueError("quantity exponent out of range")
        return number * Fraction(10) ** exponent
    raise ValueError("unable to parse quantity's suffix")


def _make(value: Fraction) -> Any:
    return types.make("Quantity", f"{value.numerator}/{value.denominator}")


def value_of(q: Any) -> Fraction:
    """The exact value a Quantity message holds."""
    return Fraction(q.value)


def _quantity(text: str) -> Any:
    return _make(parse(text))


def _is_quantity(text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


def _as_integer(q: Any) -> int:
    v = value_of(q)
    if v.denominator != 1 or not _INT64[0] <= v.numerator <= _INT64[1]:
        raise ValueError("cannot convert value to integer")
    return v.numerator


def _is_integer(q: Any) -> bool:
    v = value_of(q)
    return v.denominator == 1 and _INT64[0] <= v.numerator <= _INT64[1]


def _as_float(q: Any) -> float:
    try:
        return float(value_of(q))
    except OverflowError:
        return float("inf") if value_of(q) > 0 else float("-inf")


def _sign(q: Any) -> int:
    v = value_of(q)
    return (v > 0) - (v < 0)


def _cmp(a: Any, b: Any) -> int:
    x, y = value_of(a), value_of(b)
    return (x > y) - (x < y)


LIBRARY = Library("kubernetes.quantity", (
    glob("quantity", ("quantity_string", ("string",), "Quantity", _quantity)),
    glob("isQuantity", ("isQuantity_string", ("string",), "bool", _is_quantity)),
    member("isInteger", ("quantity_isInteger", ("Quantity",), "bool", _is_integer)),
    member("asInteger", ("quantity_asInteger", ("Quantity",), "int", _as_integer)),
    member("asApproximateFloat", ("quantity_asApproximateFloat", ("Quantity",), "double", _as_float)),
    member("sign", ("quantity_sign", ("Quantity",), "int", _sign)),
    member("add", ("quantity_add", ("Quantity", "Quantity"), "Quantity", lambda a, b: _make(value_of(a) + value_of(b))),
           ("quantity_add_int", ("Quantity", "int"), "Quantity", lambda a, b: _make(value_of(a) + b))),
    member("sub", ("quantity_sub", ("Quantity", "Quantity"), "Quantity", lambda a, b: _make(value_of(a) - value_of(b))),
           ("quantity_sub_int", ("Quantity", "int"), "Quantity", lambda a, b: _make(value_of(a) - b))),
    member("isLessThan", ("quantity_isLessThan", ("Quantity", "Quantity"), "bool", lambda a, b: _cmp(a, b) < 0)),
    member("isGreaterThan", ("quantity_isGreaterThan", ("Quantity", "Quantity"), "bool",
                             lambda a, b: _cmp(a, b) > 0)),
    member("compareTo", ("quantity_compareTo", ("Quantity", "Quantity"), "int", _cmp)),
))
