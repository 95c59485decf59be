"""Flux's post-build variable substitution (``spec.postBuild``), as kustomize-controller applies it.

Flux serialises each rendered object to YAML, replaces ``${var}`` references in the text with the
variables of ``postBuild.substitute`` and ``substituteFrom`` and parses the result again, so a
``replicas: ${REPLICAS}`` becomes the integer the variable spells. The rules followed here:

- ``${var}`` is replaced; ``$var`` (no braces) is left as it is; ``$${var}`` is the escape and
  yields the text ``${var}``;
- an undefined variable without a default becomes the empty string (Flux's default behaviour;
  with the ``StrictPostBuildSubstitutions`` feature gate the reconciliation fails instead), and is
  reported so the author sees it;
- ``${var:=default}`` and ``${var:-default}`` use the default when the variable is unset or empty,
  ``${var=default}`` and ``${var-default}`` when it is unset; the default may hold references too;
- the bash-like forms of the library Flux uses work as well: ``${#var}`` (length), ``${var:pos}``
  and ``${var:pos:len}`` (substring), ``${var/a/b}`` and ``${var//a/b}`` (replace first / all),
  ``${var#p}``/``${var##p}`` and ``${var%p}``/``${var%%p}`` (strip a literal prefix/suffix),
  ``${var^}``, ``${var^^}``, ``${var,}``, ``${var,,}`` (case);
- an object annotated or labelled ``kustomize.toolkit.fluxcd.io/substitute: disabled`` is skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DISABLE_KEY = "kustomize.toolkit.fluxcd.io/substitute"
NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
VALID_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")


class SubstitutionError(ValueError):
    """A reference the substitution cannot evaluate (an unclosed brace, an unknown operator)."""


@dataclass(slots=True)
class Result:
    """The substituted text, the variables it read and those it found undefined."""

    text: str
    used: list[str] = field(default_factory=list)  # defined variables whose value was inserted
    undefined: list[str] = field(default_factory=list)  # referenced, undefined, no default
    defaulted: list[str] = field(default_factory=list)  # undefined (or empty), the default applied


def has_references(text: str) -> bool:
    """True when the text holds something the substitution would change."""
    return "${" in text


def substitute(text: str, variables: dict[str, str]) -> Result:
    """Replace every reference in ``text`` (see the module doc); raises SubstitutionError."""
    result = Result("")
    result.text = _expand(text, variables, result)
    return result


def _expand(text: str, variables: dict[str, str], result: Result) -> str:
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        j = text.find("$", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        if text.startswith("$${", j):  # the escape: the text ``${`` and whatever follows, as written
            out.append("${")
            i = j + 3
            continue
        if not text.startswith("${", j):
            out.append("$")
            i = j + 1
            continue
        end = _closing(text, j + 2)
        if end < 0:
            raise SubstitutionError(f"unclosed reference {text[j:j + 40]!r}")
        out.append(_evaluate(text[j + 2:end], variables, result))
        i = end + 1
    return "".join(out)


def _closing(text: str, start: int) -> int:
    """The index of the ``}`` that closes a reference whose body starts at ``start`` (-1: none)."""
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        elif text[i] == "\n":
            return -1
        i += 1
    return -1


def _evaluate(body: str, variables: dict[str, str], result: Result) -> str:
    if body.startswith("#") and VALID_NAME.match(body[1:]):
        value = _lookup(body[1:], variables, result)
        return str(len(value or ""))
    found = NAME.match(body)
    if found is None:
        raise SubstitutionError(f"bad substitution '${{{body}}}'")
    name, op = found.group(), body[found.end():]
    defined = name in variables
    value = variables.get(name)
    if op[:2] in (":=", ":-") or op[:1] in ("=", "-"):
        colon = op.startswith(":")
        default = op[2:] if colon else op[1:]
        if not defined or (colon and value == ""):
            result.defaulted.append(name)
            return _expand(default, variables, result)
        result.used.append(name)
        return value or ""
    if not op:
        if not defined:
            result.undefined.append(name)
            return ""
        result.used.append(name)
        return value or ""
    current = _lookup(name, variables, result) or ""
    return _operate(current, op, body)


def _lookup(name: str, variables: dict[str, str], result: Result) -> str | None:
    if name in variables:
        result.used.append(name)
        return variables[name]
    result.undefined.append(name)
    return None


def _operate(value: str, op: str, body: str) -> str:
    """The bash-like operators on a variable's value."""
    if op in ("^", "^^", ",", ",,"):
        if op == "^":
            return value[:1].upper() + value[1:]
        if op == "^^":
            return value.upper()
        if op == ",":
            return value[:1].lower() + value[1:]
        return value.lower()
    if op.startswith(":"):
        parts = op[1:].split(":")
        try:
            pos = int(parts[0].strip() or "0")
            length = int(parts[1]) if len(parts) > 1 else None
        except ValueError:
            raise SubstitutionError(f"bad substitution '${{{body}}}'") from None
        if pos < 0:
            pos = max(len(value) + pos, 0)
        return value[pos:] if length is None else value[pos:pos + length]
    if op.startswith("/"):
        every = op.startswith("//")
        pattern, _, replacement = op[2 if every else 1:].partition("/")
        if not pattern:
            return value
        return value.replace(pattern, replacement) if every else value.replace(pattern, replacement, 1)
    if op.startswith("#"):
        prefix = op.lstrip("#")
        return value[len(prefix):] if prefix and value.startswith(prefix) else value
    if op.startswith("%"):
        suffix = op.lstrip("%")
        return value[:-len(suffix)] if suffix and value.endswith(suffix) else value
    raise SubstitutionError(f"bad substitution '${{{body}}}'")
