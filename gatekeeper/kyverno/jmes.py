"""JMESPath as Kyverno runs it: the maintained ``jmespath`` library's parser and semantics with
Kyverno's functions registered, each expression parsed and compiled into closures once
(``jmesc``), and evaluation bounded by the rule's time budget."""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import jmespath
from jmespath import exceptions, visitor

from gatekeeper.kyverno import jmesc
from gatekeeper.kyverno.errors import UNLIMITED, Deadline, RuleError

_OPTIONS = jmespath.Options(custom_functions=jmesc.FUNCTIONS)
_CHECK_EVERY = 256


class JMESPathSyntaxError(ValueError):
    """An expression that does not parse (a policy Kyverno would reject)."""


class _Bounded(visitor.TreeInterpreter):
    """A tree interpreter that checks the deadline every few hundred nodes."""

    def __init__(self, deadline: Deadline) -> None:
        super().__init__(_OPTIONS)
        self._deadline = deadline
        self._count = 0

    _methods: dict[str, Any] = {}  # node type -> unbound visit method, shared by every instance

    def visit(self, node: Any, *args: Any, **kwargs: Any) -> Any:
        self._count += 1
        if self._count % _CHECK_EVERY == 0:
            self._deadline.check()
        kind = node["type"]
        method = self._methods.get(kind)
        if method is None:
            method = self._methods[kind] = getattr(type(self), f"visit_{kind}", type(self).default_visit)
        return method(self, node, *args, **kwargs)


@lru_cache(maxsize=4096)
def compile_expression(expression: str) -> Any:
    """Parse once; JMESPathSyntaxError when the expression is not valid JMESPath."""
    try:
        with warnings.catch_warnings():  # JEP-12: `raw` literals that are not JSON still parse, as in Go
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            return jmespath.compile(expression)
    except exceptions.JMESPathError as exc:
        raise JMESPathSyntaxError(_first_line(exc)) from None


def check_syntax(expression: str) -> str | None:
    """None when ``expression`` parses, else why not."""
    try:
        compile_expression(expression)
    except JMESPathSyntaxError as exc:
        return str(exc)
    return None


@lru_cache(maxsize=4096)
def compiled(expression: str) -> jmesc.Fn:
    """The closure of an expression; JMESPathSyntaxError when it is not valid JMESPath."""
    return jmesc.compile_ast(compile_expression(expression))


def search(expression: str, data: Any, deadline: Deadline = UNLIMITED) -> Any:
    """Evaluate; RuleError for a syntax or function error, BudgetExceeded past the deadline."""
    try:
        run = compiled(expression)
    except JMESPathSyntaxError as exc:
        raise RuleError(f"invalid JMESPath {expression!r}: {exc}") from None
    return evaluate(run, expression, data, deadline)


def evaluate(run: jmesc.Fn, expression: str, data: Any, deadline: Deadline = UNLIMITED) -> Any:
    """Run a compiled expression (``compiled(expression)``) under the deadline; RuleError naming the
    expression for a function error, BudgetExceeded past the deadline."""
    state = jmesc.STATE
    saved = state.deadline
    state.deadline = deadline
    try:
        return run(data)
    except exceptions.JMESPathError as exc:
        raise RuleError(f"JMESPath query {expression!r} failed: {_first_line(exc)}") from None
    except RecursionError:
        raise RuleError(f"JMESPath query {expression!r} nests too deeply") from None
    finally:
        state.deadline = saved


jmesc.STATE.interpreter = lambda: _Bounded(jmesc.STATE.deadline)  # what &expr references run on


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__
