"""The rule catalogue: every check and every rule as data (name, settings schema, id, severity, docs).

Checks keep declaring their rules where they live (``Check.rules()`` returning the check's rule
table); ``gatekeeper.checks.catalogue()`` collects the registered checks into one ``Catalogue``.
The layers below the checks (configuration, waivers, reporters) are handed that catalogue and read
it, so none of them imports a check. This module imports only the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from gatekeeper.model import Rule

# Marks a settings key whose value (a string or a list of strings) names files or directories: the
# configuration loader keeps every such path inside the configuration file's directory (no absolute
# path, no '..' out of it, no symlink out of it), so a change to .gatekeeper.yaml cannot make a check
# read a file elsewhere on the machine (a registry credential, a kubeconfig) into a report.
REPOSITORY_PATH = "x-gatekeeper-path"

# The settings section a check gets when it declares none: it can only be switched off.
DEFAULT_SECTION: Mapping[str, Any] = MappingProxyType({
    "type": "object", "additionalProperties": False, "properties": {"enabled": {"type": "boolean"}}})


class Declares(Protocol):
    """What the catalogue reads from a check (``gatekeeper.checks.base.Check`` satisfies it)."""

    @property
    def name(self) -> str: ...

    @property
    def summary(self) -> str: ...

    @property
    def config_schema(self) -> dict[str, Any]: ...

    @property
    def default_enabled(self) -> bool: ...

    def rules(self) -> Sequence[Rule]: ...


@dataclass(frozen=True, slots=True)
class CheckEntry:
    """One registered check as data: its settings schema and its rules."""

    name: str
    summary: str
    config_schema: Mapping[str, Any]
    default_enabled: bool
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Catalogue:
    """Every check and rule of a build; ``rules`` in listing order (loader rules, checks, waivers)."""

    checks: tuple[CheckEntry, ...]
    rules: tuple[Rule, ...]
    by_id: Mapping[str, Rule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, Rule] = {}
        for rule in self.rules:
            if rule.id in by_id:
                raise ValueError(f"rule id {rule.id!r} is declared twice ({by_id[rule.id].check}, {rule.check})")
            by_id[rule.id] = rule
        object.__setattr__(self, "by_id", MappingProxyType(by_id))

    @classmethod
    def collect(cls, checks: Iterable[Declares], *, before: Iterable[Rule] = (),
                after: Iterable[Rule] = ()) -> Catalogue:
        """The catalogue of ``checks``, with rules that belong to no check (loader, waivers) around them."""
        entries = tuple(CheckEntry(c.name, c.summary, c.config_schema or DEFAULT_SECTION, c.default_enabled,
                                   tuple(c.rules())) for c in checks)
        rules = (*before, *(r for e in entries for r in e.rules), *after)
        return cls(entries, rules)

    def names(self) -> list[str]:
        """Check names in run order."""
        return [e.name for e in self.checks]

    def rule(self, rule_id: str) -> Rule | None:
        """The rule with this id, or None (a rule a Rego policy defines is not in the catalogue)."""
        return self.by_id.get(rule_id)

    def check_of(self, rule_id: str) -> str | None:
        """The check that reports a rule id, or None when no declared rule has it."""
        rule = self.by_id.get(rule_id)
        return rule.check if rule is not None else None
