"""Typed CEL errors: what went wrong decides what a check makes of it.

A ``CompileError`` in a policy is a load error (the run exits 2), unless ``limit`` is set: an
expression nested deeper than the engine allows is a finding at the rule, like a cost overrun.
An ``EvaluationError`` follows the caller's failure policy; ``CostLimitExceeded`` is the
evaluation that hit the budget; ``Unsupported`` names a Kubernetes function the gate cannot
evaluate offline (the authorizer, for one).
"""

from __future__ import annotations


class CelError(Exception):
    """Base of every CEL error; ``message`` is safe to show (it never quotes bound values)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EngineUnavailable(CelError):
    """The CEL runtime (cel-expr-python, Python 3.11+) is not installed."""


class CompileError(CelError):
    """The expression does not parse or type-check. ``line``/``column`` are 1-based within it."""

    def __init__(self, message: str, line: int = 1, column: int = 1, *, limit: bool = False) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.limit = limit


class EvaluationError(CelError):
    """The expression failed at run time (missing field, no matching overload, division by zero)."""


class CostLimitExceeded(EvaluationError):
    """The evaluation exceeded the cost budget (comprehension iterations)."""


class Unsupported(EvaluationError):
    """The expression needs something that does not exist offline (e.g. ``authorizer``)."""
