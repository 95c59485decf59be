"""The lint check: a catalogue of Kubernetes best-practice rules with exact field locations.

Rules live in theme modules (security, images, capacity, probes, controllers, networking,
rbac, hygiene) and register themselves in ``registry.RULES``. Per-object rules run per
resource, dispatched by kind; cross-object rules run once over the whole scanned set.
Configuration (``rules:`` in .gatekeeper.yaml) enables opt-in rules and sets thresholds;
an unknown or mistyped option fails the run rather than being ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from gatekeeper.checks.base import Check, CheckLoadError, Context
from gatekeeper.checks.lint import (  # noqa: F401 - importing a theme module registers its rules
    capacity,
    controllers,
    hygiene,
    images,
    networking,
    probes,
    rbac,
    security,
)
from gatekeeper.checks.lint.inventory import Inventory
from gatekeeper.checks.lint.registry import RULES, Hit, LintRule, RuleContext
from gatekeeper.model import Finding, Resource, Rule

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"enabled": {"type": "boolean", "description": "Run this check (default true)."}},
}


def rule_options(lint_rule: LintRule, configured: dict[str, Any]) -> dict[str, Any]:
    """A rule's defaults overlaid with its configured options; unknown keys or wrong types raise."""
    defaults = lint_rule.meta.options
    merged = dict(defaults)
    for key, value in configured.items():
        if key not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise CheckLoadError(f"rules.{lint_rule.meta.id}.options.{key}: unknown option (known: {known})")
        expected = type(defaults[key])
        if not isinstance(value, expected) or isinstance(value, bool) != isinstance(defaults[key], bool):
            raise CheckLoadError(f"rules.{lint_rule.meta.id}.options.{key}: expected {expected.__name__}, "
                                 f"got {type(value).__name__}")
        allowed = lint_rule.choices.get(key)
        if allowed is not None and value not in allowed:
            raise CheckLoadError(f"rules.{lint_rule.meta.id}.options.{key}: must be one of "
                                 f"{', '.join(map(str, allowed))}")
        merged[key] = value
    return merged


class LintCheck(Check):
    """Run the enabled lint rules over every resource and the whole set."""

    name = "lint"
    summary = "Kubernetes best-practice rules: security context, images, resources, probes, RBAC, selectors."
    config_schema = CONFIG_SCHEMA

    def __init__(self) -> None:
        self.by_kind: dict[str, list[tuple[LintRule, RuleContext]]] = {}
        self.any_kind: list[tuple[LintRule, RuleContext]] = []
        self.cross: list[tuple[LintRule, RuleContext]] = []
        self.active_ids: list[str] = []

    def rules(self) -> Sequence[Rule]:
        return [r.meta for r in RULES.values()]

    def prepare(self, ctx: Context) -> None:
        inventory = Inventory(ctx.whole)
        config = ctx.config
        for lint_rule in RULES.values():
            meta = lint_rule.meta
            enabled = config.rule_enabled(meta.id, meta.enabled) if config is not None else meta.enabled
            configured = config.rule_options(meta.id) if config is not None else {}
            options = rule_options(lint_rule, configured)  # validate even when disabled
            if not enabled:
                continue
            self.active_ids.append(meta.id)
            entry = (lint_rule, RuleContext(options, inventory))
            if lint_rule.cross:
                self.cross.append(entry)
            elif lint_rule.kinds is None:
                self.any_kind.append(entry)
            else:
                for kind in lint_rule.kinds:
                    self.by_kind.setdefault(kind, []).append(entry)
        for entries in self.by_kind.values():
            entries.extend(self.any_kind)  # one flat list per kind keeps the per-resource loop tight

    def digest(self, ctx: Context) -> str:
        return "rules=" + ",".join(sorted(self.active_ids))

    def _located(self, lint_rule: LintRule, hit: Hit) -> Finding:
        return self.finding(lint_rule.meta, hit.resource, hit.message, hit.path, severity=hit.severity,
                            evidence=hit.evidence)

    def check_resource(self, resource: Resource, ctx: Context) -> Iterable[Finding]:
        out: list[Finding] = []
        for lint_rule, rctx in self.by_kind.get(resource.kind, self.any_kind):
            for hit in lint_rule.func(resource, rctx):
                out.append(self._located(lint_rule, hit))
        return out

    def check_all(self, ctx: Context) -> Iterable[Finding]:
        return [self._located(lint_rule, hit)
                for lint_rule, rctx in self.cross for hit in lint_rule.func(rctx.inventory, rctx)]
