"""The errors Kyverno evaluation raises: a policy that does not load, a rule that cannot be
evaluated for one resource, and work that ran past its time budget."""

from __future__ import annotations

import time


class KyvernoLoadError(Exception):
    """A policy (or exception, test or values file) Kyverno would reject: names file and line."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


class RuleError(Exception):
    """A rule cannot be evaluated for this resource (unresolved variable, bad function argument)."""


class ContextUnavailable(Exception):
    """A context entry needs the cluster or a registry (apiCall, imageRegistry, globalReference, a
    ConfigMap not in the tree) and no value was supplied."""


class BudgetExceeded(RuleError):
    """foreach or JMESPath work ran past the per-rule time budget."""


class Deadline:
    """A wall-clock budget shared by everything one rule evaluation does."""

    __slots__ = ("_end", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self._end:
            raise BudgetExceeded(f"evaluation ran past its {self.seconds:g}s budget (deep foreach or "
                                 "JMESPath work); the rule was not decided")


UNLIMITED = Deadline(float("inf"))
