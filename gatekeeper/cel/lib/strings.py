"""CEL's extended strings library (version 2, as Kubernetes enables it), implemented here.

The engine's own strings extension mis-handles ``substring(start, end)`` when ``end`` is the
string's length, and an environment cannot carry two declarations of one function, so the whole
library is provided in Python: ``charAt``, ``indexOf``, ``lastIndexOf``, ``lowerAscii``,
``upperAscii``, ``replace``, ``split``, ``substring``, ``trim``, ``join``, ``strings.quote``
and ``format``. Indexes count code points, as CEL does.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from gatekeeper.cel.lib import Library, glob, member

_MAX_RESULT = 1 << 22  # characters one call may build (a replace/join/format that explodes is an error)


def _check_size(text: str) -> str:
    if len(text) > _MAX_RESULT:
        raise ValueError("string result too large")
    return text


def _char_at(s: str, i: int) -> str:
    if i < 0 or i > len(s):
        raise ValueError(f"index out of range: {i}")
    return s[i:i + 1]


def _index_of(s: str, sub: str, offset: int = 0) -> int:
    if offset < 0 or offset > len(s):
        raise ValueError(f"index out of range: {offset}")
    return s.find(sub, offset)


def _last_index_of(s: str, sub: str, offset: int | None = None) -> int:
    if offset is None:
        return s.rfind(sub)
    if offset < 0 or offset > len(s):
        raise ValueError(f"index out of range: {offset}")
    return s.rfind(sub, 0, offset + len(sub))


def _ascii(s: str, upper: bool) -> str:
    table = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ") if upper else \
        str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
    return s.translate(table)


def _replace(s: str, old: str, new: str, n: int = -1) -> str:
    if n == 0:
        return s
    return _check_size(s.replace(old, new, n if n > 0 else -1))


def _split(s: str, sep: str, n: int = -1) -> list[str]:
    if n == 0:
        return []
    if sep == "":
        chars = list(s)
        if 0 < n < len(chars):
            return [*chars[:n - 1], "".join(chars[n - 1:])]
        return chars
    return s.split(sep, n - 1) if n > 0 else s.split(sep)


def _substring(s: str, start: int, end: int | None = None) -> str:
    stop = len(s) if end is None else end
    if start < 0 or start > len(s):
        raise ValueError(f"index out of range: {start}")
    if stop < 0 or stop > len(s):
        raise ValueError(f"index out of range: {stop}")
    if start > stop:
        raise ValueError(f"invalid substring range. start: {start}, end: {stop}")
    return s[start:stop]


def _trim(s: str) -> str:
    return s.strip(" \t\n\v\f\r\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
                   "\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def _join(items: list[Any], sep: str = "") -> str:
    if not all(isinstance(x, str) for x in items):
        raise ValueError("join: list elements must be strings")
    return _check_size(sep.join(items))


def _quote(s: str) -> str:
    out = ['"']
    for c in s:
        code = ord(c)
        if c in '"\\':
            out.append("\\" + c)
        elif c in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                        "\v": "\\v"}[c])
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _double_text(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    text = repr(v)
    if "e" in text:
        mantissa, _, exp = text.partition("e")
        sign = exp[0] if exp[0] in "+-" else "+"
        digits = exp.lstrip("+-").rjust(2, "0")
        return f"{mantissa}e{sign}{digits}"
    return text[:-2] if text.endswith(".0") else text


def _duration_text(d: datetime.timedelta) -> str:
    total = d.days * 86400 + d.seconds
    micros = d.microseconds
    if micros:
        frac = f"{micros:06d}".rstrip("0")
        return f"{total}.{frac}s"
    return f"{total}s"


def _timestamp_text(t: datetime.datetime) -> str:
    if t.tzinfo is not None:
        t = t.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    text = t.isoformat()
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + "Z"


def as_string(v: Any) -> str:
    """The ``%s`` text of a value (CEL's string conversion; containers written out)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _double_text(v)
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, datetime.timedelta):
        return _duration_text(v)
    if isinstance(v, datetime.datetime):
        return _timestamp_text(v)
    if isinstance(v, list):
        return "[" + ", ".join(as_string(x) for x in v) + "]"
    if isinstance(v, dict):
        entries = sorted(((as_string(k), as_string(x)) for k, x in v.items()))
        return "{" + ", ".join(f"{k}: {x}" for k, x in entries) + "}"
    if getattr(v, "DESCRIPTOR", None) is not None:
        return str(getattr(v, "value", ""))
    if type(v).__name__ == "Type" and hasattr(v, "name"):
        return str(v.name()).lower()
    raise ValueError(f"no string conversion for {type(v).__name__}")


def _format_number(verb: str, v: Any, precision: int | None) -> str:
    if verb == "d":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError("decimal clause can only be used on integers, was given " + type(v).__name__)
        if isinstance(v, float):
            if math.isnan(v) or math.isinf(v):
                return _double_text(v)
            raise ValueError("decimal clause can only be used on integers, was given double")
        return str(v)
    if verb in "fe":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{'fixed-point' if verb == 'f' else 'scientific'} clause can only be used on "
                             f"doubles, was given {type(v).__name__}")
        v = float(v)
        if math.isnan(v) or math.isinf(v):
            return _double_text(v)
        return f"{v:.{6 if precision is None else precision}{verb}}"
    if verb in "box":
        base = {"b": "b", "o": "o", "x": "x"}[verb]
        if isinstance(v, bool):
            if verb != "b":
                raise ValueError("only integers, byte buffers, and strings can be formatted as hex")
            return "1" if v else "0"
        if isinstance(v, int):
            return ("-" if v < 0 else "") + format(abs(v), base)
        if verb == "x" and isinstance(v, str):
            return v.encode().hex()
        if verb == "x" and isinstance(v, (bytes, bytearray)):
            return bytes(v).hex()
        raise ValueError(f"{'binary' if verb == 'b' else 'octal' if verb == 'o' else 'hex'} clause cannot be "
                         f"used on {type(v).__name__}")
    raise ValueError(f'could not parse formatting clause: unrecognized formatting clause "{verb}"')


def _format(template: str, args: list[Any]) -> str:
    out: list[str] = []
    i, n, arg = 0, len(template), 0
    while i < n:
        c = template[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        i += 1
        if i < n and template[i] == "%":
            out.append("%")
            i += 1
            continue
        precision = None
        if i < n and template[i] == ".":
            j = i + 1
            while j < n and template[j].isdigit():
                j += 1
            if j == i + 1:
                raise ValueError("could not parse formatting clause: error while parsing precision")
            precision = int(template[i + 1:j])
            i = j
        if i >= n:
            raise ValueError("could not parse formatting clause: unexpected end of string")
        verb = template[i]
        i += 1
        if arg >= len(args):
            raise ValueError(f"index {arg} out of range")
        value = args[arg]
        arg += 1
        if verb == "s":
            out.append(as_string(value))
        elif verb == "X":
            out.append(_format_number("x", value, precision).upper())
        else:
            out.append(_format_number(verb, value, precision))
        _check_size("".join(out))
    return "".join(out)


LIBRARY = Library("strings.v2", (
    member("charAt", ("string_char_at_int", ("string", "int"), "string", _char_at)),
    member("indexOf", ("string_index_of_string", ("string", "string"), "int", _index_of),
           ("string_index_of_string_int", ("string", "string", "int"), "int", _index_of)),
    member("lastIndexOf", ("string_last_index_of_string", ("string", "string"), "int", _last_index_of),
           ("string_last_index_of_string_int", ("string", "string", "int"), "int", _last_index_of)),
    member("lowerAscii", ("string_lower_ascii", ("string",), "string", lambda s: _ascii(s, False))),
    member("upperAscii", ("string_upper_ascii", ("string",), "string", lambda s: _ascii(s, True))),
    member("replace", ("string_replace_string_string", ("string", "string", "string"), "string", _replace),
           ("string_replace_string_string_int", ("string", "string", "string", "int"), "string", _replace)),
    member("split", ("string_split_string", ("string", "string"), "list<string>", _split),
           ("string_split_string_int", ("string", "string", "int"), "list<string>", _split)),
    member("substring", ("string_substring_int", ("string", "int"), "string", _substring),
           ("string_substring_int_int", ("string", "int", "int"), "string", _substring)),
    member("trim", ("string_trim", ("string",), "string", _trim)),
    member("join", ("list_join", ("list<string>",), "string", _join),
           ("list_join_string", ("list<string>", "string"), "string", _join)),
    member("format", ("string_format", ("string", "list"), "string", _format)),
    glob("strings.quote", ("strings_quote", ("string",), "string", _quote)),
))
