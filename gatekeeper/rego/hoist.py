"""Hoist iterated references out of function-call arguments (a rego-cpp difference from OPA).

OPA evaluates ``startswith(image, repos[_])`` by iterating ``repos``; rego-cpp rejects a
``_`` there and leaves a call like ``f(xs[i])`` with an unbound ``i`` undefined. Rewriting

    startswith(image, input.parameters.repos[_])
    ->  __gkw1 := input.parameters.repos[_]; startswith(image, __gkw1)

gives the same result in both engines for a positive expression. Under ``not`` the meaning
would change (OPA reads ``not f(xs[_])`` as "for no element"), so such a call with ``_`` is a
load error instead. The rewrite stays on the expression's first line, so lines are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from gatekeeper.rego.tokens import Token, tokenize


class HoistError(ValueError):
    """An iterated reference inside a negated call: no faithful rewrite exists."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


_LITERAL_AFTER = frozenset({"contains", "in", "not", "some", "with", "as", "default"})


@dataclass(slots=True)
class _Frame:
    opener: Token
    kind: str  # body, comprehension, call, group, array, object
    expr_start: int
    index: int = 0


def hoist(text: str) -> str:
    """Rewrite a module so no call argument iterates a reference."""
    sig = [t for t in tokenize(text) if t.significant]
    inserts: dict[int, list[str]] = {}
    replaces: list[tuple[int, int, str]] = []
    stack: list[_Frame] = []
    counter = 0
    last_closed: tuple[int, int] | None = None  # (opener index, closer index) of the last closed bracket
    k = 0
    while k < len(sig):
        tok = sig[k]
        if tok.kind == "nl" or tok.is_punct(";"):
            if stack and stack[-1].kind in ("body", "comprehension"):
                stack[-1].expr_start = k + 1
            k += 1
            continue
        if tok.is_punct("|") and stack and stack[-1].kind in ("array", "object"):
            stack[-1].kind = "comprehension"
            stack[-1].expr_start = k + 1
            k += 1
            continue
        if tok.kind == "punct" and tok.text in "([{":
            if tok.is_punct("[") and last_closed is not None and last_closed[1] == k - 1 \
                    and _is_literal(sig, last_closed[0]):
                counter = _hoist_literal(text, sig, last_closed[0], k - 1, stack, inserts, replaces, counter)
            stack.append(_Frame(tok, _kind(sig, k), k + 1, k))
            if tok.is_punct("[") and _is_iteration(sig, k) and _in_call(stack):
                counter, k = _hoist_ref(text, sig, k, stack, inserts, replaces, counter)
                continue
            k += 1
            continue
        if tok.kind == "punct" and tok.text in ")]}":
            if stack:
                frame = stack.pop()
                last_closed = (frame.index, k)
            k += 1
            continue
        k += 1
    replaces.extend(_iterated_assignments(sig))
    if not replaces:
        return text
    edits = [(pos, pos, "".join(parts)) for pos, parts in inserts.items()] + replaces
    out, pos = [], 0
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1])):
        out.append(text[pos:start])
        out.append(new)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _kind(sig: list[Token], k: int) -> str:
    tok = sig[k]
    prev = sig[k - 1] if k > 0 else None
    if tok.is_punct("("):
        return "call" if prev is not None and prev.kind == "ident" and prev.text not in ("not", "if") else "group"
    if tok.is_punct("["):
        return "array"
    if prev is not None and ((prev.kind == "ident" and prev.text not in _LITERAL_AFTER) or prev.is_punct("}")
                             or prev.is_punct(")")):
        return "body"
    return "object"


def _is_iteration(sig: list[Token], k: int) -> bool:
    """``[x]`` (one identifier) directly after a reference: an index that may iterate."""
    prev = sig[k - 1] if k > 0 else None
    return (prev is not None and (prev.kind == "ident" or prev.is_punct("]"))
            and k + 2 < len(sig) and sig[k + 1].kind == "ident" and sig[k + 2].is_punct("]"))


def _container(stack: list[_Frame]) -> int | None:
    """Index of the innermost rule body or comprehension frame."""
    for i in range(len(stack) - 1, -1, -1):
        if stack[i].kind in ("body", "comprehension"):
            return i
    return None


def _in_call(stack: list[_Frame]) -> bool:
    """True when a call is open between the innermost body/comprehension and the index bracket."""
    base = _container(stack[:-1])
    return base is not None and any(f.kind == "call" for f in stack[base + 1:-1])


def _hoist_ref(text: str, sig: list[Token], k: int, stack: list[_Frame], inserts: dict[int, list[str]],
               replaces: list[tuple[int, int, str]], counter: int) -> tuple[int, int]:
    """Hoist the reference whose index bracket opens at ``k``; returns (counter, next index)."""
    stack.pop()  # the index bracket is handled here
    index = _container(stack)
    container = stack[index] if index is not None else None
    start = _ref_start(sig, k)
    end = _ref_end(sig, k)
    if container is None or container.kind not in ("body", "comprehension"):
        return counter, end  # not inside a rule body: leave it to the engine
    first = sig[container.expr_start] if container.expr_start < len(sig) else None
    if first is not None and first.kind == "ident" and first.text == "not":
        if sig[k + 1].text == "_":
            raise HoistError("'not' over a call whose argument iterates with '_' is not supported by the "
                             "embedded engine; bind the element first (x := xs[_]) or use a helper rule",
                             sig[k].line)
        return counter, end
    if first is None:
        return counter, end
    counter += 1
    name = f"__gkw{counter}"
    ref_text = text[sig[start].start:sig[end - 1].start + len(sig[end - 1].text)]
    inserts.setdefault(first.start, []).append(f"{name} = {ref_text}; ")
    replaces.append((sig[start].start, sig[end - 1].start + len(sig[end - 1].text), name))
    return counter, end


def _ref_start(sig: list[Token], k: int) -> int:
    j = k - 1
    while j > 0:
        tok = sig[j]
        if tok.is_punct("]"):
            depth = 0
            while j >= 0:
                depth += 1 if sig[j].is_punct("]") else -1 if sig[j].is_punct("[") else 0
                if depth == 0:
                    break
                j -= 1
            j -= 1
            continue
        if tok.kind == "ident" and sig[j - 1].is_punct("."):
            j -= 2
            continue
        break
    return j


def _ref_end(sig: list[Token], k: int) -> int:
    j = k + 3
    while j < len(sig):
        if sig[j].is_punct(".") and j + 1 < len(sig) and sig[j + 1].kind == "ident":
            j += 2
        elif sig[j].is_punct("["):
            depth = 0
            while j < len(sig):
                depth += 1 if sig[j].is_punct("[") else -1 if sig[j].is_punct("]") else 0
                j += 1
                if depth == 0:
                    break
        else:
            break
    return j


def _is_literal(sig: list[Token], opener: int) -> bool:
    """True when the bracket at ``opener`` starts an array/set/object literal, not an index."""
    prev = sig[opener - 1] if opener > 0 else None
    return not (prev is not None and (prev.kind in ("ident", "string") or prev.is_punct("]")
                                      or prev.is_punct(")") or prev.is_punct("}")))


def _hoist_literal(text: str, sig: list[Token], opener: int, closer: int, stack: list[_Frame],
                   inserts: dict[int, list[str]], replaces: list[tuple[int, int, str]], counter: int) -> int:
    """``[a, b][_]`` crashes rego-cpp; bind the literal to a variable first."""
    index = _container(stack)
    container = stack[index] if index is not None else None
    if container is None or container.kind not in ("body", "comprehension") \
            or container.expr_start >= len(sig) or container.expr_start > opener:
        return counter
    first = sig[container.expr_start]
    counter += 1
    name = f"__gkw{counter}"
    literal = text[sig[opener].start:sig[closer].start + 1]
    inserts.setdefault(first.start, []).append(f"{name} := {literal}; ")
    replaces.append((sig[opener].start, sig[closer].start + 1, name))
    return counter


def _iterated_assignments(sig: list[Token]) -> list[tuple[int, int, str]]:
    """``x := ref[_]`` followed by ``obj[x]`` crashes rego-cpp; ``x = ref[_]`` (same meaning for a
    fresh local) does not. Rewrite ``:=`` to ``=`` where the assigned value iterates, unless the
    name is a rule of the module (where ``=`` would compare instead of declaring)."""
    from gatekeeper.rego.tokens import statements

    rules = {stmt[0].text for stmt in statements(sig) if stmt and stmt[0].kind == "ident"}
    out: list[tuple[int, int, str]] = []
    depth = 0
    stmt_start = 0
    for k, tok in enumerate(sig):
        if tok.kind == "punct" and tok.text in "([{":
            depth += 1
        elif tok.kind == "punct" and tok.text in ")]}":
            depth -= 1
        elif tok.kind == "nl" and depth == 0:
            stmt_start = k + 1
        if tok.is_punct("=") and depth > 0 and k >= 2:
            fresh = _fresh_unification(sig, k, stmt_start, rules)
            if fresh:
                out.append((tok.start, tok.start + 1, ":="))
            continue
        if not tok.is_punct(":=") or depth == 0 or k < 2:
            continue
        name, before = sig[k - 1], sig[k - 2]
        if name.kind != "ident" or name.text in rules or name.text == "_":
            continue
        if not (before.kind == "nl" or before.is_punct(";") or before.is_punct("{") or before.is_punct("|")):
            continue
        if _iterates(sig, k + 1) and _used_as_index(sig, k + 1, name.text):
            out.append((tok.start, tok.start + 2, "="))
    return out


def _fresh_unification(sig: list[Token], k: int, stmt_start: int, rules: set[str]) -> bool:
    """``x = expr`` at the start of an expression, ``x`` not seen before in the rule: OPA assigns
    a fresh variable, but rego-cpp may report a unification cycle (inside comprehensions that
    use outer variables). ``:=`` means the same there and avoids it."""
    name, before = sig[k - 1], sig[k - 2]
    if name.kind != "ident" or name.text in rules or name.text == "_" or name.text in ("input", "data"):
        return False
    if not (before.kind == "nl" or before.is_punct(";") or before.is_punct("{") or before.is_punct("|")):
        return False
    body = next((j for j in range(stmt_start, k) if sig[j].is_punct("{")
                 or (sig[j].kind == "ident" and sig[j].text == "if")), k)
    for j in range(stmt_start, k - 1):
        t = sig[j]
        if t.kind != "ident" or t.text != name.text:
            continue
        after = sig[j + 1]
        if j < body or after.is_punct(":=") or after.is_punct("=") or after.is_punct("]") \
                or after.is_punct(",") or sig[j - 1].text in ("some", ","):
            return False  # bound (or possibly bound) before: ``=`` may be a comparison
    return not _used_as_index(sig, k + 1, name.text)


def _used_as_index(sig: list[Token], start: int, name: str) -> bool:
    """True when ``[name]`` follows later in the same body (the case that crashes rego-cpp);
    elsewhere ``:=`` stays, since ``=`` can make rego-cpp report a unification cycle."""
    depth = 0
    for j in range(start, len(sig) - 2):
        tok = sig[j]
        if tok.kind == "punct" and tok.text in "([{":
            depth += 1
        elif tok.kind == "punct" and tok.text in ")]}":
            depth -= 1
            if depth < 0:
                return False
        if tok.is_punct("[") and sig[j + 1].kind == "ident" and sig[j + 1].text == name and sig[j + 2].is_punct("]"):
            return True
    return False


def _iterates(sig: list[Token], start: int) -> bool:
    """True when the expression from ``start`` to its end has an index ``[name]`` after a reference."""
    depth = 0
    for j in range(start, len(sig)):
        tok = sig[j]
        if depth == 0 and (tok.kind == "nl" or tok.is_punct(";") or tok.is_punct("|")):
            return False
        if tok.kind == "punct" and tok.text in "([{":
            if depth == 0 and tok.is_punct("[") and _is_iteration(sig, j):
                return True  # (iterations inside comprehensions or calls stay local to them)
            depth += 1
        elif tok.kind == "punct" and tok.text in ")]}":
            depth -= 1
            if depth < 0:
                return False
    return False


def fix_sprintf(text: str) -> str:
    """rego-cpp's ``sprintf`` prints ``%q`` literally; OPA quotes the value. In a format string
    literal passed to ``sprintf``, write ``%q`` as ``\\"%v\\"`` (identical for plain strings)."""
    sig = [t for t in tokenize(text) if t.significant]
    edits = []
    for k in range(len(sig) - 2):
        if sig[k].kind == "ident" and sig[k].text == "sprintf" and sig[k + 1].is_punct("(") \
                and sig[k + 2].kind == "string" and sig[k + 2].text.startswith('"') and "%q" in sig[k + 2].text:
            tok = sig[k + 2]
            edits.append((tok.start, tok.start + len(tok.text), _requote(tok.text)))
    if not edits:
        return text
    out: list[str] = []
    pos = 0
    for start, end, new in edits:
        out.extend((text[pos:start], new))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _requote(literal: str) -> str:
    out, i = [], 0
    while i < len(literal):
        if literal.startswith("%%", i):
            out.append("%%")
            i += 2
        elif literal.startswith("%q", i):
            out.append('\\"%v\\"')
            i += 2
        else:
            out.append(literal[i])
            i += 1
    return "".join(out)
