"""Choosing and writing report formats: ``--format text --format json=out.json --output FILE``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from gatekeeper.model import Report
from gatekeeper.report import FORMATS, RenderOptions, render


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


def write_outputs(report: Report, specs: list[OutputSpec], *, color: bool, show_waived: bool) -> None:
    """Render every requested format; files are written whole, stdout last."""
    for spec in specs:
        text = render(report, spec.format,
                      RenderOptions(color=color and spec.path is None and spec.format == "text",
                                    show_waived=show_waived))
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
