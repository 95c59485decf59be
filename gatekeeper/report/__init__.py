"""Reporters: each output format is one module with ``render(report, options) -> str``.

The engine knows nothing about formats; a reporter knows nothing about checks.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol

from gatekeeper.model import Report

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
    """How to render: colour for terminals, and whether to list waived findings in text output."""

    color: bool = False
    show_waived: bool = False


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
