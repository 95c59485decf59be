"""The CEL engine: cel-expr-python (the CEL project's C++ runtime) with Kubernetes' libraries.

An ``Environment`` declares the variables an expression may read (all dynamically typed, as
Kubernetes types a ValidatingAdmissionPolicy's ``object``) and the function libraries; it
compiles each distinct expression once and caches the ``Program``. ``Program.evaluate`` takes
plain Python bindings (what the YAML loader builds) and returns a plain Python value, or raises
a typed error (``gatekeeper.cel.errors``). Bounds: an evaluation whose cost, as the API server
charges it, could pass its budget does not run (``gatekeeper.cel.cost``: ``CostLimitExceeded``),
the runtime stops an evaluation after 10,000 comprehension iterations (``CostLimitExceeded``,
never a hang) and refuses expressions nested more than 32 levels deep at compile time
(``CompileError`` with ``limit`` set). Bound values must
nest no deeper than the loader allows (100 levels; the runtime recurses through them).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from gatekeeper.cel import cost, fast, rewrite
from gatekeeper.cel.ast import Expression, decode
from gatekeeper.cel.errors import CompileError, CostLimitExceeded, EngineUnavailable, EvaluationError, Unsupported
from gatekeeper.cel.lib import Library, Overload, kubernetes_libraries
from gatekeeper.cel.measure import measure
from gatekeeper.cel.views import Trie, measure_within, prune

ITERATION_BUDGET = 10_000  # the runtime's fixed comprehension budget per evaluation
NESTING_LIMIT = 32  # the parser's and planner's fixed recursion limit
MAX_EXPRESSION = 100_000  # characters, as the API server limits an expression
_EXTENSIONS = ("optional", "sets", "two-var-comprehensions")
_ERROR_LINE = re.compile(r"ERROR: <input>:(-?\d+):(-?\d+): (.*)")
_STATUS = re.compile(r"^[A-Z_]+: ")
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")
_lock = threading.Lock()


def available() -> bool:
    """True when the CEL runtime is installed."""
    try:
        import cel_expr_python  # noqa: F401
    except ImportError:
        return False
    return True


def _cel() -> Any:
    try:
        from cel_expr_python import cel
    except ImportError:
        raise EngineUnavailable("CEL evaluation needs the cel-expr-python package (Python 3.11 or later); "
                                "install gitops-gatekeeper on Python 3.11+") from None
    return cel


def _type(cel: Any, name: str) -> Any:
    """An engine type from a short name (``string``, ``list<string>``, ``Quantity``...)."""
    simple = {"string": cel.Type.STRING, "int": cel.Type.INT, "uint": cel.Type.UINT, "double": cel.Type.DOUBLE,
              "bool": cel.Type.BOOL, "bytes": cel.Type.BYTES, "dyn": cel.Type.DYN, "null": cel.Type.NULL,
              "duration": cel.Type.DURATION, "timestamp": cel.Type.TIMESTAMP,
              "list": cel.Type.List(cel.Type.DYN), "map": cel.Type.Map(cel.Type.DYN, cel.Type.DYN)}
    if name in simple:
        return simple[name]
    if name.startswith("list<") and name.endswith(">"):
        return cel.Type.List(_type(cel, name[5:-1]))
    if name.startswith("map<") and name.endswith(">"):
        key, _, value = name[4:-1].partition(",")
        return cel.Type.Map(_type(cel, key.strip()), _type(cel, value.strip()))
    return cel.Type(f"kubernetes.{name}")


_PLAIN = {"string", "int", "uint", "double", "bool", "bytes", "dyn", "null", "duration", "timestamp"}
# The runtime does not dispatch a ``dyn`` parameter to every value: a parameter declared "any" is
# declared once per concrete kind instead (Kubernetes' ``list<T>.indexOf(T)``).
_ANY = ("int", "uint", "double", "string", "bool", "bytes", "null", "duration", "timestamp", "list", "map")


def _runtime_kind(name: str) -> str:
    """What the runtime dispatches on: every Kubernetes object type is one kind (a message)."""
    if name in _PLAIN:
        return name
    if name.startswith("list"):
        return "list"
    if name.startswith("map"):
        return "map"
    return "message"


def _expand(o: Overload) -> list[Overload]:
    """``o`` with each "any" parameter declared once per concrete kind."""
    if "any" not in o.params:
        return [o]
    out: list[Overload] = []
    for kind in _ANY:
        params = tuple(kind if p == "any" else p for p in o.params)
        out.append(Overload(f"{o.id}_{kind}", params, o.result, o.impl, o.member))
    return out


def _dispatch(overloads: list[Overload]) -> Any:
    """One implementation for overloads the runtime cannot tell apart (``isLessThan`` on Quantity
    and on Semver: both are messages to it), picking by the arguments' Kubernetes types."""
    from gatekeeper.cel import types

    def impl(*args: Any) -> Any:
        for o in overloads:
            pairs = zip(o.params, args, strict=False)
            if all(_runtime_kind(p) != "message" or types.type_name(a) == p for p, a in pairs):
                return o.impl(*args)
        names = ", ".join(types.type_name(a) or type(a).__name__ for a in args)
        raise ValueError(f"no such overload: {names}")

    return impl


def _declarations(cel: Any, libraries: Iterable[Library]) -> tuple[list[Any], dict[str, Any]]:
    """FunctionDecls (one per name, every library's overloads merged) and the implementations by
    overload id: one per set of overloads the runtime dispatches alike."""
    grouped: dict[str, dict[tuple[Any, ...], list[Overload]]] = {}
    for library in libraries:
        for function in library.functions:
            for o in (x for overload in function.overloads for x in _expand(overload)):
                key = (o.member, tuple(_runtime_kind(p) for p in o.params))
                grouped.setdefault(function.name, {}).setdefault(key, []).append(o)
    decls, impls = [], {}
    for name, groups in grouped.items():
        overloads: list[Any] = []
        for group in groups.values():
            impls[group[0].id] = cost.metered(group[0].impl if len(group) == 1 else _dispatch(group))
            overloads.extend(cel.Overload(o.id, _type(cel, o.result), [_type(cel, p) for p in o.params],
                                          is_member=o.member) for o in group)
        decls.append(cel.FunctionDecl(name, overloads))
    return decls, impls


def _clean(text: str, source: str) -> str:
    """An engine message without status prefixes, and with quoted text that is not in the expression
    (so possibly data) elided."""
    text = _STATUS.sub("", text.strip().splitlines()[0] if text.strip() else "evaluation failed")
    text = re.sub(r"\s*\[[A-Z_]+\]$", "", text)
    return _QUOTED.sub(lambda m: m.group(0) if m.group(0)[1:-1] in source else "'…'", text)[:300]


def compile_error(message: str, source: str) -> CompileError:
    """A CompileError from the engine's message: the first error's position and text."""
    limit = "recursion limit" in message or "recursion depth" in message
    m = _ERROR_LINE.search(message)
    if m:
        line, column, text = max(int(m.group(1)), 1), max(int(m.group(2)), 1), m.group(3).strip()
    else:
        line, column, text = 1, 1, _clean(message, source)
    if limit:
        text = f"expression nests deeper than the engine's limit of {NESTING_LIMIT} levels"
    return CompileError(text, line, column, limit=limit)


class Program:
    """A compiled expression: evaluate it against bindings as often as needed."""

    __slots__ = ("_ast", "_bound", "_compiled", "_env", "_fast", "_unread", "source", "unsupported", "variables")

    def __init__(self, env: Environment, source: str, compiled: Any) -> None:
        self._env = env
        self._compiled = compiled
        self._ast: Expression | None = None
        self.source = source
        self.variables = frozenset(self.ast.free_variables()) & env.variables
        from gatekeeper.cel.lib.unsupported import UNSUPPORTED

        calls = {n.name for n in self.ast.walk() if n.kind == "call"}
        self.unsupported = next((UNSUPPORTED[c] for c in sorted(calls) if c in UNSUPPORTED), None)
        self._fast = fast.compile_fast(self.ast, env.variables)
        self._bound = cost.Bound(self.ast)
        # the variables ``Bindings.within`` must also find plain: none when the bound weighs them all
        self._unread = self.variables - set(self._bound.needed)

    @property
    def has_fast_path(self) -> bool:
        """True when plain bindings are evaluated without the runtime (``gatekeeper.cel.fast``)."""
        return self._fast is not None

    @property
    def ast(self) -> Expression:
        """The decoded expression (free variables, selected paths)."""
        if self._ast is None:
            self._ast = decode(self._compiled.serialize())
        return self._ast

    def evaluate(self, bindings: Mapping[str, Any] | Bindings, *, runtime_only: bool = False,
                 budget: cost.Budget | None = None) -> Any:
        """The expression's value for ``bindings`` (a mapping or ``Bindings``). Plain bindings of a
        simple expression are evaluated in Python (``gatekeeper.cel.fast``) unless ``runtime_only``;
        the result is the runtime's either way. ``CostLimitExceeded`` when its cost bound
        (``gatekeeper.cel.cost``) passes the per-expression limit, or what is left of ``budget`` (the
        evaluation's total, charged with the bound): then it does not run at all."""
        return self.result(bindings, runtime_only=runtime_only, budget=budget)[0]

    def result(self, bindings: Mapping[str, Any] | Bindings, *, runtime_only: bool = False,
               budget: cost.Budget | None = None) -> tuple[Any, bool]:
        """``evaluate``'s value, and True when it is known to be plain (``fast.plain``) without looking:
        the fast path's values are, when it was given plain ones."""
        if self.unsupported is not None:
            raise Unsupported(f"uses {self.unsupported}")
        if not isinstance(bindings, Bindings):
            bindings = Bindings(self._env, dict(bindings))
        try:
            plain = bindings.within(self._bound, budget, self._unread)
        except cost.TooCostly as exc:
            if exc.total:
                raise CostLimitExceeded(f"the evaluation's expressions together could cost {exc}, over the total "
                                        f"cost budget of {exc.limit:,} per evaluation (as the API server charges "
                                        "every expression of a policy, binding and param, or of a CRD's rules for "
                                        "an object); not evaluated") from None
            raise CostLimitExceeded(f"the expression's cost could reach {exc} for these values, over the cost "
                                    f"budget of {exc.limit:,} per evaluation (charged as the API server charges "
                                    "it: string and list sizes, comprehension steps); not evaluated") from None
        if self._fast is not None and not runtime_only and plain:
            try:
                return self._fast(bindings.values), True
            except fast.Fallback as exc:
                exc.__traceback__ = None  # one shared instance: its traceback would keep these frames alive
        try:
            with cost.metering() as meter:
                result = self._compiled.eval(bindings.activation())
                value = result.plain_value()
        except RuntimeError as exc:
            if meter.over:
                raise _over_budget(meter) from None
            raise self._error(str(exc)) from None
        except (TypeError, ValueError, SystemError) as exc:  # an optional (also in a list) or other
            # unconvertible result
            raise EvaluationError("the expression's result cannot be used here") from exc
        if meter.over:
            raise _over_budget(meter)
        if isinstance(value, str) or value is None:  # errors come back as their message: ask the type
            kind = result.type().name()
            if kind in ("ERROR", "*error*"):
                raise self._error(str(value))
        return value, False

    def _error(self, message: str) -> EvaluationError:
        if "Iteration budget exceeded" in message:
            return CostLimitExceeded(f"the expression exceeded the cost budget of {ITERATION_BUDGET:,} "
                                     "comprehension iterations")
        if "Non-CEL value type" in message:
            return EvaluationError("a bound value has a type CEL cannot take")
        if "No value with name" in message:
            name = re.search(r'No value with name "([^"]*)"', message)
            return EvaluationError(f"no value bound for {name.group(1) if name else 'a variable'}")
        return EvaluationError(_clean(message, self.source))


def _over_budget(meter: cost.Meter) -> CostLimitExceeded:
    return CostLimitExceeded(f"the values the expression's library functions built cost more than the cost budget "
                             f"of {cost.LIMIT:,} per evaluation (charged by size, as the API server charges it)")


class Environment:
    """Declared variables + libraries; compiles and caches programs."""

    def __init__(self, variables: Sequence[str], libraries: Sequence[Library] | None = None) -> None:
        cel = _cel()
        from gatekeeper.cel import types

        libs = kubernetes_libraries() if libraries is None else tuple(libraries)
        config = cel.NewEnvConfigFromYaml("extensions:\n" + "".join(f'  - name: "{e}"\n' for e in _EXTENSIONS))
        self.variables = frozenset(variables)
        decls, impls = _declarations(cel, libs)
        self._env = cel.NewEnv(types.pool(), config=config, variables={v: cel.Type.DYN for v in variables},
                               functions=decls, function_impls=impls)
        self._programs: dict[str, Program | CompileError] = {}

    def compile(self, source: str) -> Program:
        """The program for ``source`` (compiled once); ``CompileError`` when it does not compile."""
        cached = self._programs.get(source)
        if cached is None:
            cached = self._compile(source)
            self._programs[source] = cached
        if isinstance(cached, CompileError):
            raise cached
        return cached

    def _compile(self, source: str) -> Program | CompileError:
        if not isinstance(source, str) or not source.strip():
            return CompileError("the expression is empty")
        if len(source) > MAX_EXPRESSION:
            return CompileError(f"the expression is longer than {MAX_EXPRESSION:,} characters", limit=True)
        try:
            with _lock:
                compiled = self._env.compile(source)
        except RuntimeError as exc:
            message = str(exc)
        else:
            text = rewrite.rewritten(source)
            if text is not None:  # transformMap(Entry), the format library's optionals (gatekeeper.cel.rewrite)
                try:
                    with _lock:
                        compiled = self._env.compile(text)
                except RuntimeError as exc:
                    return compile_error(str(exc), source)
            return Program(self, source, compiled)
        text = rewrite.renamed(source, message) if rewrite.NEEDS.search(message) else None
        if text is not None:  # string(ip)/string(cidr): Kubernetes' overloads, under their own name
            try:
                with _lock:
                    compiled = self._env.compile(text)
                return Program(self, source, compiled)
            except RuntimeError:
                pass
        return compile_error(message, source)

    def activation(self, bindings: Mapping[str, Any]) -> Any:
        """Bindings converted once, for evaluating several programs against the same values."""
        return self._env.Activation(dict(bindings))

    def bindings(self, values: dict[str, Any], views: dict[str, Trie | None] | None = None,
                 measured: dict[str, tuple[int, bool]] | None = None) -> Bindings:
        """``values`` for evaluating several programs: converted for the runtime only if one needs it.
        ``views``: for a variable, the paths (a ``views.trie``) that every program evaluated with these
        bindings reads at most; the runtime is given just those (``views.prune``). ``measured``: what the
        caller already knows of some values (``measure``: weight, plain)."""
        return Bindings(self, values, views=views, measured=measured)


class Bindings:
    """Values bound to variables, shared by several evaluations: the runtime's activation is built on
    first need, and each variable's value is measured once (``measure``: its weight for the cost bound
    and whether it is plain for the fast path, in one walk; also for bindings derived with
    ``with_values``). A variable with a view is bound pruned to it for the runtime; the fast path reads
    the value as it is (it reads only the view's paths, where the two agree), so the view is what must
    be plain, and what the cost bound weighs (``views.measure_within``: no copy is built for either)."""

    __slots__ = ("_activation", "_changed", "_env", "_measured", "_memo", "_parent", "_totals", "_views",
                 "values")

    def __init__(self, env: Environment, values: dict[str, Any], *, views: dict[str, Trie | None] | None = None,
                 parent: Bindings | None = None, changed: frozenset[str] = frozenset(),
                 measured: dict[str, tuple[int, bool]] | None = None) -> None:
        self._env = env
        self.values = values
        self._activation: Any = None
        # (weight, plain) per variable, what is known (else: the parent's, unless changed)
        self._measured: dict[str, tuple[int, bool]] = measured or {}
        self._parent = parent
        self._changed = changed
        self._views = views
        self._memo: cost.Memo = parent._memo if parent is not None else {}  # weights by id (cost)
        self._totals: dict[tuple[str, ...], tuple[int, bool]] = {}  # variables read -> (weight, all plain)

    def within(self, bound: cost.Bound, budget: cost.Budget | None = None,
               names: frozenset[str] = frozenset()) -> bool:
        """Raise ``cost.TooCostly`` when a program with ``bound`` could cost more than its limit with
        these values, or than what is left of ``budget`` (charged with it); else whether the values of
        ``names`` are plain (``plain``). Values are measured once and kept with the bindings."""
        key = bound.needed
        known = self._totals.get(key)
        if known is None:
            total, plain = 0, True
            for name in key:
                weight, ok = self._measure(name)
                total += weight
                plain = plain and (ok or name not in self._env.variables)
            known = self._totals[key] = (total, plain)
        if budget is not None or not bound.fits(known[0]):
            bound.check(self._pruned if self._views else self.values, known[0], memo=self._memo, budget=budget)
        return known[1] and (not names or names.issubset(key) or self.plain(names))

    def plain(self, names: frozenset[str]) -> bool:
        """True when the values of ``names`` are plain (unbound ones count as plain: the fast path
        falls back on reading them)."""
        return all(self._measure(name)[1] for name in names)

    def _measure(self, name: str) -> tuple[int, bool]:
        found = self._measured.get(name)
        if found is None:
            if self._parent is not None and name not in self._changed:
                return self._parent._measure(name)
            value = self.values.get(name)
            views = self._views
            found = measure_within(value, views[name]) if views and name in views else measure(value)
            self._measured[name] = found
        return found

    def _pruned(self) -> dict[str, Any]:
        """The values as the runtime is given them (each pruned to its view)."""
        views = self._views or {}
        return {k: prune(v, views[k]) if k in views else v for k, v in self.values.items()}

    def activation(self) -> Any:
        if self._activation is None:
            self._activation = self._env.activation(self._pruned() if self._views else self.values)
        return self._activation

    def with_values(self, changes: dict[str, Any], measured: dict[str, tuple[int, bool]] | None = None,
                    views: dict[str, Trie | None] | None = None) -> Bindings:
        """These bindings with some values replaced (``measured``: what is known of the new ones;
        ``views``: the views of new ones, as ``Environment.bindings`` takes them)."""
        kept = {k: v for k, v in self._views.items() if k not in changes} if self._views else {}
        views = {**kept, **views} if views else kept or None
        return Bindings(self._env, {**self.values, **changes}, views=views, parent=self,
                        changed=frozenset(changes), measured=measured)


@cache
def environment(variables: tuple[str, ...], libraries: tuple[Library, ...] | None = None) -> Environment:
    """The shared environment for a variable set (and libraries; None: Kubernetes')."""
    return Environment(variables, libraries)
