"""Kubernetes' format library: ``format.<name>()``, ``format.named(name)`` and ``<Format>.validate(s)``.

Each format checks a string as Kubernetes' own validation does (apimachinery's name and label
rules, kube-openapi's ``uri``/``uuid``/``byte``/``date``/``datetime``) and gives the same error
texts. ``validate`` returns an optional list of errors and ``format.named`` an optional Format;
the runtime cannot build optional values from Python, so ``gatekeeper.cel.rewrite`` evaluates
``x.validate(s)`` as ``x.CHECK(s)[?"errors"]`` and ``format.named(n)`` as ``NAMED(n)[?"format"]``:
a map holding the key when there is a value, empty when there is none, and CEL's optional
index does the rest. The names as written stay declared for the type check of the expression
the author wrote (so compile errors point at their text).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from collections.abc import Callable
from typing import Any, NoReturn

from gatekeeper.cel import types
from gatekeeper.cel.lib import Library, glob, member
from gatekeeper.cel.lib.urls import parse as parse_url
from gatekeeper.cel.rewrite import FORMAT_CHECK, FORMAT_NAMED

CHECK = FORMAT_CHECK  # a member function: Format.CHECK(string) -> map<string, list<string>>
NAMED = FORMAT_NAMED  # NAMED(string) -> map<string, Format>

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _LABEL + "(\\." + _LABEL + ")*"
_DNS1035 = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QNAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _QNAME + ")?"
_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
              "start and end with an alphanumeric character")
_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                  "and must start and end with an alphanumeric character")
_DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character")
_QNAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
              "alphanumeric character")
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                    "and must start and end with an alphanumeric character")
_UUID = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\Z")
_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")
_TIME = re.compile(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))\Z")


def _full(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(f"^(?:{pattern})\\Z")
    return lambda text: compiled.match(text) is not None


_is_label, _is_subdomain, _is_1035, _is_qname, _is_label_value = map(
    _full, (_LABEL, _SUBDOMAIN, _DNS1035, _QNAME, _LABEL_VALUE))


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))  # Go measures bytes


def _too_long(limit: int) -> str:
    return f"must be no more than {limit} characters"


def _regex_error(message: str, pattern: str, *examples: str) -> str:
    """apimachinery's RegexError text."""
    if not examples:
        return f"{message} (regex used for validation is '{pattern}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{pattern}')"


def dns1123_label(text: str) -> list[str]:
    errors = [_too_long(63)] if _size(text) > 63 else []
    if not _is_label(text):
        errors.append("must not contain dots" if _is_subdomain(text)
                      else _regex_error(_LABEL_MSG, _LABEL, "my-name", "123-abc"))
    return errors


def dns1123_subdomain(text: str) -> list[str]:
    errors = [_too_long(253)] if _size(text) > 253 else []
    if not _is_subdomain(text):
        errors.append(_regex_error(_SUBDOMAIN_MSG, _SUBDOMAIN, "example.com"))
    return errors


def dns1035_label(text: str) -> list[str]:
    errors = [_too_long(63)] if _size(text) > 63 else []
    if not _is_1035(text):
        errors.append(_regex_error(_DNS1035_MSG, _DNS1035, "my-name", "abc-123"))
    return errors


def _mask_trailing_dash(text: str) -> str:
    """apimachinery's maskTrailingDash: a prefix may end in '-' (a generated suffix follows); as
    Kubernetes does, the last two characters become one 'a'."""
    return text[:-2] + "a" if len(text) > 1 and text.endswith("-") else text


def qualified_name(text: str) -> list[str]:
    errors: list[str] = []
    parts = text.split("/")
    if len(parts) > 2:
        return [f"a qualified name {_regex_error(_QNAME_MSG, _QNAME, 'MyName', 'my.name', '123-abc')} with an "
                "optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    name = parts[-1]
    if len(parts) == 2:
        if not parts[0]:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + e for e in dns1123_subdomain(parts[0]))
    if not name:
        errors.append("name part must be non-empty")
    elif _size(name) > 63:
        errors.append("name part " + _too_long(63))
    if not _is_qname(name):
        errors.append("name part " + _regex_error(_QNAME_MSG, _QNAME, "MyName", "my.name", "123-abc"))
    return errors


def label_value(text: str) -> list[str]:
    errors = [_too_long(63)] if _size(text) > 63 else []
    if not _is_label_value(text):
        errors.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE, "MyValue", "my_value", "12345"))
    return errors


def uri(text: str) -> list[str]:
    """Go's ``url.ParseRequestURI`` error, as ``parse "<text>": <reason>``."""
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if not text:
        return [f"parse {quoted}: empty url"]
    try:
        parse_url(text)
    except ValueError as exc:
        reason = str(exc).removeprefix("parse: ")
        return [f"parse {quoted}: {reason}"]
    return []


def _date(text: str) -> bool:
    m = _DATE.match(text)
    if m is None:
        return False
    try:
        datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return False
    return True


def _datetime(text: str) -> bool:
    """kube-openapi's IsDateTime: a date, 't' (any case), then a time with a zone."""
    if len(text) < 4:
        return False
    parts = text.lower().split("t")
    if len(parts) < 2 or not _date(parts[0]):
        return False
    m = _TIME.match(parts[1])
    return m is not None and m.group(1) <= "23" and m.group(2) <= "59" and m.group(3) <= "59"


def _byte(text: str) -> bool:
    """Go's base64.StdEncoding.DecodeString: padded standard alphabet; CR and LF are skipped."""
    try:
        base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


FORMATS: dict[str, Callable[[str], list[str]]] = {
    "dns1123Label": dns1123_label,
    "dns1123Subdomain": dns1123_subdomain,
    "dns1035Label": dns1035_label,
    "qualifiedName": qualified_name,
    "dns1123LabelPrefix": lambda s: dns1123_label(_mask_trailing_dash(s)),
    "dns1123SubdomainPrefix": lambda s: dns1123_subdomain(_mask_trailing_dash(s)),
    "dns1035LabelPrefix": lambda s: dns1035_label(_mask_trailing_dash(s)),
    "labelValue": label_value,
    "uri": uri,
    "uuid": lambda s: [] if _UUID.match(s) else ["does not match the UUID format"],
    "byte": lambda s: [] if _byte(s) else ["invalid base64"],
    "date": lambda s: [] if _date(s) else ["invalid date"],
    "datetime": lambda s: [] if _datetime(s) else ["invalid datetime"],
}


def _refuse(*_args: Any) -> NoReturn:
    raise ValueError("the format library is evaluated through its rewrite")


def _check(fmt: Any, text: str) -> dict[str, list[str]]:
    errors = FORMATS[fmt.value](text)
    return {"errors": errors} if errors else {}


def _named(name: str) -> dict[str, Any]:
    return {"format": types.make("Format", name)} if name in FORMATS else {}


def _constant(name: str) -> Callable[[], Any]:
    return lambda: types.make("Format", name)


LIBRARY = Library("kubernetes.format", (
    *(glob(f"format.{name}", (f"format_{name}", (), "Format", _constant(name))) for name in FORMATS),
    # as written, for the author's expression's type check; evaluated through the rewrite
    glob("format.named", ("format_named", ("string",), "dyn", _refuse)),
    member("validate", ("format_validate", ("Format", "string"), "dyn", _refuse)),
    member(CHECK, ("format_check", ("Format", "string"), "map<string, list<string>>", _check)),
    glob(NAMED, ("format_named_map", ("string",), "map<string, Format>", _named)),
))
