"""The engine interface and its embedded backend over regopy (rego-cpp).

A policy set is compiled once into a ``Program`` (a regopy bundle plus a generated wrapper
package) and evaluated against many inputs. The wrapper gives every queried rule a default,
so one query returns all rule values at once and a rule that is ``false`` stays ``false``
(a bare ``data.pkg.rule`` query would come back undefined in rego-cpp).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from gatekeeper.rego.modules import CONFTEST_ROOT, INPUT_ROOT, Module, PolicyLoadError, check_builtins

WRAPPER_PACKAGE = "gatekeeper_internal_eval"
RUN_ROOT = "gatekeeper_run"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ERROR = re.compile(r"\(error \d+:([^|]*)\|(\d+)\|\d+\s+\(errormsg (\d+):", re.S)


class PolicyEvalError(Exception):
    """Evaluation failed (conflicting rule values, a runtime error): the run fails closed."""


class Program(Protocol):
    """A compiled policy set: evaluate named rule references against one input."""

    def evaluate(self, input_value: Any, conftest: Any = None) -> dict[str, Any]:
        """Values of the compiled queries for ``input_value`` (``data.conftest`` set to ``conftest``);
        undefined rules are absent."""
        ...


class Engine(Protocol):
    """A Rego backend: compiles modules + data with named queries into a Program."""

    name: str

    def compile(self, modules: Sequence[Module], data: Mapping[str, Any],
                queries: Mapping[str, Sequence[str]]) -> Program:
        """``queries`` maps a result name to a rule reference below ``data`` (path segments)."""
        ...


def data_ref(path: Sequence[str]) -> str:
    """``data.a.b`` with bracket quoting for segments that are not identifiers."""
    out = "data"
    for part in path:
        out += f".{part}" if _IDENT.match(part) else f"[{json.dumps(part)}]"
    return out


@dataclass(frozen=True, slots=True)
class Query:
    """A rule reference evaluated with ``input.<target>`` replaced by ``data.<source>`` (``with``),
    only when ``input.gatekeeper_run.<guard>`` is set: one compiled template serves each of its
    constraints (parameters in data) from one shared input."""

    path: tuple[str, ...]
    override: tuple[str, str] | None = None  # (input field path, data path), dotted identifiers
    guard: str | None = None


def wrapper_module(queries: Mapping[str, Sequence[str] | Query]) -> str:
    """A v1 module giving each query a defined value: ``{"v": value}`` or ``{}`` when undefined."""
    lines = [f"package {WRAPPER_PACKAGE}", ""]
    for name, spec in queries.items():
        if not _IDENT.match(name):
            raise ValueError(f"query name {name!r} is not an identifier")
        query = spec if isinstance(spec, Query) else Query(tuple(spec))
        conditions = []
        if query.guard is not None:
            conditions.append(f"input.{RUN_ROOT}.{query.guard}")
        value = data_ref(query.path)
        if query.override is not None:  # ``with ... as data.x`` crashes rego-cpp; a local works
            conditions.append(f"override := data.{query.override[1]}")
            value += f" with input.{query.override[0]} as override"
        conditions.append(f"x := {value}")
        lines.append(f"default {name} := {{}}")
        lines.append(f"{name} := {{\"v\": x}} if {{ {'; '.join(conditions)} }}")
    return "\n".join(lines) + "\n"


@contextmanager
def native_output_to_stderr() -> Iterator[None]:
    """rego-cpp writes parse errors and ``print()`` output to the process's stdout; send them to
    stderr instead so they can never corrupt a report written to stdout."""
    try:
        out_fd = sys.stdout.fileno()
        err_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        out_fd = err_fd = -1
    if out_fd < 0 or err_fd < 0:
        try:
            out_fd, err_fd = 1, 2
            os.fstat(1)
            os.fstat(2)
        except OSError:
            yield
            return
    sys.stdout.flush()
    saved = os.dup(out_fd)
    try:
        os.dup2(err_fd, out_fd)
        yield
    finally:
        os.dup2(saved, out_fd)
        os.close(saved)


class _Captured:
    text = ""


@contextmanager
def _native_stdout(store: Callable[[bytes], None]) -> Iterator[None]:
    """Point the process's stdout (file descriptor 1, where rego-cpp writes) at a temporary file
    for the block, then hand what was written to ``store``."""
    import tempfile

    sys.stdout.flush()
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(1)
        try:
            os.dup2(sink.fileno(), 1)
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            sink.seek(0)
            store(sink.read())


@contextmanager
def capture_native_output() -> Iterator[_Captured]:
    """Collect what rego-cpp writes to the process's stdout (its compile error report)."""
    captured = _Captured()

    def store(data: bytes) -> None:
        captured.text = data[:20000].decode("utf-8", "replace")

    with _native_stdout(store):
        yield captured


_NATIVE_DIAGNOSTIC = re.compile(r"^\s*(?:\(rego-|\)|: unexpected rego-|Errors:)")


class _Filtered:
    failed = False


@contextmanager
def native_output_filtered() -> Iterator[_Filtered]:
    """Collect rego-cpp's stdout during evaluation; forward ``print()`` output to stderr but
    withhold its diagnostics (S-expression dumps of the terms a builtin failed on hold input
    values, secrets included). ``failed`` tells that rego-cpp reported such an error: the rule
    it was evaluating came back undefined, so the run must not pass."""
    result = _Filtered()

    def store(data: bytes) -> None:
        kept = []
        for line in data.decode("utf-8", "replace").splitlines():
            if _NATIVE_DIAGNOSTIC.match(line):
                result.failed = result.failed or line.strip().startswith("Errors:")
            elif line.strip():
                kept.append(line)
        if kept:
            sys.stderr.write("\n".join(kept) + "\n")
            sys.stderr.flush()

    with _native_stdout(store):
        yield result


_NATIVE_ERROR = re.compile(r"^(?P<msg>[^\n-][^\n]*)\n-- (?P<file>[^\n]+?):(?P<line>\d+):\d+$", re.M)


def native_errors(text: str) -> str:
    """``file:line: message`` for each error in rego-cpp's report (first three)."""
    found = [f"{m.group('file')}:{m.group('line')}: {m.group('msg').strip()}" for m in _NATIVE_ERROR.finditer(text)]
    return "; ".join(found[:3])


def describe_error(exc: Exception, modules: Sequence[Module]) -> str:
    """Turn a RegoError's S-expression into ``file:line: message`` lines (first three)."""
    text = str(exc)
    sources = {m.path: m.source for m in modules}
    out = []
    for match in _ERROR.finditer(text):
        name, offset = match.group(1), int(match.group(2))
        length = int(match.group(3))
        msg_start = match.end()
        message = text[msg_start:msg_start + length]
        source = sources.get(name)
        line = source.count("\n", 0, offset) + 1 if source is not None else 0
        out.append(f"{name}:{line}: {message}" if line else f"{name}: {message}")
    if not out:
        first = text.strip().splitlines()[0] if text.strip() else exc.__class__.__name__
        out.append(first[:200])
    return "; ".join(out[:3])


def prepare_input(value: dict[str, Any]) -> Any:
    """The engine's input object for a whole (already rooted) input document; converting a
    document costs about as much as evaluating a simple rule, so share it where possible."""
    from gatekeeper.rego.fastinput import InputError, build_input

    try:
        return build_input(value)
    except InputError as exc:
        raise PolicyEvalError(f"cannot pass the document to the policy: {exc}") from None


class RegoProgram:
    """A compiled bundle evaluated with one reused interpreter."""

    def __init__(self, bundle: Any, names: Sequence[str]) -> None:
        from regopy import Interpreter

        self._bundle = bundle
        self._names = list(names)
        self._interp = Interpreter()

    def evaluate(self, input_value: Any, conftest: Any = None) -> dict[str, Any]:
        wrapped: dict[str, Any] = {INPUT_ROOT: input_value} if input_value is not None else {}
        if conftest is not None:
            wrapped[CONFTEST_ROOT] = conftest
        return self.evaluate_prepared(prepare_input(wrapped))

    def evaluate_prepared(self, prepared: Any) -> dict[str, Any]:
        """Evaluate against an input made once by ``prepare_input`` (shared across programs)."""
        result = query_bundle(self._interp, self._bundle, prepared).get("result")
        if not isinstance(result, dict):
            raise PolicyEvalError("policy evaluation returned no result")
        return {name: result[name]["v"] for name in self._names if isinstance(result.get(name), dict)
                and "v" in result[name]}


def query_bundle(interp: Any, bundle: Any, prepared: Any) -> dict[str, Any]:
    """Run a compiled bundle's query and return its bindings.

    regopy's Output parses rego-cpp's JSON strictly, and rego-cpp writes control characters
    (newlines in strings) unescaped, so a multi-line value would fail; this reads the same
    output leniently.
    """
    from regopy.rego_shared import (
        rego_bundle_query,
        rego_free_output,
        rego_output_ok,
        rego_output_string,
        rego_set_input,
    )

    try:
        rego_set_input(interp._impl, prepared._impl)
        out = rego_bundle_query(interp._impl, bundle._impl)
    except Exception as exc:  # RegoError from the native library
        raise PolicyEvalError(f"policy evaluation failed: {exc.__class__.__name__}") from None
    try:
        if not rego_output_ok(out):
            raise PolicyEvalError("policy evaluation failed (a runtime error or conflicting rule values)")
        text = rego_output_string(out)
    finally:
        rego_free_output(out)
    if text == "undefined":
        raise PolicyEvalError("policy evaluation returned no result")
    try:
        parsed = json.loads(text, strict=False)
    except ValueError:
        raise PolicyEvalError("policy evaluation returned output that is not JSON") from None
    first = parsed[0] if isinstance(parsed, list) and parsed else parsed
    bindings = first.get("bindings") if isinstance(first, dict) else None
    if not isinstance(bindings, dict):
        raise PolicyEvalError("policy evaluation returned no bindings")
    return bindings


class RegoEngine:
    """The embedded backend: regopy, compiling each policy set once into a bundle."""

    name = "regopy"

    def __init__(self) -> None:
        import regopy

        self._probe = regopy.Interpreter()

    def is_builtin(self, name: str) -> bool:
        return bool(self._probe.is_builtin(name))

    def compile(self, modules: Sequence[Module], data: Mapping[str, Any],
                queries: Mapping[str, Sequence[str] | Query]) -> RegoProgram:
        from regopy import Interpreter

        check_builtins(modules, self.is_builtin)
        interp = Interpreter()
        with capture_native_output() as captured:
            try:
                for module in modules:
                    interp.add_module(module.path, module.source)
                interp.add_module("<gatekeeper>", wrapper_module(queries))
                if data:
                    interp.add_data(dict(data))
                bundle = interp.build(f"result := data.{WRAPPER_PACKAGE}", [])
                failed = None if bundle.ok() else "compilation failed"
            except Exception as exc:
                failed = describe_error(exc, modules)
        if failed is not None:
            raise PolicyLoadError(native_errors(captured.text) or failed)
        return RegoProgram(bundle, list(queries))
