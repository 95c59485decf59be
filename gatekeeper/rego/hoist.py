"""Input-independent rules computed once per policy set, their values given to the engine as data.

regorus keeps no rule value between evaluations, so a rule that never reads the input (an
index over ``data.inventory``, a table built from parameters in data) is recomputed for every
object: a template that indexes the inventory costs O(inventory) per object and O(N^2) per run.
Such a rule has the same value for every input, so it is computed once, behind the evaluation
boundary, and every definition of it is replaced by a reference to that value, loaded as data
under ``data.__gatekeeper_hoisted`` (line numbers never move: the replaced text keeps its lines).

A rule is hoisted only when all of this holds, else the program is left as written:

* it is no function, and every definition has a plain head (``r``, ``r[k]``, not ``a.b.c``);
* neither it nor anything it refers to, transitively (rules, functions, imports), reads
  ``input``, a varying data document (``data.conftest``), a whole package or ``data`` itself,
  or calls a builtin whose value varies or that prints (``time.now_ns``, ``rand.intn``,
  ``print``...);
* some rule that does read the input refers to it (only those are worth computing once);
* no module of the set uses ``with`` on anything but ``input`` (``with data.x as`` or a mocked
  function would change the rule's value for one expression), and none reads ``data`` whole
  (it would see the added document);
* its value, computed once on an empty input, evaluates without error and loads back as data
  equal to it (``RegorusProgram.hoisted_values``); otherwise it stays a rule.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from gatekeeper.rego import native
from gatekeeper.rego.modules import Module
from gatekeeper.rego.outline import Key, ref_path, resolve

__all__ = ["ROOT", "UNDEFINED", "Key", "as_data", "evaluate", "hoistable", "rewrite"]
from gatekeeper.rego.rewrite import node
from gatekeeper.rego.tokens import TokenError, tokenize

ROOT = "__gatekeeper_hoisted"
# builtins whose value is not a function of their arguments, or that have an effect
VARYING_CALLS = frozenset({"time.now_ns", "rand.intn", "uuid.rfc4122", "opa.runtime", "print", "trace",
                           "http.send", "net.lookup_ip_addr"})


def hoistable(modules: Sequence[Module], varying_data: Iterable[str] = ("conftest",)) -> list[Key]:
    """The rules of the policy set to compute once (see the module docstring), in a stable order
    (remembered per policy set: a template compiled once per deployment unit is read once)."""
    key = (tuple((m.path, m.source, m.version) for m in modules), tuple(varying_data))
    if key not in _PLANS:
        if len(_PLANS) >= 256:
            _PLANS.clear()
        _PLANS[key] = _hoistable(modules, key[1])
    return list(_PLANS[key])


_PLANS: dict[tuple[Any, ...], list[Key]] = {}


def _hoistable(modules: Sequence[Module], varying_data: Iterable[str]) -> list[Key]:
    known: dict[tuple[str, ...], set[str]] = {}
    for m in modules:
        known.setdefault(m.outline.package, set()).update(m.outline.rules)
    functions = {(m.outline.package, f) for m in modules for f in m.outline.functions}
    varying = frozenset(varying_data)
    direct: dict[Key, bool] = {}
    deps: dict[Key, set[Key]] = {}
    for m in modules:
        o = m.outline
        for name in o.rules:
            key = (o.package, name)
            refs = o.raw_refs.get(name, set())
            direct[key] = direct.get(key, False) or any(
                _varies(path, o.imports, known, varying) for path in refs)
            deps.setdefault(key, set()).update(resolve(o, name, known))
    if any(_reads_data_root(m) for m in modules):
        return []
    tainted: dict[Key, bool] = {}

    def reads(key: Key) -> bool:
        if key not in tainted:
            tainted[key] = True  # recursion is refused before compiling; a cycle would stay tainted
            tainted[key] = direct.get(key, True) or any(reads(d) for d in deps.get(key, ()))
        return tainted[key]

    wanted = {d for key in deps if reads(key) for d in deps[key]
              if d not in functions and not reads(d)}
    if not wanted:
        return []
    asts = [(m, native.parse(m.path, m.source, m.v0)) for m in modules]
    if any(_with_beyond_input(ast, m.source.encode()) for m, ast in asts):
        return []
    for m, ast in asts:
        src = m.source.encode()
        for rule in ast.get("rules") or []:
            head, plain = _head(rule, src)
            if head is not None and not plain:
                wanted.discard((m.outline.package, head))
    return sorted(wanted)


def _varies(path: tuple[str, ...], imports: Mapping[str, tuple[str, ...]],
            known: Mapping[tuple[str, ...], set[str]], varying: frozenset[str]) -> bool:
    """Whether a reference (as the outline records it) reads something that differs between
    evaluations, or more than a known rule or a data document."""
    head = path[0]
    if head in imports:
        path = (*imports[head], *path[1:])
        head = path[0]
    if head == "input":
        return True
    if head != "data":
        return ".".join(path) in VARYING_CALLS
    full = path[1:]
    if not full or full[0] in varying or full[0] == ROOT:
        return True
    for cut in range(len(full) - 1, 0, -1):
        if full[:cut] in known and full[cut] in known[full[:cut]]:
            return False  # a rule: followed through the dependencies
    # a whole package (or a prefix of one): its every rule, the input-reading ones too
    return any(pkg[:len(full)] == full for pkg in known)


def _reads_data_root(module: Module) -> bool:
    o = module.outline
    return any(path == ("data",) or (path[0] in o.imports and o.imports[path[0]] == ("data",))
               for refs in o.raw_refs.values() for path in refs)


def _with_beyond_input(ast: Mapping[str, Any], src: bytes) -> bool:
    """Whether some ``with`` replaces anything but ``input`` (or a part of it)."""
    stack: list[Any] = [ast.get("rules") or []]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            for mod in item.get("with_mods") or []:
                target = ref_path(mod.get("refr"), src) if isinstance(mod, dict) else None
                if not target or target[0] != "input":
                    return True
            stack.extend(v for k, v in item.items() if k != "span" and isinstance(v, dict | list))
    return False


def _head(rule: Any, src: bytes) -> tuple[str | None, bool]:
    """A rule statement's name and whether its head is plain (``r``, ``r[k]``, ``default r``)."""
    kind, fields = node(rule)
    refr = fields.get("refr") if kind == "Default" else node(fields.get("head"))[1].get("refr")
    rkind, rfields = node(refr)
    if rkind == "Var":
        return str(rfields.get("value")), True
    path = ref_path(refr, src)
    if rkind == "RefBrack" and node(rfields.get("refr"))[0] == "Var":
        return (path[0] if path else None), kind != "Default"
    return (path[0] if path else None), False


def reference(key: Key) -> str:
    """The data reference that holds a hoisted rule's value."""
    return "data." + ROOT + "".join(f"[{json.dumps(p)}]" for p in (*key[0], key[1]))


def rule_reference(key: Key) -> str:
    """The rule's own reference (``data["pkg"]["rule"]``)."""
    return "data" + "".join(f"[{json.dumps(p)}]" for p in (*key[0], key[1]))


def as_data(values: Mapping[Key, Any]) -> dict[str, Any]:
    """The data document holding hoisted values (undefined rules absent)."""
    root: dict[str, Any] = {}
    for (package, name), value in values.items():
        place = root
        for part in package:
            place = place.setdefault(part, {})
        place[name] = value
    return {ROOT: root}


def rewrite(modules: Sequence[Module], keys: Iterable[Key]) -> list[Module]:
    """The modules with every statement of each hoisted rule replaced: the first by
    ``r := <its data reference>``, the others by nothing; each keeps its line count."""
    chosen = set(keys)
    if not chosen:
        return list(modules)
    # the text depends on the modules and the keys only (a template compiled once per deployment
    # unit is rewritten once)
    memo = (tuple((m.path, m.source, m.v0) for m in modules), frozenset(chosen))
    if memo not in _REWRITTEN:
        if len(_REWRITTEN) >= 256:
            _REWRITTEN.clear()
        _REWRITTEN[memo] = _rewrite(modules, chosen)
    return list(_REWRITTEN[memo])


_REWRITTEN: dict[tuple[Any, ...], list[Module]] = {}


def _rewrite(modules: Sequence[Module], chosen: set[Key]) -> list[Module]:
    written: set[Key] = set()
    out: list[Module] = []
    for m in modules:
        src = m.source.encode()
        edits: list[tuple[int, int, bytes]] = []
        for rule in native.parse(m.path, m.source, m.v0).get("rules") or []:
            name, _ = _head(rule, src)
            key = (m.outline.package, name or "")
            if key not in chosen:
                continue
            span = node(rule)[1].get("span") or {}
            start = int(span["start"])
            end = whole_tokens(src, start, int(span["end"]))
            text = b"" if key in written else f"{name} := {reference(key)}".encode()
            written.add(key)
            edits.append((start, end, text + b"\n" * src[start:end].count(b"\n")))
        if not edits:
            out.append(m)
            continue
        parts, pos = [], 0
        for start, end, text in sorted(edits):
            parts.extend([src[pos:start], text])
            pos = end
        parts.append(src[pos:])
        out.append(replace(m, source=b"".join(parts).decode()))
    return out


def whole_tokens(src: bytes, start: int, end: int) -> int:
    """``end`` moved to the end of the token it cuts: regorus's span of a rule whose text ends with
    a string literal stops before the closing quote (``a := "x`` for ``a := "x"``), and replacing
    that span would leave the quote behind (a module that no longer parses)."""
    text = src[start:].decode("utf-8", "replace")
    try:
        found = tokenize(text)
    except TokenError:
        return end
    pos = start
    for token in found:
        size = len(token.text.encode("utf-8"))
        if pos + size > end:
            return pos + size if pos < end else end
        pos += size
    return end


def evaluate(engine: Any, keys: Sequence[Key]) -> dict[Key, Any]:
    """Each rule's value on an empty input (the rule reads none), for the rules whose value
    evaluates without error and loads back as data equal to it; undefined rules map to ``UNDEFINED``.
    This runs policy code: call it behind the evaluation boundary."""
    engine.set_input({})
    values: dict[Key, Any] = {}
    for key in keys:
        try:
            result = engine.eval_query(f"x := {rule_reference(key)}").get("result") or []
        except RuntimeError:
            continue  # an error stays where the rule is evaluated for an object
        except (TypeError, ValueError, OverflowError):
            continue  # a value Python cannot hold (a set of arrays, an object keyed by arrays): the rule stays
        finally:
            engine.take_prints()
        values[key] = result[0]["bindings"]["x"] if result else UNDEFINED
    defined = {k: v for k, v in values.items() if v is not UNDEFINED}
    if not defined:
        return values
    probe = engine.clone()
    try:
        probe.add_data(as_data(defined))
    except (RuntimeError, TypeError, ValueError, OverflowError):
        return {k: v for k, v in values.items() if v is UNDEFINED}
    for key in list(defined):
        try:
            same = probe.eval_query(f"{reference(key)} == {rule_reference(key)}").get("result") or []
        except (RuntimeError, TypeError, ValueError):
            same = []
        finally:
            probe.take_prints()
        if not same:
            del values[key]
    return values


class _Undefined:
    """The value of a hoisted rule that is undefined (no data is loaded for it)."""

    def __reduce__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Any = _Undefined()
