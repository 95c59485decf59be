"""Kind guards: the ``input.kind`` values outside which a package's rules cannot produce anything.

Most conftest rules start by testing the document's kind (``input.kind == "Deployment"``,
``input.kind in workload_kinds``) or by iterating a helper rule that does. When every
reporting rule of a package is guarded so, a document of another kind needs no evaluation:
its result is known to be empty. This saves most evaluations of a typical policy set.

The analysis is exact for what it accepts and refuses anything else (the caller then evaluates
every document). A rule body is guarded when its **first** statement, which regorus evaluates
before any other and which cannot fail with an error, is one of:

* ``input.kind == "K"`` (either side), or ``input.kind in C`` where ``C`` is a literal set or
  array of strings, or a rule of the package defined once as such a literal;
* an iteration over a guarded rule of the package: ``some x in R``, ``some k, v in R``,
  ``R[x]`` (the rule is empty or undefined for other kinds, so nothing iterates);
* a statement that must evaluate a guarded *complete* rule of the package to succeed: the rule
  itself, ``x := R``, or a builtin call whose arguments are ``R`` and error-free terms
  (literals, references into ``input``): an undefined argument makes the call undefined.

A rule is guarded when every body (``else`` branches included) is, and it has no ``default``.
Statements with ``with``, negation, comprehensions, functions, imports that could shadow a
rule, rule heads with dotted references and ``print`` (its output would be lost) are refused.

Input guards (``input_guards``) are the same argument for one queried rule and any input: when
the first statement of every body of the rule is ``input.<literal keys> == <string or boolean>``
(either side), an input on which none of those tests holds makes every body fail at its first
statement, before anything else in it runs, so the rule has no value and no error: the
Gatekeeper dialect does not evaluate such an input (``input.review.object.metadata.namespace ==
"default"``, or ``input.parameters.requireNamespace == true`` with the constraint's parameters).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from gatekeeper.rego import native
from gatekeeper.rego.modules import Module
from gatekeeper.rego.outline import ref_path
from gatekeeper.rego.rewrite import node

Kinds = frozenset[str]
InputGuard = tuple[tuple[str, ...], str | bool]  # (path below ``input``, the value it must equal)


class _Package:
    """The rule definitions of one package, read from its modules' ASTs."""

    def __init__(self, modules: Sequence[Module]) -> None:
        self.defs: dict[str, list[tuple[str, dict[str, Any]]]] = {}  # name -> [(head kind, rule)]
        self.defaults: set[str] = set()
        self.shadowed: set[str] = set()
        self.ok = True
        for module in modules:
            self.shadowed.update(module.outline.imports)
            for rule in native.parse(module.path, module.source, module.v0).get("rules") or []:
                kind, fields = node(rule)
                if kind == "Default":
                    name = _head_name(fields.get("refr"))
                    if name is None:
                        self.ok = False
                    else:
                        self.defaults.add(name)
                    continue
                if kind != "Spec":
                    self.ok = False
                    continue
                head_kind, head = node(fields.get("head"))
                name = _head_name(head.get("refr"))
                if name is None:
                    self.ok = False
                    continue
                self.defs.setdefault(name, []).append((head_kind, fields))


def _head_name(refr: Any) -> str | None:
    """``p`` for a head ``p`` or ``p[k]``; None for dotted (ref) heads."""
    kind, fields = node(refr)
    if kind == "Var":
        return str(fields.get("value"))
    if kind == "RefBrack":
        inner, inner_fields = node(fields.get("refr"))
        return str(inner_fields.get("value")) if inner == "Var" else None
    return None


def _is_input_kind(value: Any) -> bool:
    """Whether ``value`` is ``input.kind`` (or ``input["kind"]``)."""
    return _input_path(value) == ("kind",)


def _strings(value: Any) -> Kinds | None:
    kind, fields = node(value)
    if kind not in ("Set", "Array"):
        return None
    out = []
    for item in fields.get("items") or []:
        item_kind, item_fields = node(item)
        if item_kind not in ("String", "RawString"):
            return None
        out.append(str(item_fields.get("value")))
    return frozenset(out)


def _error_free(value: Any) -> bool:
    """Terms whose evaluation cannot fail with an error: scalars, ``input`` and references
    into it with literal keys, and collections of such terms."""
    kind, fields = node(value)
    if kind in ("String", "RawString", "Number", "Bool", "Null"):
        return True
    if kind == "Var":
        return fields.get("value") == "input"
    if kind in ("RefDot", "RefBrack"):
        if kind == "RefBrack" and node(fields.get("index"))[0] not in ("String", "RawString", "Number"):
            return False
        return _error_free(fields.get("refr"))
    if kind in ("Array", "Set"):
        return all(_error_free(v) for v in fields.get("items") or [])
    if kind == "Object":
        return all(isinstance(f, list) and len(f) == 3 and _error_free(f[1]) and _error_free(f[2])
                   for f in fields.get("fields") or [])
    return False


class _Analysis:
    def __init__(self, package: _Package) -> None:
        self.package = package
        self.memo: dict[str, Kinds | None] = {}
        self.visiting: set[str] = set()

    def rule(self, name: str) -> Kinds | None:
        """The kinds outside which rule ``name`` is empty (partial) or undefined (complete)."""
        if name in self.memo:
            return self.memo[name]
        p = self.package
        if name in self.visiting or name in p.defaults or name in p.shadowed or name not in p.defs:
            return None
        self.visiting.add(name)
        kinds: set[str] = set()
        result: Kinds | None = None
        for head_kind, fields in p.defs[name]:
            if head_kind == "Func":
                break
            bodies = fields.get("bodies") or []
            if not bodies:
                break
            guards = [self.body(b) for b in bodies]
            if any(g is None for g in guards):
                break
            for g in guards:
                kinds.update(g or ())
        else:
            result = frozenset(kinds)
        self.visiting.discard(name)
        self.memo[name] = result
        return result

    def _complete(self, name: str) -> bool:
        defs = self.package.defs.get(name) or []
        return bool(defs) and all(h == "Compr" and node(f["head"])[1].get("refr", {}).get("Var") is not None
                                  for h, f in defs)

    def _constant(self, name: str) -> Kinds | None:
        """The strings of a rule defined once as a literal set/array of strings."""
        defs = self.package.defs.get(name) or []
        if len(defs) != 1 or name in self.package.defaults or name in self.package.shadowed:
            return None
        head_kind, fields = defs[0]
        head = node(fields.get("head"))[1]
        assign = head.get("assign") if head_kind == "Compr" else None
        if fields.get("bodies") or not isinstance(assign, dict) or node(head.get("refr"))[0] != "Var":
            return None
        return _strings(assign.get("value"))

    def body(self, body: dict[str, Any]) -> Kinds | None:
        query = body.get("query") or {}
        for stmt in query.get("stmts") or []:
            if stmt.get("with_mods"):
                return None
            kind, fields = node(stmt.get("literal"))
            if kind == "SomeVars":
                continue  # declarations evaluate nothing
            if kind == "SomeIn":
                return self._iterated(fields.get("collection"))
            if kind == "Expr":
                return self._expr(fields.get("expr"))
            return None
        return None

    def _iterated(self, value: Any) -> Kinds | None:
        kind, fields = node(value)
        if kind == "Var" and str(fields.get("value")) in self.package.defs:
            return self.rule(str(fields["value"]))
        return None

    def _expr(self, expr: Any) -> Kinds | None:
        kind, fields = node(expr)
        if kind == "BoolExpr" and fields.get("op") == "Eq":
            lhs, rhs = fields.get("lhs"), fields.get("rhs")
            for a, b in ((lhs, rhs), (rhs, lhs)):
                b_kind, b_fields = node(b)
                if _is_input_kind(a) and b_kind in ("String", "RawString"):
                    return frozenset({str(b_fields.get("value"))})
        if kind == "Membership" and fields.get("key") is None and _is_input_kind(fields.get("value")):
            coll_kind, coll = node(fields.get("collection"))
            if coll_kind == "Var":
                return self._constant(str(coll.get("value")))
            return _strings(fields.get("collection"))
        if kind == "RefBrack":  # R[x], R[[a, b]]: iterates R
            index_kind, index = node(fields.get("index"))
            plain = index_kind == "Var" or (index_kind == "Array" and all(node(i)[0] == "Var"
                                                                          for i in index.get("items") or []))
            return self._iterated(fields.get("refr")) if plain else None
        if kind == "AssignExpr" and fields.get("op") == "ColEq" and node(fields.get("lhs"))[0] == "Var":
            return self._strict(fields.get("rhs"))
        return self._strict(expr)

    def _strict(self, value: Any) -> Kinds | None:
        """A guarded complete rule that ``value`` must evaluate, every other part error-free."""
        kind, fields = node(value)
        if kind == "Var":
            name = str(fields.get("value"))
            return self.rule(name) if self._complete(name) else None
        if kind == "Call":
            fcn = ref_path(fields.get("fcn"), b"")
            params = fields.get("params") or []
            if fcn is None or ".".join(fcn) not in native.builtins() or fcn[0] in self.package.defs \
                    or fcn[0] in self.package.shadowed:
                return None  # a function of the package could fail with an error before the guard
            if not all(_error_free(p) or node(p)[0] == "Var" for p in params):
                return None
            for p in params:
                if not _error_free(p):
                    found = self._strict(p)
                    if found is not None:
                        return found
                    if node(p)[0] == "Var":
                        return None
        return None


def kind_guard(modules: Iterable[Module], packages: Iterable[tuple[str, ...]], rules: dict[str, set[str]]
               ) -> Kinds | None:
    """The kinds a document must have for any of ``rules`` (package name -> rule names) to
    produce a value; None when that cannot be shown (every document is then evaluated)."""
    mods = list(modules)
    if any("print" in m.outline.calls for m in mods):
        return None
    kinds: set[str] = set()
    for package in packages:
        own = [m for m in mods if m.package == package]
        p = _Package(own)
        if not p.ok:
            return None
        analysis = _Analysis(p)
        for name in rules.get(".".join(package), ()):
            found = analysis.rule(name)
            if found is None:
                return None
            kinds.update(found)
    return frozenset(kinds)


def input_guards(modules: Iterable[Module], package: tuple[str, ...], rule: str) -> tuple[InputGuard, ...] | None:
    """The tests of which one must hold on an input for rule ``rule`` of ``package`` to have a value
    (see the module docstring); None when that cannot be shown (every input is then evaluated)."""
    mods = list(modules)
    if any("print" in m.outline.calls for m in mods):
        return None  # skipping an evaluation would lose its print output
    p = _Package([m for m in mods if m.package == package])
    if not p.ok or rule in p.defaults or "input" in p.shadowed or rule not in p.defs:
        return None
    out: list[InputGuard] = []
    for head_kind, fields in p.defs[rule]:
        bodies = fields.get("bodies") or []
        if head_kind == "Func" or not bodies:
            return None
        for body in bodies:
            guard = _input_equality(body)
            if guard is None:
                return None
            out.append(guard)
    return tuple(out)


def _input_equality(body: dict[str, Any]) -> InputGuard | None:
    """``(path, value)`` when the body's first statement is ``input.<path> == value``."""
    stmts = (body.get("query") or {}).get("stmts") or []
    if not stmts or stmts[0].get("with_mods"):
        return None
    kind, fields = node(stmts[0].get("literal"))
    if kind != "Expr":
        return None
    kind, fields = node(fields.get("expr"))
    if kind != "BoolExpr" or fields.get("op") != "Eq":
        return None
    lhs, rhs = fields.get("lhs"), fields.get("rhs")
    for a, b in ((lhs, rhs), (rhs, lhs)):
        path = _input_path(a)
        b_kind, b_fields = node(b)
        value = b_fields.get("value")
        if path is not None and ((b_kind in ("String", "RawString") and isinstance(value, str))
                                 or (b_kind == "Bool" and isinstance(value, bool))):
            return path, value
    return None


def _input_path(value: Any) -> tuple[str, ...] | None:
    """The keys of ``input.a["b"].c`` (every key a literal string); None for anything else."""
    keys: list[str] = []
    while True:
        kind, fields = node(value)
        if kind == "Var":
            return tuple(reversed(keys)) if fields.get("value") == "input" and keys else None
        if kind == "RefDot":
            field_ = fields.get("field")
            name = field_[1] if isinstance(field_, list) and len(field_) > 1 else None
        elif kind == "RefBrack":
            index_kind, index = node(fields.get("index"))
            name = index.get("value") if index_kind in ("String", "RawString") else None
        else:
            return None
        if not isinstance(name, str):
            return None
        keys.append(name)
        value = fields.get("refr")


def holds(guards: Sequence[InputGuard], input_value: Any) -> bool:
    """Whether one of the guards holds on ``input_value`` as Rego's ``==`` compares: the value at
    the path (through objects only: a key of an array, a string or a scalar is undefined) is a
    string equal to the string, or the boolean (``true`` never equals ``1``). A value of a type
    no document holds counts as holding (the input is evaluated)."""
    for path, expected in guards:
        value = input_value
        for key in path:
            if isinstance(value, dict):
                if key not in value:
                    break  # undefined: the statement fails
                value = value[key]
            elif value is None or isinstance(value, list | str | int | float):
                break  # a key of anything but an object is undefined
            else:
                return True
        else:
            if not (value is None or isinstance(value, dict | list | str | int | float)):
                return True  # (a boolean is an int)
            if value is expected if isinstance(expected, bool) else isinstance(value, str) and value == expected:
                return True
    return False
