"""Validation patterns compiled into Python functions that decide pass, skip or fail.

``checker(pattern)`` gives a function of a resource (sub)tree returning 0 when the pattern
matches (``Matcher.match`` gives None), 1 when it does not apply (a conditional or global anchor
did not hold: a skip) and 2 when it fails, with the interpreter's exact semantics and order (the
first anchor or key that does not hold decides between skip and failure). The code is generated
once per pattern: map keys become straight-line ``dict`` reads, value operators specialised
tests (``startswith`` for ``ghcr.io/*``, ``==`` for integers), lists loops. It says nothing about
where a pattern failed: callers run the interpreter (``pattern.Matcher``) for that, so messages and
paths come from one place. Keys written with wildcards are expanded per resource: when a resource
key matches one, the map is handed to the interpreter's node.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from gatekeeper.kyverno import pattern as pm
from gatekeeper.kyverno import wildcard
from gatekeeper.kyverno.errors import UNLIMITED

Checker = Callable[[Any], int]
# a pattern whose code would need more names than this is left to the interpreter: generating and
# compiling code grows with the pattern, and plans are made before the evaluation workers fork
# (outside their limits); the library's largest pattern needs 20
MAX_NAMES = 2000


class PatternTooLarge(ValueError):
    """A pattern too large to generate code for (the interpreter evaluates it)."""


PASS, SKIP, FAIL = 0, 1, 2
_CACHE: dict[int, tuple[Any, Checker]] = {}
_MATCHER = pm.Matcher(UNLIMITED)


def checker(pattern: Any) -> Checker:
    """The compiled check of a long-lived pattern (remembered while it lives, by identity)."""
    hit = _CACHE.get(id(pattern))
    if hit is not None and hit[0] is pattern:
        return hit[1]
    made = _Gen().build(pattern)
    if len(_CACHE) < 50_000:
        _CACHE[id(pattern)] = (pattern, made)
    return made


def _tri(failed: Any) -> int:
    return PASS if failed is None else SKIP if failed.skip else FAIL


def wildcard_test(pattern: str) -> Callable[[str], bool]:
    """``wildcard.match(pattern, text)`` for one pattern, as the cheapest equivalent string test."""
    return wildcard.compile_test(pattern)


_MEMO_SIZE = 4096  # texts remembered per compared operand (quantities and durations repeat)


def _part_test(part: Any) -> Callable[[str], bool]:
    if part.either is not None or part.duration is not None or part.quantity is not None:
        seen: dict[str, bool] = {}  # text -> outcome: parsing and comparing fractions is the cost

        def compared(text: str) -> bool:
            found = seen.get(text)
            if found is None:
                found = pm._test(text, part)
                if len(seen) < _MEMO_SIZE:
                    seen[text] = found
            return found
        return compared
    if part.op == "=":
        return wildcard_test(part.operand)
    if part.op == "!":
        positive = wildcard_test(part.operand)
        return lambda text: not positive(text)
    return lambda text: False


def string_test(pattern: str) -> Callable[[Any], bool]:
    """``value_matches(value, pattern)`` for one string pattern (``a | b & c``, operators, ranges)."""
    alternatives = [[_part_test(p) for p in alt] for alt in pm._parse(pattern)]
    as_text = pm._as_text
    if len(alternatives) == 1 and len(alternatives[0]) == 1:
        only = alternatives[0][0]

        def single(value: Any) -> bool:
            if value == pattern:
                return True
            text = value if value.__class__ is str else as_text(value)
            return text is not None and only(text)
        return single

    def several(value: Any) -> bool:
        if value == pattern:
            return True
        text = value if value.__class__ is str else as_text(value)
        if text is None:
            return False
        for tests in alternatives:
            for test in tests:
                if not test(text):
                    break
            else:
                return True
        return False
    return several


class _Gen:
    """Generates the source of one pattern's check: a function per map or list node."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ns: dict[str, Any] = {"_tri": _tri, "_M": _MATCHER, "_empty": pm._empty, "_num": pm._number_matches,
                                   "_vm": pm.value_matches}
        self.count = 0

    def name(self, prefix: str, value: Any = None) -> str:
        self.count += 1
        if self.count > MAX_NAMES:
            raise PatternTooLarge(f"pattern needs more than {MAX_NAMES} generated names")
        name = f"{prefix}{self.count}"
        if value is not None:
            self.ns[name] = value
        return name

    def build(self, pattern: Any) -> Checker:
        top = self.function(pattern)
        source = "\n".join(self.lines)
        # the source holds only generated names and repr() literals (keys, ints, bools); pattern
        # values live in the namespace, so no policy text is ever run as code
        exec(compile(source, "<kyverno pattern>", "exec"), self.ns)
        made: Checker = self.ns[top]
        return made

    # -- functions ---------------------------------------------------------------------------

    def function(self, pattern: Any) -> str:
        """Emit a function ``f(v) -> 0/1/2`` for a pattern node; its name."""
        name = self.name("_f")
        body: list[str] = []
        self.node(pattern, "v", body, 1)
        self.lines.append(f"def {name}(v):")
        self.lines.extend(body)
        self.lines.append("    return 0")
        return name

    def node(self, pattern: Any, var: str, out: list[str], depth: int) -> None:
        """Code that returns 1/2 from the enclosing function when ``var`` does not match, and falls
        through when it does."""
        if isinstance(pattern, dict):
            self.map(pattern, var, out, depth)
        elif isinstance(pattern, list):
            self.sequence(pattern, var, out, depth)
        else:
            self.value(pattern, var, out, depth)

    def map(self, pattern: dict[str, Any], var: str, out: list[str], depth: int) -> None:
        pad = "    " * depth
        out.append(f"{pad}if not isinstance({var}, dict): return 2")
        tests = []
        for key in pattern:
            if wildcard.has_wildcard(key):
                anchor = pm.parse_anchor(key)
                inner = anchor[1] if anchor and anchor[0] != "unknown" else key
                if wildcard.has_wildcard(inner):
                    tests.append(self.name("_w", inner))
        if tests:
            # keys with wildcards are expanded per resource: when no resource key matches one the
            # expansion is the pattern itself; otherwise the interpreter's node expands and matches
            node = self.name("_n", pm._MapNode(pattern))
            self.ns["_wmatch"] = wildcard.match
            n = self.count
            self.count += 1
            cond = " or ".join(f"_wmatch({t}, k{n})" for t in tests)
            out.append(f"{pad}for k{n} in {var}:")
            out.append(f"{pad}    if {cond}:")
            out.append(f"{pad}        r = _tri({node}.run(_M, {var}))")
            out.append(f"{pad}        if r: return r")
            out.append(f"{pad}        break")
            out.append(f"{pad}else:")
            body: list[str] = []
            self.keys(pattern, var, body, depth + 1)
            out.extend(body or [f"{pad}    pass"])
            return
        self.keys(pattern, var, out, depth)

    def keys(self, pattern: dict[str, Any], var: str, out: list[str], depth: int) -> None:
        """The checks of a map's keys in the interpreter's order: conditional and global anchors,
        the other anchors, then plain keys (those holding a global anchor first)."""
        pad = "    " * depth
        first: list[tuple[str, str, Any]] = []
        later: list[tuple[str, str, Any]] = []
        plain: list[tuple[str, Any, bool]] = []
        for key in sorted(pattern):
            anchor = pm.parse_anchor(key)
            if anchor is None:
                plain.append((key, pattern[key], pm._has_global(pattern[key])))
            elif anchor[0] in ("conditional", "global"):
                first.append((anchor[0], anchor[1], pattern[key]))
            else:
                later.append((anchor[0], anchor[1], pattern[key]))
        plain.sort(key=lambda kv: not kv[2])
        for kind, key, sub in (*first, *later):
            self.anchor(kind, key, sub, var, out, depth)
        for key, sub, _ in plain:
            child = f"x{self.count}_{depth}"
            self.count += 1
            out.append(f"{pad}{child} = {var}.get({key!r})")
            self.node(sub, child, out, depth)

    def anchor(self, kind: str, key: str, sub: Any, var: str, out: list[str], depth: int) -> None:
        pad = "    " * depth
        if kind in ("conditional", "global"):
            inner = self.function(sub)
            out.append(f"{pad}if {key!r} not in {var} or {inner}({var}[{key!r}]): return 1")
        elif kind == "equality":
            out.append(f"{pad}if {key!r} in {var}:")
            child = f"x{self.count}_{depth}"
            self.count += 1
            out.append(f"{pad}    {child} = {var}[{key!r}]")
            self.node(sub, child, out, depth + 1)
        elif kind == "negation":
            out.append(f"{pad}if {key!r} in {var}: return 2")
        elif kind == "existence":
            items = sub if isinstance(sub, list) else [sub]
            checks = [self.function(item) for item in items]
            child = f"x{self.count}_{depth}"
            self.count += 1
            out.append(f"{pad}if {key!r} in {var}:")
            out.append(f"{pad}    {child} = {var}[{key!r}]")
            out.append(f"{pad}    if not isinstance({child}, list): return 2")
            for check in checks:
                out.append(f"{pad}    for it in {child}:")
                out.append(f"{pad}        if not {check}(it): break")
                out.append(f"{pad}    else: return 2")
        else:
            out.append(f"{pad}return 2")

    def sequence(self, pattern: list[Any], var: str, out: list[str], depth: int) -> None:
        pad = "    " * depth
        out.append(f"{pad}if not isinstance({var}, list): return 2")
        if not pattern:
            out.append(f"{pad}return 2")
            return
        if isinstance(pattern[0], dict):
            check = self.function(pattern[0])
            n = self.count
            self.count += 1
            out.append(f"{pad}applied{n} = skipped{n} = 0")
            out.append(f"{pad}for it in {var}:")
            out.append(f"{pad}    r = {check}(it)")
            out.append(f"{pad}    if r == 0: applied{n} = 1")
            out.append(f"{pad}    elif r == 1: skipped{n} = 1")
            out.append(f"{pad}    else: return 2")
            out.append(f"{pad}if skipped{n} and not applied{n}: return 1")
            return
        out.append(f"{pad}if len({var}) < {len(pattern)}: return 2")
        for i, item in enumerate(pattern):
            check = self.function(item)
            out.append(f"{pad}r = {check}({var}[{i}])")
            out.append(f"{pad}if r: return r")

    def value(self, pattern: Any, var: str, out: list[str], depth: int) -> None:
        pad = "    " * depth
        test = self.test(pattern)
        out.append(f"{pad}if isinstance({var}, list):")
        out.append(f"{pad}    for it in {var}:")
        out.append(f"{pad}        if not ({test.format(v='it')}): return 2")
        out.append(f"{pad}elif not ({test.format(v=var)}): return 2")

    def test(self, pattern: Any) -> str:
        """An expression over ``{v}``: True when ``value_matches(v, pattern)``."""
        if isinstance(pattern, bool):
            return "{v}.__class__ is bool and {v} == " + repr(pattern)
        if isinstance(pattern, int):
            exact = self.name("_q", Fraction(pattern))
            return "({v} == " + repr(pattern) + " if {v}.__class__ is int else _num({v}, " + exact + "))"
        if pattern is None or pattern == "":
            return "_empty({v})"
        if isinstance(pattern, str):
            return self.name("_s", string_test(pattern)) + "({v})"
        return "_vm({v}, " + self.name("_p", [pattern]) + "[0])"
