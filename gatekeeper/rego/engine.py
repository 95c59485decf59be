"""The engine interface and its embedded backend over regorus.

A policy set is compiled once into a ``Program`` (a regorus engine holding the modules and the
data) and evaluated against many inputs; each query is a rule reference. Evaluation errors
(a builtin that fails, conflicting values of a complete rule) fail closed with a message that
names the file, line, rule and builtin. ``print()`` output is gathered, never written by the
engine itself, so the caller can mask it before it is shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from gatekeeper.rego import hoist, native
from gatekeeper.rego.modules import Module, PolicyLoadError, check_builtins, check_recursion

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\s*\(")
UNDEFINED = '"<undefined>"'
# errors regorus raises only when a rule is first evaluated, although they are compile errors in OPA
_STATIC = re.compile(r"is unsafe|could not find function|recursi|expects \d+ argument|could not schedule", re.I)


class PolicyEvalError(Exception):
    """Evaluation failed (a builtin error, conflicting rule values): the run fails closed."""


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
    """``data.a.b`` for a rule reference (segments must be identifiers)."""
    for part in path:
        if not _IDENT.match(part):
            raise PolicyLoadError(f"rule reference segment {part!r} is not an identifier")
    return "data." + ".".join(path)


def describe_error(exc: BaseException, modules: Sequence[Module]) -> str:
    """``file:line: rule R: builtin B: message`` for an error regorus raised during evaluation."""
    err = native.parse_error(exc)
    if not err.file:
        return err.message
    parts = [f"{err.file}:{err.line}"]
    module = next((m for m in modules if m.path == err.file), None)
    rule = module.outline.rule_at(err.line) if module is not None else None
    if rule:
        parts.append(f"rule {rule}")
    calls = _CALL.findall(err.excerpt[:max(err.column - 1, 0)]) if err.excerpt else []
    builtin = next((c for c in reversed(calls) if c in native.builtins()), None)
    if builtin:
        parts.append(f"builtin {builtin}")
    parts.append(err.message)
    return ": ".join(parts)


class RegorusProgram:
    """A compiled policy set on one regorus engine."""

    def __init__(self, engine: Any, queries: Mapping[str, Sequence[str]], modules: Sequence[Module],
                 rebuild: Callable[[Mapping[str, Any]], Any] | None = None) -> None:
        self._engine = engine
        self._rebuild = rebuild  # a fresh engine holding the program's data and more (for hoisting)
        self._queries = {name: data_ref(path) for name, path in queries.items()}
        # a reference to a package (not a rule) is evaluated as a query: regorus's rule API refuses it
        packages = {m.package[:k] for m in modules for k in range(1, len(m.package) + 1)}
        self._packages = {name for name, path in queries.items() if tuple(path) in packages}
        self._modules = list(modules)
        self._conftest = any("conftest" in m.source for m in modules)
        self._prints: list[str] = []
        # whether any module calls ``print``: only then can an evaluation leave output to take
        self.may_print = any("print" in m.outline.calls for m in modules)
        self.hoisted = False  # whether some rules were replaced by their values (``use_hoisted``)

    def evaluate(self, input_value: Any, conftest: Any = None, only: Sequence[str] | None = None
                 ) -> dict[str, Any]:
        """Evaluate against a plain value (dicts, lists, strings, numbers, booleans, None);
        ``only`` limits the queries evaluated."""
        return self._run(input_value if input_value is not None else {}, None, conftest, only)

    def evaluate_json(self, input_json: str, conftest: Any = None, only: Sequence[str] | None = None
                      ) -> dict[str, Any]:
        """Evaluate against an input already serialised as JSON."""
        return self._run(None, input_json, conftest, only)

    def _run(self, value: Any, text: str | None, conftest: Any, only: Sequence[str] | None) -> dict[str, Any]:
        engine = self._engine
        if self._conftest and conftest is not None:
            engine = engine.clone()
            engine.add_data({"conftest": conftest})
        out: dict[str, Any] = {}
        try:
            try:
                if text is not None:
                    engine.set_input_json(text)
                else:
                    engine.set_input(value)
            except (TypeError, ValueError, OverflowError) as exc:
                raise PolicyEvalError(f"cannot give the document to a policy: {exc}") from None
            for name, ref in self._queries.items():
                if only is not None and name not in only:
                    continue
                if name in self._packages:
                    result = json.loads(engine.eval_query_as_json(ref)).get("result") or []
                    if result:
                        out[name] = result[0]["expressions"][0]["value"]
                    continue
                value = engine.eval_rule_as_json(ref)
                if value != UNDEFINED:
                    out[name] = json.loads(value)
        except RuntimeError as exc:
            raise PolicyEvalError(describe_error(exc, self._modules)) from None
        finally:
            if self.may_print:
                self._prints.extend(engine.take_prints())
        return out

    def check(self) -> None:
        """Evaluate each query once on an empty input, so compile errors that regorus reports only
        at evaluation (unsafe variables, unknown functions, wrong arity) fail the load even when no
        object would reach the rule; PolicyLoadError names them. This runs policy code: call it
        behind the evaluation boundary."""
        _dry_run(self._engine, {n: r.split(".")[1:] for n, r in self._queries.items()}, self._modules)

    def hoisted_values(self) -> dict[hoist.Key, Any]:
        """The values of the rules worth computing once (``hoist.hoistable``), computed on a copy
        of the engine. This runs policy code: call it behind the evaluation boundary."""
        keys = hoist.hoistable(self._modules)
        return hoist.evaluate(self._engine.clone(), keys) if keys else {}

    def use_hoisted(self, values: Mapping[hoist.Key, Any]) -> None:
        """Replace the hoisted rules by their values (from ``hoisted_values``, in any process):
        the program is rebuilt with those rules reading data. Evaluations give the same results."""
        if not values or self._rebuild is None:
            return
        defined = {k: v for k, v in values.items() if v is not hoist.UNDEFINED}
        try:
            engine = self._rebuild(hoist.as_data(defined) if defined else {})
            for module in hoist.rewrite(self._modules, values):
                engine.set_rego_v0(module.v0)
                engine.add_policy(module.path, module.source)
        except (RuntimeError, TypeError, ValueError, OverflowError, native.NativeError):
            return  # the program stays as written
        self._engine = engine
        self.hoisted = True

    def take_prints(self) -> list[str]:
        """``print()`` output gathered since the last call (``file:line: text`` lines)."""
        out, self._prints = self._prints, []
        return out


class RegorusEngine:
    """The embedded backend: regorus, with every module compiled once per policy set."""

    name = "regorus"

    def __init__(self) -> None:
        self._bases: dict[int, tuple[Mapping[str, Any], Any]] = {}
        # module set -> how often it was compiled, and (from the second time) an engine holding it without data
        self._compiled: dict[tuple[tuple[str, str, bool], ...], int] = {}
        self._parsed: dict[tuple[tuple[str, str, bool], ...], Any] = {}

    def is_builtin(self, name: str) -> bool:
        return name in native.builtins()

    def _base(self, data: Mapping[str, Any]) -> Any:
        """A native engine holding ``data`` (loaded once per data object, then cloned)."""
        key = id(data)
        if key not in self._bases:
            base = native.new_engine(v0=True)
            if data:
                _load_data(base, data)
            self._bases[key] = (data, base)
        return self._bases[key][1].clone()

    def compile(self, modules: Sequence[Module], data: Mapping[str, Any],
                queries: Mapping[str, Sequence[str]]) -> RegorusProgram:
        key = tuple((m.path, m.source, m.v0) for m in modules)
        seen = self._compiled.get(key, 0)
        if not seen:
            check_builtins(modules, self.is_builtin)
            check_recursion(modules)
        if seen and data and id(data) not in self._bases:
            # the same modules over other data (a template per deployment unit): the modules are
            # parsed once, and each copy gets its data (the order of loading changes nothing)
            parsed = self._parsed.get(key)
            if parsed is None:
                parsed = self._parsed[key] = _with_modules(native.new_engine(v0=True), modules)
            engine = parsed.clone()
            _load_data(engine, data)
        else:
            engine = _with_modules(self._base(data), modules)
        self._compiled[key] = seen + 1
        return RegorusProgram(engine, queries, modules, lambda extra: self._with(data, extra))

    def _with(self, data: Mapping[str, Any], extra: Mapping[str, Any]) -> Any:
        """A native engine holding ``data`` plus ``extra`` (no modules)."""
        engine = self._base(data)
        if extra:
            engine.add_data(dict(extra))
        return engine


def _load_data(engine: Any, data: Mapping[str, Any]) -> None:
    try:
        engine.add_data_json(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise PolicyLoadError(f"policy data cannot be loaded: {native.parse_error(exc).message}") from None


def _with_modules(engine: Any, modules: Sequence[Module]) -> Any:
    for module in modules:
        engine.set_rego_v0(module.v0)
        try:
            engine.add_policy(module.path, module.source)
        except RuntimeError as exc:
            raise PolicyLoadError(native.parse_error(exc).where()) from None
    return engine


def _dry_run(engine: Any, queries: Mapping[str, Sequence[str]], modules: Sequence[Module]) -> None:
    """See ``RegorusProgram.check``; runtime errors are left for real inputs."""
    engine.set_input_json("{}")
    packages = {m.package[:k] for m in modules for k in range(1, len(m.package) + 1)}
    try:
        for path in queries.values():
            if tuple(path) in packages:
                continue
            try:
                engine.eval_rule_as_json(data_ref(path))
            except RuntimeError as exc:
                if _STATIC.search(native.parse_error(exc).message):
                    raise PolicyLoadError(describe_error(exc, modules)) from None
    finally:
        engine.take_prints()
