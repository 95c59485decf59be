"""Kyverno's custom JMESPath functions, registered on the ``jmespath`` library.

Each function follows Kyverno's documented inputs and outputs (strings, arithmetic on numbers,
quantities and durations, time, semver, regex, base64, parse_json/parse_yaml, items,
object_from_lists, label_match, lookup, truncate, x509_decode...). Regular expressions run on
RE2, as Kyverno's Go engine does: linear time, no catastrophic backtracking.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import ipaddress
import posixpath
import random as _random
import re
import string
from fractions import Fraction
from typing import Any
from urllib.parse import urlparse

import re2
from jmespath import exceptions, functions

from gatekeeper.kyverno import quantities as q
from gatekeeper.kyverno import timefmt, wildcard
from gatekeeper.kyverno.images import normalize as image_normalize
from gatekeeper.sources import yamlload

_S = {"types": ["string"]}
_N = {"types": ["number"]}
_SN = {"types": ["string", "number"]}
_ANY: dict[str, list[str]] = {"types": []}


class FunctionError(exceptions.JMESPathError):
    """A Kyverno function was called with a value it cannot handle."""


def _fail(name: str, message: str) -> FunctionError:
    return FunctionError(f"JMESPath function '{name}': {message}")


def _text(value: Any) -> str:
    """Kyverno's string form of a scalar argument (numbers without a trailing .0)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)


# --- arithmetic: numbers, quantities ('1Gi') and durations ('1h') ------------------------------

class _Operand:
    __slots__ = ("binary", "kind", "value")

    def __init__(self, kind: str, value: Fraction, binary: bool = False) -> None:
        self.kind, self.value, self.binary = kind, value, binary


def _operand(name: str, raw: Any) -> _Operand:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return _Operand("number", Fraction(raw))
    if isinstance(raw, str):
        quantity = q.parse_quantity(raw)
        if quantity is not None:
            return _Operand("quantity", quantity, q.is_binary_quantity(raw))
        duration = q.parse_duration(raw)
        if duration is not None:
            return _Operand("duration", duration)
    raise _fail(name, f"{raw!r} is not a number, quantity or duration")


def _result(kind: str, value: Fraction, binary: bool) -> Any:
    if kind == "quantity":
        return q.format_quantity(value, binary)
    if kind == "duration":
        return q.format_duration(value)
    return _number(value)


def _additive(name: str, a: Any, b: Any, sign: int) -> Any:
    x, y = _operand(name, a), _operand(name, b)
    kinds = {x.kind, y.kind}
    if kinds == {"quantity", "duration"}:
        raise _fail(name, "cannot combine a quantity and a duration")
    kind = "quantity" if "quantity" in kinds else "duration" if "duration" in kinds else "number"
    return _result(kind, x.value + sign * y.value, x.binary or y.binary)


def _multiply(a: Any, b: Any) -> Any:
    x, y = _operand("multiply", a), _operand("multiply", b)
    if x.kind != "number" and y.kind != "number":
        raise _fail("multiply", "at least one argument must be a number")
    kind = x.kind if x.kind != "number" else y.kind
    return _result(kind, x.value * y.value, x.binary or y.binary)


def _divide(name: str, a: Any, b: Any) -> Any:
    x, y = _operand(name, a), _operand(name, b)
    if y.value == 0:
        raise _fail(name, "Zero divisor passed")
    if x.kind == "number" and y.kind != "number":
        raise _fail(name, "a number cannot be divided by a quantity or duration")
    if x.kind != "number" and y.kind != "number" and x.kind != y.kind:
        raise _fail(name, "cannot divide a quantity by a duration")
    if name == "modulo":
        if (x.value.denominator != 1 or y.value.denominator != 1) and x.kind == "number":
            raise _fail(name, "Non-integer argument(s) passed for modulo")
        rest = x.value - y.value * (x.value / y.value).__trunc__()
        return _result(x.kind if x.kind == y.kind or y.kind == "number" else "number", rest, x.binary)
    quotient = x.value / y.value
    if x.kind == y.kind:
        return _number(quotient)
    return _result(x.kind, quotient, x.binary)


def _time(name: str, text: Any) -> dt.datetime:
    try:
        return timefmt.parse_rfc3339(str(text))
    except ValueError as exc:
        raise _fail(name, str(exc)) from None


def _go_replacement(template: str) -> str:
    """Go's ``$1`` / ``${name}`` replacement syntax in RE2-Python's ``\\g<...>`` form."""
    out: list[str] = []
    i = 0
    while i < len(template):
        c = template[i]
        if c == "\\":
            out.append("\\\\")
        elif c == "$" and i + 1 < len(template):
            nxt = template[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            m = re.match(r"\{(\w+)\}|(\w+)", template[i + 1:])
            if m is not None:
                out.append(f"\\g<{m.group(1) or m.group(2)}>")
                i += 1 + m.end()
                continue
            out.append("$")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _regex(name: str, pattern: str) -> Any:
    try:
        return re2.compile(pattern)
    except re2.error as exc:
        raise _fail(name, f"invalid regular expression: {exc}") from None


def _random_from(pattern: str) -> str:
    """A random string for a simple regular expression: literals, classes and {n} counts."""
    out: list[str] = []
    i = 0
    rng = _random.SystemRandom()
    while i < len(pattern):
        if pattern[i] == "[":
            end = pattern.find("]", i)
            if end < 0:
                raise _fail("random", f"unsupported pattern {pattern!r}")
            chars = _expand_class(pattern[i + 1:end])
            i = end + 1
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            chars = {"d": string.digits, "w": string.ascii_letters + string.digits + "_"}.get(
                pattern[i + 1], pattern[i + 1])
            i += 2
        elif pattern[i] in "^$":
            i += 1
            continue
        else:
            chars = pattern[i]
            i += 1
        count = 1
        m = re.match(r"\{(\d+)\}", pattern[i:])
        if m is not None:
            count = int(m.group(1))
            i += m.end()
        out.extend(rng.choice(chars) for _ in range(min(count, 4096)))
    return "".join(out)


def _expand_class(body: str) -> str:
    chars: list[str] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            chars.extend(chr(c) for c in range(ord(body[i]), ord(body[i + 2]) + 1))
            i += 3
        else:
            chars.append(body[i])
            i += 1
    if not chars:
        raise _fail("random", "empty character class")
    return "".join(chars)


def _x509(pem: str) -> dict[str, Any]:
    try:
        from cryptography import x509
    except ImportError:  # pragma: no cover - cryptography ships with the kyverno extra
        raise _fail("x509_decode", "needs the 'cryptography' package") from None
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise _fail("x509_decode", f"not a PEM certificate: {exc}") from None

    def name(n: Any) -> dict[str, Any]:
        attrs: dict[str, list[str]] = {}
        for attr in n:
            attrs.setdefault(attr.oid._name, []).append(str(attr.value))
        out: dict[str, Any] = {"CommonName": (attrs.get("commonName") or [""])[0]}
        for key, field in (("Country", "countryName"), ("Organization", "organizationName"),
                           ("OrganizationalUnit", "organizationalUnitName"), ("Locality", "localityName"),
                           ("Province", "stateOrProvinceName")):
            out[key] = attrs.get(field)
        return out
    sans: list[str] = []
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        sans = [str(v) for v in ext.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        pass
    return {"Version": cert.version.value + 1, "SerialNumber": cert.serial_number,
            "Issuer": name(cert.issuer), "Subject": name(cert.subject),
            "NotBefore": timefmt.format_rfc3339(cert.not_valid_before_utc),
            "NotAfter": timefmt.format_rfc3339(cert.not_valid_after_utc),
            "DNSNames": sans or None, "SignatureAlgorithm": cert.signature_algorithm_oid._name,
            "PublicKeyAlgorithm": type(cert.public_key()).__name__.replace("PublicKey", "").lstrip("_")}


class KyvernoFunctions(functions.Functions):
    """The JMESPath built-ins plus Kyverno's custom functions."""

    # strings
    @functions.signature(_S, _S)
    def _func_compare(self, a: str, b: str) -> int:
        return (a > b) - (a < b)

    @functions.signature(_S, _S)
    def _func_equal_fold(self, a: str, b: str) -> bool:
        return a.casefold() == b.casefold()

    @functions.signature(_S, _S, _S, _N)
    def _func_replace(self, s: str, old: str, new: str, n: float) -> str:
        return s.replace(old, new, int(n)) if int(n) >= 0 else s.replace(old, new)

    @functions.signature(_S, _S, _S)
    def _func_replace_all(self, s: str, old: str, new: str) -> str:
        return s.replace(old, new)

    @functions.signature(_S)
    def _func_to_upper(self, s: str) -> str:
        return s.upper()

    @functions.signature(_S)
    def _func_to_lower(self, s: str) -> str:
        return s.lower()

    @functions.signature(_S, _S)
    def _func_trim(self, s: str, cutset: str) -> str:
        return s.strip(cutset)

    @functions.signature(_S, _S)
    def _func_trim_prefix(self, s: str, prefix: str) -> str:
        return s[len(prefix):] if prefix and s.startswith(prefix) else s

    @functions.signature(_S, _S)
    def _func_split(self, s: str, sep: str) -> list[str]:
        return list(s) if sep == "" else s.split(sep)

    @functions.signature(_S, _N)
    def _func_truncate(self, s: str, length: float) -> str:
        if length < 0:
            raise _fail("truncate", "length must not be negative")
        return s[: int(length)]

    @functions.signature(_S)
    def _func_path_canonicalize(self, path: str) -> str:
        if not path:
            return "."
        clean = posixpath.normpath(path)
        return "/" + clean.lstrip("/") if clean.startswith("//") else clean

    @functions.signature(_S)
    def _func_sha256(self, s: str) -> str:
        return hashlib.sha256(s.encode()).hexdigest()

    @functions.signature(_S)
    def _func_to_boolean(self, s: str) -> bool:
        low = s.strip().lower()
        if low in ("true", "false"):
            return low == "true"
        raise _fail("to_boolean", f"{s!r} is not a boolean")

    # regex and wildcards
    @functions.signature(_S, _SN)
    def _func_regex_match(self, pattern: str, value: Any) -> bool:
        return _regex("regex_match", pattern).search(_text(value)) is not None

    @functions.signature(_S, _SN, _SN)
    def _func_regex_replace_all(self, pattern: str, src: Any, repl: Any) -> str:
        return str(_regex("regex_replace_all", pattern).sub(_go_replacement(_text(repl)), _text(src)))

    @functions.signature(_S, _SN, _SN)
    def _func_regex_replace_all_literal(self, pattern: str, src: Any, repl: Any) -> str:
        literal = _text(repl)
        return str(_regex("regex_replace_all_literal", pattern).sub(lambda _m: literal, _text(src)))

    @functions.signature(_S, _SN)
    def _func_pattern_match(self, pattern: str, value: Any) -> bool:
        return wildcard.match(pattern, _text(value))

    # arithmetic
    @functions.signature(_SN, _SN)
    def _func_add(self, a: Any, b: Any) -> Any:
        return _additive("add", a, b, 1)

    @functions.signature(_SN, _SN)
    def _func_subtract(self, a: Any, b: Any) -> Any:
        return _additive("subtract", a, b, -1)

    @functions.signature(_SN, _SN)
    def _func_multiply(self, a: Any, b: Any) -> Any:
        return _multiply(a, b)

    @functions.signature(_SN, _SN)
    def _func_divide(self, a: Any, b: Any) -> Any:
        return _divide("divide", a, b)

    @functions.signature(_SN, _SN)
    def _func_modulo(self, a: Any, b: Any) -> Any:
        return _divide("modulo", a, b)

    @functions.signature(_N, _N)
    def _func_round(self, value: float, digits: float) -> Any:
        if digits != int(digits) or digits < 0:
            raise _fail("round", "digits must be a non-negative integer")
        rounded = Fraction(value).limit_denominator(10**12)
        factor = Fraction(10) ** int(digits)
        scaled = rounded * factor
        whole = int(scaled + Fraction(1, 2)) if scaled >= 0 else -int(-scaled + Fraction(1, 2))
        return _number(Fraction(whole) / factor)

    @functions.signature({"types": ["array"]})
    def _func_sum(self, items: list[Any]) -> Any:
        if not items:
            return 0
        total: Any = items[0]
        for item in items[1:]:
            total = _additive("sum", total, item, 1)
        if isinstance(total, (int, float)) and not isinstance(total, bool):
            return total
        _operand("sum", total)
        return total

    # encodings
    @functions.signature(_S)
    def _func_base64_decode(self, s: str) -> str:
        try:
            return base64.b64decode(s, validate=True).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError) as exc:
            raise _fail("base64_decode", f"illegal base64 data: {exc}") from None

    @functions.signature(_S)
    def _func_base64_encode(self, s: str) -> str:
        return base64.b64encode(s.encode()).decode()

    @functions.signature(_S)
    def _func_parse_json(self, s: str) -> Any:
        try:
            return yamlload.load_json_value(s)
        except ValueError as exc:
            raise _fail("parse_json", f"invalid JSON: {exc}") from None

    @functions.signature(_S)
    def _func_parse_yaml(self, s: str) -> Any:
        try:
            return yamlload.load_value(s)
        except ValueError as exc:
            raise _fail("parse_yaml", f"invalid YAML: {exc}") from None

    @functions.signature(_S)
    def _func_x509_decode(self, s: str) -> Any:
        return _x509(s)

    # objects and arrays
    @functions.signature({"types": ["object", "array"]}, _S, _S)
    def _func_items(self, source: Any, key_name: str, value_name: str) -> list[dict[str, Any]]:
        if isinstance(source, dict):
            return [{key_name: k, value_name: source[k]} for k in sorted(source)]
        return [{key_name: i, value_name: v} for i, v in enumerate(source)]

    @functions.signature({"types": ["array"]}, {"types": ["array"]})
    def _func_object_from_lists(self, keys: list[Any], values: list[Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i, key in enumerate(keys):
            if not isinstance(key, str):
                raise _fail("object_from_lists", "keys must be strings")
            out[key] = values[i] if i < len(values) else None
        return out

    @functions.signature({"types": ["object"]}, {"types": ["object"]})
    def _func_label_match(self, selector: dict[str, Any], labels: dict[str, Any]) -> bool:
        return all(k in labels and labels[k] == v for k, v in selector.items())

    @functions.signature({"types": ["object", "array"]}, {"types": ["string", "number"]})
    def _func_lookup(self, collection: Any, key: Any) -> Any:
        if isinstance(collection, dict):
            if not isinstance(key, str):
                raise _fail("lookup", "an object is looked up by a string key")
            return collection.get(key)
        if isinstance(key, str) or key != int(key):
            raise _fail("lookup", "an array is looked up by an integer index")
        index = int(key)
        return collection[index] if 0 <= index < len(collection) else None

    # semver
    @functions.signature(_S, _S)
    def _func_semver_compare(self, version: str, spec: str) -> bool:
        try:
            return q.semver_in_range(version, spec)
        except ValueError as exc:
            raise _fail("semver_compare", str(exc)) from None

    # images and URLs
    @functions.signature(_S)
    def _func_image_normalize(self, image: str) -> str:
        try:
            return image_normalize(image)
        except ValueError as exc:
            raise _fail("image_normalize", str(exc)) from None

    @functions.signature(_S)
    def _func_is_external_url(self, url: str) -> bool:
        host = urlparse(url).hostname
        if not host:
            raise _fail("is_external_url", f"{url!r} has no host")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise _fail("is_external_url", f"deciding whether {host!r} is external needs a DNS lookup, "
                        "which is not done offline") from None
        return not (address.is_private or address.is_loopback or address.is_link_local
                    or address.is_unspecified)

    @functions.signature(_S)
    def _func_random(self, pattern: str) -> str:
        return _random_from(pattern)

    # time
    @functions.signature()
    def _func_time_now(self) -> str:
        return timefmt.format_rfc3339(dt.datetime.now(dt.timezone.utc).replace(microsecond=0))

    @functions.signature()
    def _func_time_now_utc(self) -> str:
        return timefmt.format_rfc3339(dt.datetime.now(dt.timezone.utc).replace(microsecond=0))

    @functions.signature(_S)
    def _func_time_utc(self, t: str) -> str:
        return timefmt.format_rfc3339(_time("time_utc", t).astimezone(dt.timezone.utc))

    @functions.signature(_S, _S)
    def _func_time_add(self, t: str, duration: str) -> str:
        seconds = q.parse_duration(duration)
        if seconds is None:
            raise _fail("time_add", f"{duration!r} is not a duration")
        return timefmt.format_rfc3339(_time("time_add", t) + dt.timedelta(seconds=float(seconds)))

    @functions.signature(_S, _S)
    def _func_time_diff(self, t1: str, t2: str) -> str:
        delta = _time("time_diff", t2) - _time("time_diff", t1)
        return q.format_duration(Fraction(delta.days * 86400 + delta.seconds) + Fraction(delta.microseconds, 10**6))

    @functions.signature(_S, _S)
    def _func_time_before(self, t1: str, t2: str) -> bool:
        return _time("time_before", t1) < _time("time_before", t2)

    @functions.signature(_S, _S)
    def _func_time_after(self, t1: str, t2: str) -> bool:
        return _time("time_after", t1) > _time("time_after", t2)

    @functions.signature(_S, _S, _S)
    def _func_time_between(self, t: str, start: str, end: str) -> bool:
        value = _time("time_between", t)
        return _time("time_between", start) < value < _time("time_between", end)

    @functions.signature(_S, _S)
    def _func_time_truncate(self, t: str, duration: str) -> str:
        seconds = q.parse_duration(duration)
        if seconds is None or seconds < 0:
            raise _fail("time_truncate", f"{duration!r} is not a duration")
        value = _time("time_truncate", t)
        if seconds == 0:
            return timefmt.format_rfc3339(value)
        zero = dt.datetime(1, 1, 1, tzinfo=value.tzinfo)
        elapsed = value - zero
        total = Fraction(elapsed.days * 86400 + elapsed.seconds) + Fraction(elapsed.microseconds, 10**6)
        kept = (total // seconds) * seconds
        return timefmt.format_rfc3339(zero + dt.timedelta(seconds=float(kept)))

    @functions.signature(_S)
    def _func_time_to_cron(self, t: str) -> str:
        value = _time("time_to_cron", t)
        return f"{value.minute} {value.hour} {value.day} {value.month} {(value.weekday() + 1) % 7}"

    @functions.signature(_S, _SN)
    def _func_time_parse(self, layout: str, value: Any) -> str:
        if layout.isdigit() or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            try:
                parsed = dt.datetime.fromtimestamp(float(value), dt.timezone.utc)
            except (ValueError, OverflowError) as exc:
                raise _fail("time_parse", str(exc)) from None
            return timefmt.format_rfc3339(parsed)
        try:
            return timefmt.format_rfc3339(timefmt.parse_layout(layout, str(value)))
        except ValueError as exc:
            raise _fail("time_parse", str(exc)) from None

    @functions.signature(_S, _S, _S)
    def _func_time_since(self, layout: str, t1: str, t2: str) -> str:
        try:
            start = timefmt.parse_layout(layout, t1)
            end = timefmt.parse_layout(layout, t2) if t2 else dt.datetime.now(dt.timezone.utc)
        except ValueError as exc:
            raise _fail("time_since", str(exc)) from None
        delta = end - start
        return q.format_duration(Fraction(delta.days * 86400 + delta.seconds) + Fraction(delta.microseconds, 10**6))


NAMES = sorted(name[len("_func_"):] for name in dir(KyvernoFunctions) if name.startswith("_func_"))
