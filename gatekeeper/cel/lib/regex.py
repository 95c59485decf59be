"""Kubernetes' regex library: ``find`` and ``findAll``, on the engine's own RE2.

Python's ``re`` backtracks (a hostile pattern can run for hours); RE2 runs in linear time.
So the implementations call the engine's RE2-backed ``regex.extract``/``regex.extractAll``
through a private helper environment, after turning every capturing group into a
non-capturing one (Kubernetes returns the whole match, the extract functions the group).
``find`` is Go's ``FindString`` (first match, "" when none). ``findAll`` is Go's
``FindAllString`` step by step, on RE2 (``google-re2``, matching from a position with the whole
text as context): successive non-overlapping matches, empty ones included except an empty match
right after the previous match (``'abc'.findAll('b*')`` is ``['', 'b', '']``), at most ``n`` of them
when ``n`` is not negative.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

from gatekeeper.cel.lib import Library, member


def without_groups(pattern: str) -> str:
    """``pattern`` with each capturing group (plain or named) made non-capturing."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            if pattern.startswith("\\Q", i):
                end = pattern.find("\\E", i + 2)
                end = n if end < 0 else end + 2
                out.append(pattern[i:end])
                i = end
                continue
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1  # a leading ] is a literal member of the class
            out.append(pattern[i:j])
            i = j
            continue
        if c == "(":
            if pattern.startswith("(?P<", i) or (pattern.startswith("(?<", i) and not pattern.startswith("(?<=", i)
                                                 and not pattern.startswith("(?<!", i)):
                close = pattern.find(">", i)
                out.append("(?:")
                i = n if close < 0 else close + 1
                continue
            if not pattern.startswith("(?", i):
                out.append("(?:")
                i += 1
                continue
        out.append(c)
        i += 1
    return "".join(out)


@cache
def _programs() -> tuple[Any, Any]:
    from cel_expr_python import cel

    config = cel.NewEnvConfigFromYaml('extensions:\n  - name: "regex"\n  - name: "optional"\n')
    env = cel.NewEnv(config=config, variables={"s": cel.Type.STRING, "p": cel.Type.STRING})
    return env.compile('regex.extract(s, p).orValue("")'), None


def _run(program: Any, text: str, pattern: str) -> Any:
    result = program.eval(data={"s": text, "p": without_groups(pattern)})
    if result.type().name() == "ERROR":
        raise ValueError(str(result.value()).split(": ", 1)[-1])
    return result.plain_value()


def _find(text: str, pattern: str) -> str:
    return str(_run(_programs()[0], text, pattern))


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"Illegal regex: {detail}") from None


def _find_all(text: str, pattern: str, limit: int = -1) -> list[str]:
    regex = _compiled(pattern)
    if limit < 0:
        limit = len(text) + 1
    found: list[str] = []
    pos, end, previous = 0, len(text), -1  # as Go's regexp.allMatches steps
    while len(found) < limit and pos <= end:
        m = regex.search(text, pos)
        if m is None:
            break
        start, stop = m.span()
        accept = True
        if stop == pos:  # an empty match here: not right after the previous match; one character on
            accept = start != previous
            pos += 1
        else:
            pos = stop
        previous = stop
        if accept:
            found.append(text[start:stop])
    return found


LIBRARY = Library("kubernetes.regex", (
    member("find", ("string_find_string", ("string", "string"), "string", _find)),
    member("findAll", ("string_find_all_string", ("string", "string"), "list<string>", _find_all),
           ("string_find_all_string_int", ("string", "string", "int"), "list<string>", _find_all)),
))
