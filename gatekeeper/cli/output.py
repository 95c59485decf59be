"""Choosing and writing report formats: ``--format text --format json=out.json --output FILE``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import click

from gatekeeper.model import Report, Severity
from gatekeeper.report import FORMATS, RenderOptions, render

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """One requested output: a format and a file (None: stdout)."""

    format: str
    path: Path | None


def parse_formats(formats: tuple[str, ...], output: Path | None) -> list[OutputSpec]:
    """Parse ``FORMAT`` / ``FORMAT=FILE`` values; ``--output`` applies to the first without a file."""
    specs: list[OutputSpec] = []
    for item in formats or ("text",):
        name, _, file = item.partition("=")
        name = name.strip().lower()
        if name not in FORMATS:
            raise click.BadParameter(f"unknown format {name!r} (available: {', '.join(FORMATS)})",
                                     param_hint="--format")
        specs.append(OutputSpec(name, Path(file) if file else None))
    if output is not None:
        for i, spec in enumerate(specs):
            if spec.path is None:
                specs[i] = OutputSpec(spec.format, output)
                break
    if sum(1 for s in specs if s.path is None) > 1:
        raise click.BadParameter("only one format can go to stdout; give the others a file (FORMAT=FILE)",
                                 param_hint="--format")
    return specs


def people_options(func: F) -> F:
    """Decorate a command with the options that shape output for people (text, Markdown, GitHub)."""
    decorators = [
        click.option("--quiet", "-q", is_flag=True,
                     help="Print only the summary, check errors and the findings that fail the run."),
        click.option("--min-severity", type=click.Choice(["error", "warning", "info"], case_sensitive=False),
                     help="Least severity listed in text, Markdown and GitHub output [default: info]; the "
                          "counts and the exit code (--fail-on) do not change."),
        click.option("--no-hints", is_flag=True, help="Leave out the fix hints."),
        click.option("--verbose", "-v", is_flag=True,
                     help="One line per finding with its message and hint (default: findings at one location "
                          "on one line, each rule's hint once)."),
        click.option("--explain-files", is_flag=True,
                     help="List each file's class (manifest, kustomize patch, tool config, lock file...), why, "
                          "and the checks it gets."),
    ]
    for deco in reversed(decorators):
        func = deco(func)
    return func


def people(opts: dict[str, Any], show_waived: bool) -> RenderOptions:
    """Pop the ``people_options`` values from ``opts`` into render options."""
    level = opts.pop("min_severity", None)
    return RenderOptions(show_waived=show_waived, quiet=bool(opts.pop("quiet", False)),
                         min_severity=Severity.parse(str(level)) if level else Severity.INFO,
                         hints=not opts.pop("no_hints", False), verbose=bool(opts.pop("verbose", False)),
                         explain_files=bool(opts.pop("explain_files", False)))


def write_outputs(report: Report, specs: list[OutputSpec], *, color: bool, show_waived: bool,
                  options: RenderOptions | None = None) -> None:
    """Render every requested format; files are written whole, stdout last."""
    base = options if options is not None else RenderOptions(show_waived=show_waived)
    for spec in specs:
        text = render(report, spec.format,
                      replace(base, color=color and spec.path is None and spec.format == "text"))
        if spec.path is None:
            click.echo(text, nl=False, color=color or None)
        else:
            spec.path.parent.mkdir(parents=True, exist_ok=True)
            spec.path.write_text(text, encoding="utf-8")
    if report.errors and all(spec.path is not None for spec in specs):
        # every report went to a file: the failure must still be visible where the run was started
        first = report.errors[0]
        click.echo(f"gatekeeper: {len(report.errors)} error(s), the run failed closed: {first.check}: "
                   f"{first.message}", err=True)
