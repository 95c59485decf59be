"""Human-readable output: findings grouped by file, ``path:line:col severity rule message``."""

from __future__ import annotations

from itertools import groupby

from gatekeeper.model import Finding, Report, Severity
from gatekeeper.report import RenderOptions

_COLORS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.INFO: "\033[36m"}
_BOLD, _DIM, _RESET = "\033[1m", "\033[2m", "\033[0m"


def _paint(text: str, code: str, on: bool) -> str:
    return f"{code}{text}{_RESET}" if on else text


def _line(f: Finding, color: bool) -> str:
    sev = _paint(f"{f.severity!s:<7}", _COLORS[f.severity], color)
    where = f"{f.path}:{f.line}:{f.column}"
    obj = f" [{f.resource.key}]" if f.resource is not None else ""
    tag = ""
    if f.waived is not None:
        tag = _paint(f" (waived: {f.waived.reason})", _DIM, color)
    elif f.baseline:
        tag = _paint(" (baseline)", _DIM, color)
    text = f"  {where} {sev} {f.rule:<24} {f.message}{obj}{tag}"
    if f.units:
        also = [f"{o.path}:{o.line} ({o.role})" for o in f.origin if (o.path, o.line) != (f.path, f.line)]
        text += "\n" + _paint(f"      rendered by {', '.join(f.units)}"
                              + (f"; also from {', '.join(also)}" if also else ""), _DIM, color)
    if f.hint and f.waived is None:
        text += "\n" + _paint(f"      hint: {f.hint}", _DIM, color)
    return text


def render(report: Report, options: RenderOptions) -> str:
    """Render the report for a terminal (ANSI colour only when asked)."""
    color = options.color
    out: list[str] = []
    shown = [f for f in report.findings if options.show_waived or f.counts]
    for path, group in groupby(shown, key=lambda f: f.path):
        out.append(_paint(path, _BOLD, color))
        out.extend(_line(f, color) for f in group)
        out.append("")
    for err in report.errors:
        where = f" ({err.path})" if err.path else ""
        out.append(_paint(f"error: {err.check}{where}: {err.message}", _COLORS[Severity.ERROR], color))
    for note in report.notes:
        out.append(_paint(f"note: {note}", _DIM, color))
    out.append(summary_line(report, color))
    return "\n".join(out) + "\n"


def summary_line(report: Report, color: bool = False) -> str:
    """One line: counts, waived findings, verdict."""
    e, w, i = (report.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    waived = sum(1 for f in report.findings if not f.counts)
    verdict = "passed" if report.passed else ("ERROR" if report.errors else "FAILED")
    paint = _COLORS[Severity.ERROR] if not report.passed else "\033[32m"
    extra = f", {waived} waived" if waived else ""
    errs = f", {len(report.errors)} check error(s)" if report.errors else ""
    return (f"{report.files} files, {report.resources} resources checked by "
            f"{', '.join(report.checks) or 'no checks'}: {e} errors, {w} warnings, {i} info{extra}{errs} "
            f"(fail on {report.fail_on}) -> " + _paint(verdict, paint, color))
