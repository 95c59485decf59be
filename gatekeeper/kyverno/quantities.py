"""Kubernetes quantities, Go durations and semantic versions: parsing, comparing, formatting.

Kyverno compares and adds these (``<=1Gi``, ``DurationGreaterThan 1h``, ``add('1Gi','512Mi')``,
``semver_compare``); values are exact fractions so ``0.5Gi`` equals ``512Mi``.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
            "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
            "P": Fraction(10**15), "E": Fraction(10**18)}
# number forms written without overlapping repetitions, so a failed match backtracks linearly
_QUANTITY = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
# Bounds on what is read as a number at all: the CEL quantity library's exponent range, and a
# length no real quantity or duration reaches (each bignum step is one operation nothing can interrupt)
MAX_EXPONENT = 400
MAX_LENGTH = 128
_DURATION_UNITS = {"ns": Fraction(1, 10**9), "us": Fraction(1, 10**6), "µs": Fraction(1, 10**6),
                   "μs": Fraction(1, 10**6), "ms": Fraction(1, 1000), "s": Fraction(1), "m": Fraction(60),
                   "h": Fraction(3600)}
_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


@lru_cache(maxsize=4096)
def parse_quantity(text: str) -> Fraction | None:
    """``"1.5Gi"`` -> 1610612736; None when the text is not a Kubernetes quantity."""
    m = _QUANTITY.match(text.strip()) if isinstance(text, str) and len(text) <= MAX_LENGTH else None
    if m is None:
        return None
    number, suffix = Fraction(m.group(1)), m.group(2) or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix[:1] in ("e", "E"):
        exponent = int(suffix[1:])
        if abs(exponent) > MAX_EXPONENT:
            return None  # out of range, as in the CEL quantity library: not a quantity
        return number * Fraction(10) ** exponent
    return number * _DECIMAL[suffix]


def is_binary_quantity(text: str) -> bool:
    return isinstance(text, str) and text.strip()[-2:] in _BINARY


def format_quantity(value: Fraction, binary: bool) -> str:
    """A quantity in Kubernetes' canonical spelling (largest exact suffix of the chosen family)."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value == 0:
        return "0"
    if value.denominator == 1:
        whole = value.numerator
        if binary:
            for suffix, factor in reversed(list(_BINARY.items())):
                if whole % factor == 0:
                    return f"{sign}{whole // factor}{suffix}"
        for suffix in ("E", "P", "T", "G", "M", "k"):
            factor = int(_DECIMAL[suffix])
            if whole % factor == 0:
                return f"{sign}{whole // factor}{suffix}"
        return f"{sign}{whole}"
    for suffix in ("m", "u", "n"):
        scaled = value / _DECIMAL[suffix]
        if scaled.denominator == 1:
            return f"{sign}{scaled.numerator}{suffix}"
    scaled = value * 10**9
    return f"{sign}{-(-scaled.numerator // scaled.denominator)}n"  # Kubernetes rounds up


@lru_cache(maxsize=4096)
def parse_duration(text: str) -> Fraction | None:
    """A Go duration (``1h30m``, ``500ms``, ``0``) in seconds; None when it is not one."""
    if not isinstance(text, str) or len(text) > MAX_LENGTH:
        return None
    s = text.strip()
    sign = 1
    if s[:1] in "+-" and s:
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return Fraction(0)
    if not s:
        return None
    total = Fraction(0)
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None:
            return None
        total += Fraction(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def format_duration(seconds: Fraction) -> str:
    """Go's ``time.Duration.String()``: ``1h0m5s``, ``1.5s``, ``250ms``, ``0s``."""
    nanos = int(seconds * 10**9)
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 10**9:
        for unit, size in (("ms", 10**6), ("µs", 10**3), ("ns", 1)):
            if nanos >= size:
                return f"{sign}{_trim(Fraction(nanos, size))}{unit}"
    hours, rest = divmod(nanos, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    secs = _trim(Fraction(rest, 10**9))
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"


def _trim(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    text = f"{float(value):.9f}".rstrip("0").rstrip(".")
    return text


@lru_cache(maxsize=1024)
def parse_semver(text: str) -> tuple[int, int, int, tuple[str, ...]] | None:
    """``1.2.3-rc.1`` -> (1, 2, 3, ("rc", "1")); None when not a semantic version."""
    m = _SEMVER.match(text.strip()) if isinstance(text, str) and len(text) <= 2 * MAX_LENGTH else None
    if m is None:
        return None
    pre = tuple(m.group(4).split(".")) if m.group(4) else ()
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), pre


def compare_semver(a: tuple[int, int, int, tuple[str, ...]], b: tuple[int, int, int, tuple[str, ...]]) -> int:
    """-1, 0 or 1 by semver precedence (a pre-release sorts before its release)."""
    if a[:3] != b[:3]:
        return -1 if a[:3] < b[:3] else 1
    pa, pb = a[3], b[3]
    if pa == pb:
        return 0
    if not pa:
        return 1
    if not pb:
        return -1
    for x, y in zip(pa, pb, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit() != y.isdigit():
            return -1 if x.isdigit() else 1
        return -1 if x < y else 1
    return -1 if len(pa) < len(pb) else 1


_RANGE_PART = re.compile(r"^(>=|<=|!=|==|=|>|<)?\s*(\S+)$")


def semver_in_range(version: str, spec: str) -> bool:
    """``semver_compare``: a version against ranges like ``>=1.0.0 <2.0.0 || 3.x``; ValueError
    when either side cannot be read."""
    parsed = parse_semver(version)
    if parsed is None:
        raise ValueError(f"{version!r} is not a semantic version")
    for alternative in spec.split("||"):
        parts = alternative.split()
        if not parts:
            raise ValueError(f"empty range in {spec!r}")
        if all(_satisfies(parsed, part) for part in parts):
            return True
    return False


def _satisfies(version: tuple[int, int, int, tuple[str, ...]], part: str) -> bool:
    m = _RANGE_PART.match(part)
    if m is None:
        raise ValueError(f"bad range {part!r}")
    op, target = m.group(1) or "=", m.group(2)
    if any(x in target.split(".") for x in ("x", "X", "*")):
        numbers = target.lstrip("v").split(".")
        for i, piece in enumerate(numbers[:3]):
            if piece in ("x", "X", "*"):
                break
            if not piece.isdigit() or version[i] != int(piece):
                return op in ("!=",)
        return op not in ("!=",)
    wanted = parse_semver(target)
    if wanted is None:
        raise ValueError(f"{target!r} is not a semantic version")
    c = compare_semver(version, wanted)
    return {"=": c == 0, "==": c == 0, "!=": c != 0, ">": c > 0, "<": c < 0, ">=": c >= 0, "<=": c <= 0}[op]
