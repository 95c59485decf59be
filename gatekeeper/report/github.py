"""GitHub Actions output: workflow-command annotations, the job summary and step outputs.

GitHub shows at most 10 error and 10 warning annotations (and 10 notices) per step, so the
most severe findings go first and a closing line says how many were left out. Data is
escaped (``%``, CR, LF) and so are properties (also ``:`` and ``,``), so a message or path
can never end the command early or inject another one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path

from gatekeeper.model import Finding, Report, Severity
from gatekeeper.report import RenderOptions
from gatekeeper.report.markdown import render_text, verdict
from gatekeeper.report.sanitize import show_path, strip_controls

MAX_PER_LEVEL = 10
_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """Escape a workflow command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(f: Finding) -> str:
    """One ``::error file=...,line=...,col=...,title=...::message`` command."""
    props = [("file", show_path(f.path)), ("line", str(f.line)), ("col", str(f.column))]
    if f.end_line is not None and f.end_line >= f.line:
        props.append(("endLine", str(f.end_line)))
    props.append(("title", f"{f.rule} ({f.check})"))
    message = strip_controls(f.message)
    if f.resource is not None:
        message += f" [{strip_controls(f.resource.key)}]"
    if f.hint:
        message += f"\nFix: {strip_controls(f.hint)}"
    joined = ",".join(f"{k}={escape_property(v)}" for k, v in props)
    return f"::{_COMMANDS[f.severity]} {joined}::{escape_data(message)}"


def render(report: Report, options: RenderOptions) -> str:
    """Annotations for counting findings, most severe first, capped per level; then a summary line."""
    lines = [f"::error title={escape_property('gatekeeper: ' + e.check)}::"
             f"{escape_data(strip_controls((show_path(e.path) + ': ' if e.path else '') + e.message))}"
             for e in report.errors[:MAX_PER_LEVEL]]
    shown = {Severity.ERROR: len(lines), Severity.WARNING: 0, Severity.INFO: 0}
    left_out = {Severity.ERROR: max(len(report.errors) - MAX_PER_LEVEL, 0),
                Severity.WARNING: 0, Severity.INFO: 0}
    ordered = sorted((f for f in options.listed(report) if f.counts),
                     key=lambda f: (-int(f.severity), f.path, f.line, f.column, f.rule))
    for f in ordered:
        if shown[f.severity] >= MAX_PER_LEVEL:
            left_out[f.severity] += 1
            continue
        shown[f.severity] += 1
        lines.append(annotation(f))
    missing = [f"{n} {name}" for sev, name in ((Severity.ERROR, "error(s)"), (Severity.WARNING, "warning(s)"),
                                               (Severity.INFO, "notice(s)")) if (n := left_out[sev])]
    if missing:
        lines.append(f"gatekeeper: {', '.join(missing)} not shown as annotations (GitHub shows "
                     f"{MAX_PER_LEVEL} per level per step); see the job summary or the SARIF report")
    e, w, i = (report.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    lines.append(f"gatekeeper: {verdict(report)}: {e} error(s), {w} warning(s), {i} info, "
                 f"{len(report.errors)} check error(s), {report.files} files, {report.resources} resources "
                 f"(fail on {report.fail_on})")
    return "\n".join(lines) + "\n"


def outputs(report: Report, files: Mapping[str, str]) -> dict[str, str]:
    """The step outputs: verdict, counts and the paths of the report files written."""
    out = {
        "verdict": verdict(report),
        "errors": str(report.count(Severity.ERROR)),
        "warnings": str(report.count(Severity.WARNING)),
        "infos": str(report.count(Severity.INFO)),
        "waived": str(sum(1 for f in report.findings if not f.counts)),
        "check-errors": str(len(report.errors)),
        "exit-code": str(report.exit_code),
    }
    for name, path in files.items():
        out[f"{name}-file"] = path
    return out


def _output_block(name: str, value: str) -> str:
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def write_environment(report: Report, env: Mapping[str, str], files: Mapping[str, str]) -> None:
    """Append the Markdown summary to $GITHUB_STEP_SUMMARY and the outputs to $GITHUB_OUTPUT (when set)."""
    summary_path = env.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        with Path(summary_path).open("a", encoding="utf-8") as fh:
            fh.write(render_text(report))
    output_path = env.get("GITHUB_OUTPUT")
    if output_path:
        with Path(output_path).open("a", encoding="utf-8") as fh:
            for name, value in outputs(report, files).items():
                fh.write(_output_block(name, value))
