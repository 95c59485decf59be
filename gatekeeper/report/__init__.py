"""Reporters: each output format is one module with ``render(report, options) -> str``.

The engine knows nothing about formats; a reporter knows nothing about checks.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol

from gatekeeper.model import Finding, Report, Severity

# format name -> module (each module defines ``render``).
FORMATS: dict[str, str] = {
    "text": "gatekeeper.report.text",
    "json": "gatekeeper.report.json",
    "sarif": "gatekeeper.report.sarif",
    "junit": "gatekeeper.report.junit",
    "github": "gatekeeper.report.github",
    "markdown": "gatekeeper.report.markdown",
}


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """How to render for people: colour, waived findings, the least severity listed (counts and the
    exit code never change), hints, one line per finding (``verbose``), only what fails the run
    (``quiet``), and each file's class (``explain_files``)."""

    color: bool = False
    show_waived: bool = False
    min_severity: Severity = Severity.INFO
    hints: bool = True
    verbose: bool = False
    quiet: bool = False
    explain_files: bool = False

    def listed(self, report: Report) -> list[Finding]:
        """The findings a human-readable format lists under these options (in report order)."""
        out = [f for f in report.findings if (self.show_waived or f.counts) and f.severity >= self.min_severity]
        if self.quiet:
            out = [f for f in out if f.counts and f.severity >= report.fail_on]
        return out


class Renderer(Protocol):
    def __call__(self, report: Report, options: RenderOptions) -> str: ...


def renderer(name: str) -> Renderer:
    """The render function of a format; KeyError for an unknown format."""
    module = importlib.import_module(FORMATS[name])
    render: Renderer = module.render
    return render


def render(report: Report, name: str, options: RenderOptions | None = None) -> str:
    """Render a report in the named format."""
    return renderer(name)(report, options or RenderOptions())
