"""The lint rule registry: each rule is one function plus its metadata, registered by a decorator.

A per-object rule takes ``(resource, ctx)``; a cross-object rule (``cross=True``) takes
``(inventory, ctx)`` and sees the whole scanned set. Both yield ``Hit``s; the check turns a
hit into a located finding. Adding a rule means one decorated function plus its tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gatekeeper.model import FieldPath, Resource, Rule, Severity

if TYPE_CHECKING:
    from gatekeeper.checks.lint.inventory import Inventory


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule violation: the object, a message, and the field path the finding points at."""

    resource: Resource
    message: str
    path: FieldPath
    severity: Severity | None = None  # overrides the rule's default for this hit (e.g. sensitive hostPath)
    evidence: str = ""


@dataclass(slots=True)
class RuleContext:
    """What a rule function gets besides the object: its effective options and the whole set."""

    options: dict[str, Any]
    inventory: Inventory


ResourceRule = Callable[[Resource, RuleContext], Iterable[Hit]]
CrossRule = Callable[["Inventory", RuleContext], Iterable[Hit]]


@dataclass(frozen=True, slots=True)
class LintRule:
    """A registered rule: documentation (``meta``), the kinds it reads, and its function."""

    meta: Rule
    kinds: frozenset[str] | None  # None: every kind
    func: Callable[..., Iterable[Hit]]
    cross: bool = False
    theme: str = ""
    option_docs: dict[str, str] = field(default_factory=dict)
    choices: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # option -> allowed values


RULES: dict[str, LintRule] = {}


def rule(rule_id: str, severity: Severity, summary: str, *, kinds: Iterable[str] | None = None,
         rationale: str, hint: str, bad: str, good: str, enabled: bool = True, cross: bool = False,
         options: dict[str, Any] | None = None,
         option_docs: dict[str, str] | None = None, choices: dict[str, tuple[Any, ...]] | None = None
         ) -> Callable[[Callable[..., Iterable[Hit]]], Callable[..., Iterable[Hit]]]:
    """Register the decorated function as lint rule ``rule_id``."""
    def register(func: Callable[..., Iterable[Hit]]) -> Callable[..., Iterable[Hit]]:
        if rule_id in RULES:
            raise ValueError(f"lint rule {rule_id!r} registered twice")
        meta = Rule(rule_id, "lint", severity, summary, rationale, hint, enabled, bad, good,
                    dict(options or {}))
        theme = func.__module__.rpartition(".")[2]
        RULES[rule_id] = LintRule(meta, frozenset(kinds) if kinds is not None else None, func, cross, theme,
                                  dict(option_docs or {}), dict(choices or {}))
        return func
    return register
