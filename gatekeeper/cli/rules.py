"""``gatekeeper rules`` and ``gatekeeper explain RULE``: the rule catalogue from the registry."""

from __future__ import annotations

import json

import click

from gatekeeper.checks import all_rules
from gatekeeper.cli.options import GateError
from gatekeeper.model import Rule


def rule_dict(rule: Rule) -> dict[str, object]:
    return {"id": rule.id, "check": rule.check, "severity": str(rule.severity), "enabled": rule.enabled,
            "summary": rule.summary, "rationale": rule.rationale, "hint": rule.hint, "options": rule.options}


@click.command()
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text")
@click.option("--markdown", "markdown", is_flag=True, help="Print the rule reference page (docs/rules.md).")
@click.option("--check", "check_name", help="Only the rules of this check.")
def rules(fmt: str, markdown: bool, check_name: str | None) -> None:
    """List every rule of every built-in check."""
    items = [r for r in all_rules() if check_name is None or r.check == check_name]
    if markdown or fmt == "markdown":
        from gatekeeper.docs_gen import render

        click.echo(render(items), nl=False)
        return
    if fmt == "json":
        click.echo(json.dumps([rule_dict(r) for r in items], indent=2))
        return
    width = max((len(r.id) for r in items), default=10)
    for r in items:
        state = "on " if r.enabled else "off"
        click.echo(f"{r.id:<{width}}  {r.check:<8} {r.severity!s:<8} {state}  {r.summary}")
    click.echo(f"\n{len(items)} rules. 'gatekeeper explain RULE' shows rationale, fix and examples.")


@click.command()
@click.argument("rule_id")
def explain(rule_id: str) -> None:
    """Show a rule's rationale, fix and examples."""
    found = {r.id: r for r in all_rules()}
    rule = found.get(rule_id)
    if rule is None:
        close = [r for r in found if rule_id in r]
        extra = f" (did you mean: {', '.join(close[:5])}?)" if close else ""
        raise GateError(f"unknown rule {rule_id!r}{extra}")
    click.echo(f"{rule.id}  [{rule.check}, {rule.severity}, {'on' if rule.enabled else 'opt-in'} by default]")
    click.echo(f"\n{rule.summary}")
    from gatekeeper.docs_gen import applies_to, option_help

    scope = applies_to(rule)
    if scope:
        click.echo(f"Applies to: {scope}.")
    if rule.rationale:
        click.echo(f"\nWhy: {rule.rationale}")
    if rule.hint:
        click.echo(f"\nFix: {rule.hint}")
    if rule.options:
        click.echo("\nOptions (rules.<id>.options in .gatekeeper.yaml):")
        helps = option_help(rule)
        for key, value in rule.options.items():
            about = f"  ({helps[key]})" if key in helps else ""
            click.echo(f"    {key}: {json.dumps(value)}{about}")
    if rule.bad_example:
        click.echo("\nBad:\n" + _indent(rule.bad_example))
    if rule.good_example:
        click.echo("\nGood:\n" + _indent(rule.good_example))


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines())
