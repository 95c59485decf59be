"""What a module declares and uses, read from regorus's AST: package, imports, rules, functions,
calls (for the builtin check) and the rules each rule refers to (for the recursion check).

OPA refuses recursion between rules and functions at compile time (``rego_recursion_error``);
regorus refuses recursive rules but overflows its stack on a recursive function, so the gate
checks the reference graph itself before any evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.rego.rewrite import node

Key = tuple[tuple[str, ...], str]  # (package, rule name)


@dataclass(slots=True)
class Outline:
    """The parts of one module the loader needs."""

    package: tuple[str, ...] = ()
    imports: dict[str, tuple[str, ...]] = field(default_factory=dict)  # alias -> imported path
    rules: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)
    lines: dict[str, int] = field(default_factory=dict)  # rule name -> line of its first head
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # (first line, last line, rule)
    calls: dict[str, int] = field(default_factory=dict)  # called name -> first line
    refs: dict[str, set[Key]] = field(default_factory=dict)  # rule -> rules it refers to (resolved later)
    raw_refs: dict[str, set[tuple[str, ...]]] = field(default_factory=dict)  # rule -> dotted references

    def rule_at(self, line: int) -> str | None:
        """The rule whose text holds ``line`` (for error messages)."""
        for first, last, name in self.spans:
            if first <= line <= last:
                return name
        return None


def ref_path(value: Any, src: bytes) -> tuple[str, ...] | None:
    """``a.b["c"]`` as ("a", "b", "c"); None when a part is not a name or a string."""
    kind, fields = node(value)
    if kind == "Var":
        return (str(fields.get("value")),)
    if kind == "RefDot":
        base = ref_path(fields.get("refr"), src)
        f = fields.get("field")
        name = f[1] if isinstance(f, list) and len(f) > 1 else None
        return None if base is None or not isinstance(name, str) else (*base, name)
    if kind == "RefBrack":
        base = ref_path(fields.get("refr"), src)
        ikind, ifields = node(fields.get("index"))
        if base is not None and ikind in ("String", "RawString") and isinstance(ifields.get("value"), str):
            return (*base, ifields["value"])
        return base
    return None


def _span_text(s: Any, src: bytes) -> str:
    if isinstance(s, dict) and "start" in s:
        return src[int(s["start"]):int(s["end"])].decode("utf-8", "replace")
    return ""


def outline(ast: dict[str, Any], src: bytes) -> Outline:
    """Read the outline of a parsed module."""
    out = Outline()
    pkg = ref_path((ast.get("package") or {}).get("refr"), src)
    out.package = tuple(pkg or ())
    for imp in ast.get("imports") or []:
        path = ref_path(imp.get("refr"), src)
        if not path:
            continue
        alias = _span_text(imp.get("as"), src) or path[-1]
        out.imports[alias] = path
    for rule in ast.get("rules") or []:
        kind, fields = node(rule)
        if kind == "Default":
            path = ref_path(fields.get("refr"), src)
            if path:
                out.rules.add(path[0])
                out.lines.setdefault(path[0], int((fields.get("span") or {}).get("line", 0)))
            continue
        if kind != "Spec":
            continue
        hkind, head = node(fields.get("head"))
        path = ref_path(head.get("refr"), src)
        if not path:
            continue
        name = path[0]
        out.rules.add(name)
        s = fields.get("span") or {}
        first = int(s.get("line", 0))
        out.lines.setdefault(name, first)
        last = first + src[int(s.get("start", 0)):int(s.get("end", 0))].count(b"\n")
        out.spans.append((first, last, name))
        if hkind == "Func":
            out.functions.add(name)
        declared = _declared(fields, src)
        refs = out.raw_refs.setdefault(name, set())
        for value, is_call in _uses(fields):
            vpath = ref_path(value, src)
            if vpath is None:
                continue
            if is_call:
                dotted = ".".join(vpath)
                line = int((node(value)[1].get("span") or {}).get("line", first))
                out.calls.setdefault(dotted, line)
            if vpath[0] not in declared:
                refs.add(vpath)
    return out


def _declared(rule: dict[str, Any], src: bytes) -> set[str]:
    """Names a rule declares locally anywhere (function arguments, ``:=``, ``some``, ``every``);
    they shadow rules of the same name (over-approximated across scopes)."""
    names: set[str] = set()
    _, head = node(rule.get("head"))
    for arg in head.get("args") or []:
        names.update(_vars(arg))
    for value in _walk(rule):
        kind, fields = node(value)
        if kind == "AssignExpr" and fields.get("op") == "ColEq":
            names.update(_vars(fields.get("lhs")))
        elif kind == "SomeVars":
            names.update(_span_text(s, src) for s in fields.get("vars") or [])
        elif kind == "SomeIn":
            names.update(_vars(fields.get("key")))
            names.update(_vars(fields.get("value")))
        elif kind == "Every":
            for part in (fields.get("key"), fields.get("value")):
                if isinstance(part, dict) and "start" in part:
                    names.add(_span_text(part, src))
                else:
                    names.update(_vars(part))
    return names


def _vars(value: Any) -> set[str]:
    out: set[str] = set()
    for item in _walk(value):
        kind, fields = node(item)
        if kind == "Var" and isinstance(fields.get("value"), str):
            out.add(fields["value"])
    return out


def _walk(value: Any) -> Iterator[Any]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            yield item
            stack.extend(v for k, v in item.items() if k != "span" and isinstance(v, dict | list))


def _uses(rule: dict[str, Any]) -> Iterator[tuple[Any, bool]]:
    """Every outermost reference (a Var, or a ref chain) and every call's function name, with a
    flag telling calls apart."""
    _, head = node(rule.get("head"))
    stack: list[Any] = [v for k, v in head.items() if k not in ("span", "refr", "args")]
    stack.append(rule.get("bodies") or [])
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        kind, fields = node(item)
        if kind == "Call":
            yield fields.get("fcn"), True
            stack.extend(fields.get("params") or [])
            continue
        if kind in ("Var", "RefDot", "RefBrack"):
            yield item, False
            base: Any = item
            while node(base)[0] in ("RefDot", "RefBrack"):
                bfields = node(base)[1]
                if node(base)[0] == "RefBrack":
                    stack.append(bfields.get("index"))
                base = bfields.get("refr")
            if node(base)[0] not in ("Var", ""):
                stack.append(base)
            continue
        stack.extend(v for k, v in item.items() if k != "span" and isinstance(v, dict | list))


def resolve(outline_: Outline, rule: str, known: dict[tuple[str, ...], set[str]]) -> set[Key]:
    """The rules (of any loaded package) that ``rule`` refers to."""
    out: set[Key] = set()
    own = known.get(outline_.package, set())
    for path in outline_.raw_refs.get(rule, set()):
        head = path[0]
        if head in own and len(path) >= 1:
            out.add((outline_.package, head))
            continue
        if head == "data":
            full = path[1:]
        elif head in outline_.imports and outline_.imports[head][:1] == ("data",):
            full = (*outline_.imports[head][1:], *path[1:])
        else:
            continue
        for cut in range(len(full) - 1, 0, -1):
            pkg = full[:cut]
            if pkg in known and full[cut] in known[pkg]:
                out.add((pkg, full[cut]))
                break
    return out


def find_cycle(outlines: Iterable[Outline]) -> list[Key] | None:
    """A cycle of rule references across the modules (OPA refuses it), or None."""
    outlines = list(outlines)
    known: dict[tuple[str, ...], set[str]] = {}
    for o in outlines:
        known.setdefault(o.package, set()).update(o.rules)
    graph: dict[Key, set[Key]] = {}
    for o in outlines:
        for rule in o.rules:
            graph.setdefault((o.package, rule), set()).update(resolve(o, rule, known))
    state: dict[Key, int] = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack: list[tuple[Key, Iterator[Key]]] = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            current, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[current] = 2
                stack.pop()
                path.pop()
                continue
            if state.get(child) == 1:
                return [*path[path.index(child):], child]
            if not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph.get(child, set())))))
    return None
