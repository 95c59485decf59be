"""The rule catalogue: what checks declare, collected once; lower layers read it, never a check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import pytest

from gatekeeper.catalogue import DEFAULT_SECTION, Catalogue
from gatekeeper.checks import REGISTRY, catalogue
from gatekeeper.checks.base import Check
from gatekeeper.config_change import CONFIG_RULES
from gatekeeper.model import Rule, Severity
from gatekeeper.sources.rules import PARSE_RULES
from gatekeeper.waivers import WAIVER_RULES


class _Declared(Check):
    name: ClassVar[str] = "demo"
    summary: ClassVar[str] = "a check declared the usual way"

    def rules(self) -> Sequence[Rule]:
        return (Rule("demo-rule", "demo", Severity.WARNING, "demo"),)


def test_catalogue_collects_every_registered_check_with_loader_and_waiver_rules_around_them() -> None:
    cat = catalogue()
    assert cat.names() == list(REGISTRY)
    assert cat.rules[: len(PARSE_RULES)] == PARSE_RULES
    assert cat.rules[-len(WAIVER_RULES) - len(CONFIG_RULES):] == (*WAIVER_RULES, *CONFIG_RULES)
    for entry in cat.checks:
        assert all(r.check == entry.name for r in entry.rules), entry.name
    assert cat.check_of("image-latest") == "lint" and cat.rule("no-such-rule") is None


def test_a_check_without_a_settings_schema_can_only_be_switched_off() -> None:
    (entry,) = Catalogue.collect([_Declared()]).checks
    assert entry.config_schema == DEFAULT_SECTION and entry.rules[0].id == "demo-rule"


def test_a_rule_id_declared_twice_is_refused_naming_both_checks() -> None:
    other = Rule("demo-rule", "other", Severity.ERROR, "clash")
    with pytest.raises(ValueError, match=r"demo-rule.*demo, other"):
        Catalogue.collect([_Declared()], after=[other])
