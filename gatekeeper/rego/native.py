"""The one module that talks to regorus (Microsoft's Rego engine in Rust, PyPI ``gordon-to-regorus``).

Everything regorus-specific lives here: making an engine in the right syntax mode, parsing a
module to its AST, the deprecated OPA builtins regorus lacks (registered as extensions), the
set of builtins it provides, and turning its error text into ``file:line: message``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

# regorus makes its errors with anyhow, which captures and symbolises a Rust backtrace for every
# error when RUST_BACKTRACE is set (common on developer machines and in CI): 0.05-0.15 s of CPU
# per error, and the gate drops the backtrace from every message it reads (``parse_error``).
# RUST_LIB_BACKTRACE decides the capture for library errors only (panics still follow
# RUST_BACKTRACE); a value the user set is kept. Set before the first error the engine makes.
os.environ.setdefault("RUST_LIB_BACKTRACE", "0")

import regorus  # (after the environment it reads)

# Builtins regorus lists but that cannot work in an offline gate: a policy calling one is refused.
OFFLINE = frozenset({"http.send", "net.lookup_ip_addr"})
# Always available: ``print`` is a statement-like builtin regorus handles itself.
SPECIAL = frozenset({"print"})
_LOCATION = re.compile(r"-->\s*(?P<file>.+):(?P<line>\d+):(?P<col>\d+)\s*$", re.M)
_MESSAGE = re.compile(r"^error:\s*(?P<msg>.+)$", re.M)
_EXCERPT = re.compile(r"^\s*(?P<line>\d+)\s*\|\s?(?P<text>.*)$", re.M)


class NativeError(Exception):
    """An error regorus reported, split into its parts (location may be unknown)."""

    def __init__(self, message: str, file: str = "", line: int = 0, column: int = 0, excerpt: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.excerpt = excerpt

    def where(self) -> str:
        """``file:line: message`` (or the message alone when regorus gave no location)."""
        return f"{self.file}:{self.line}: {self.message}" if self.file else self.message


def parse_error(exc: BaseException) -> NativeError:
    """Read regorus's error text (``--> file:line:col``, the source line, ``error: message``);
    its Rust backtrace, if any, is dropped."""
    text = str(exc).split("Stack backtrace:", 1)[0]
    loc = _LOCATION.search(text)
    msg = _MESSAGE.search(text)
    message = msg.group("msg").strip() if msg else (text.strip().splitlines() or [exc.__class__.__name__])[-1]
    if loc is None:
        return NativeError(message[:500])
    line = int(loc.group("line"))
    excerpt = next((m.group("text") for m in _EXCERPT.finditer(text) if int(m.group("line")) == line), "")
    return NativeError(message[:500], loc.group("file"), line, int(loc.group("col")), excerpt)


def _any(xs: Any) -> bool:
    return any(x is True for x in _items(xs))


def _all(xs: Any) -> bool:
    return all(x is True for x in _items(xs))


def _items(xs: Any) -> list[Any]:
    if isinstance(xs, list | set | frozenset | tuple):
        return list(xs)
    raise ValueError("operand must be an array or a set")


def _set_diff(a: Any, b: Any) -> Any:
    if not isinstance(a, set | frozenset) or not isinstance(b, set | frozenset):
        raise ValueError("operands must be sets")
    return set(a) - set(b)


def _cast(kind: type, name: str) -> Callable[[Any], Any]:
    def cast(value: Any) -> Any:
        if kind is list and isinstance(value, list | set | frozenset):
            return list(value)
        if kind is set and isinstance(value, list | set | frozenset):
            return set(value)
        if kind is dict and isinstance(value, dict):
            return value
        if kind is str and isinstance(value, str):
            return value
        if kind is bool and isinstance(value, bool):
            return value
        raise ValueError(f"{name}: operand has the wrong type")
    return cast


def _cast_null(value: Any) -> None:
    if value is not None:
        raise ValueError("cast_null: operand is not null")


# Deprecated OPA builtins (still accepted by OPA and Gatekeeper for v0 policies) that regorus
# lacks; ``re_match`` is renamed to ``regex.match`` in the source instead, so it keeps regorus's
# (RE2-like) regular expression semantics.
EXTENSIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "any": (1, _any),
    "all": (1, _all),
    "set_diff": (2, _set_diff),
    "cast_array": (1, _cast(list, "cast_array")),
    "cast_set": (1, _cast(set, "cast_set")),
    "cast_object": (1, _cast(dict, "cast_object")),
    "cast_string": (1, _cast(str, "cast_string")),
    "cast_boolean": (1, _cast(bool, "cast_boolean")),
    "cast_null": (1, _cast_null),
}


def new_engine(v0: bool) -> Any:
    """A regorus engine with the compatibility builtins registered, in v0 or v1 syntax mode."""
    engine = regorus.Engine()
    engine.set_rego_v0(v0)
    engine.set_gather_prints(True)
    for name, (arity, fn) in EXTENSIONS.items():
        engine.add_extension(name, arity, fn)
    return engine


@lru_cache(maxsize=1)
def builtins() -> frozenset[str]:
    """Every builtin name the embedded engine evaluates (regorus's own, from ``opa.runtime()``,
    plus the registered compatibility builtins), without the ones an offline gate refuses."""
    engine = regorus.Engine()
    engine.add_policy("probe.rego", "package probe\nimport rego.v1\nnames := opa.runtime().builtins\n")
    engine.set_input({})
    names = json.loads(engine.eval_rule_as_json("data.probe.names"))
    return frozenset(str(n) for n in names if not str(n).startswith("__")) - OFFLINE | set(EXTENSIONS) | SPECIAL


def version() -> str:
    """regorus's version as it reports it (for benchmark output and docs)."""
    engine = regorus.Engine()
    engine.add_policy("probe.rego", 'package probe\nimport rego.v1\nv := opa.runtime()["regorus-version"]\n')
    engine.set_input({})
    return str(json.loads(engine.eval_rule_as_json("data.probe.v")))


def parse(path: str, source: str, v0: bool) -> dict[str, Any]:
    """The module's AST (regorus's JSON form, with byte-offset spans); NativeError when it does not parse."""
    engine = regorus.Engine()
    engine.set_rego_v0(v0)
    try:
        engine.add_policy(path, source)
        asts = json.loads(engine.get_ast_as_json())
    except RuntimeError as exc:
        raise parse_error(exc) from None
    ast: dict[str, Any] = asts[0]["ast"]
    return ast
