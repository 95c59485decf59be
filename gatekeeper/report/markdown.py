"""A Markdown summary: verdict, counts, and a table of findings per check.

Used as the GitHub job summary and as a pull-request comment. Table cells are escaped so a
message cannot break the table or inject HTML, and the whole text stays under a size cap
(GitHub refuses job summaries over 1 MiB); rows beyond the cap are counted, not shown.
"""

from __future__ import annotations

from itertools import groupby

from gatekeeper.model import Finding, Report, Severity
from gatekeeper.report import RenderOptions

MAX_BYTES = 256 * 1024
MAX_ROWS_PER_CHECK = 200
_ICONS = {Severity.ERROR: "🔴 error", Severity.WARNING: "🟡 warning", Severity.INFO: "🔵 info"}


def cell(text: str) -> str:
    """Escape text for one Markdown table cell (pipes, HTML, newlines, backticks)."""
    out = (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
           .replace("|", "\\|").replace("`", "\\`").replace("*", "\\*").replace("_", "\\_")
           .replace("[", "\\[").replace("]", "\\]"))
    return " ".join(out.split())


def code_cell(text: str) -> str:
    """Text for a code span inside a table cell: only pipes need escaping; backticks are replaced."""
    return " ".join(text.replace("`", "'").replace("|", "\\|").split())


def verdict(report: Report) -> str:
    """``passed``, ``failed`` (findings at or above the threshold) or ``error`` (a check could not run)."""
    if report.errors:
        return "error"
    return "passed" if report.passed else "failed"


def _header(report: Report) -> list[str]:
    state = verdict(report)
    title = {"passed": "✅ gatekeeper passed", "failed": "❌ gatekeeper failed",
             "error": "⛔ gatekeeper could not complete the check"}[state]
    e, w, i = (report.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    waived = sum(1 for f in report.findings if not f.counts)
    lines = [f"## {title}", "",
             "| errors | warnings | info | waived | files | resources | fail on |",
             "|---:|---:|---:|---:|---:|---:|---|",
             f"| {e} | {w} | {i} | {waived} | {report.files} | {report.resources} | {report.fail_on} |", ""]
    if report.checks:
        lines += [f"Checks: {', '.join(report.checks)}.", ""]
    for err in report.errors:
        where = f" (`{code_cell(err.path)}`)" if err.path else ""
        lines.append(f"- ⛔ **{cell(err.check)}**{where}: {cell(err.message)}")
    if report.errors:
        lines.append("")
    return lines


def _row(f: Finding) -> str:
    obj = cell(f.resource.key) if f.resource is not None else ""
    msg = cell(f.message) + (f"<br>*Fix:* {cell(f.hint)}" if f.hint else "")
    where = f"`{code_cell(f.path)}:{f.line}`"
    return f"| {_ICONS[f.severity]} | {where} | {obj} | `{code_cell(f.rule)}` | {msg} |"


def render_text(report: Report, max_bytes: int = MAX_BYTES) -> str:
    """The summary, truncated to ``max_bytes`` of UTF-8 with a note saying how much was left out."""
    lines = _header(report)
    shown = sorted((f for f in report.findings if f.counts),
                   key=lambda f: (f.check, -int(f.severity), f.path, f.line, f.column))
    budget = max_bytes - 512  # room for the closing notes
    size = sum(len(line.encode()) + 1 for line in lines)
    omitted = 0
    for check, group in groupby(shown, key=lambda f: f.check):
        items = list(group)
        head = [f"### {cell(check)} ({len(items)})", "",
                "| severity | location | resource | rule | message |", "|---|---|---|---|---|"]
        head_size = sum(len(line.encode()) + 1 for line in head)
        if size + head_size > budget:
            omitted += len(items)
            continue
        lines += head
        size += head_size
        for n, f in enumerate(items):
            row = _row(f)
            if n >= MAX_ROWS_PER_CHECK or size + len(row.encode()) + 1 > budget:
                omitted += len(items) - n
                lines.append(f"| | | | | … {len(items) - n} more {cell(check)} finding(s) not shown |")
                break
            lines.append(row)
            size += len(row.encode()) + 1
        lines.append("")
    waived = [f for f in report.findings if not f.counts]
    if waived:
        lines.append(f"{len(waived)} waived or baselined finding(s) are not listed.")
    if omitted:
        lines.append(f"{omitted} finding(s) are not listed here to keep the summary small; "
                     "the SARIF and JSON reports have all of them.")
    for note in report.notes[:20]:
        lines.append(f"> {cell(note)}")
    return "\n".join(lines) + "\n"


def render(report: Report, options: RenderOptions) -> str:
    return render_text(report)
