"""A Markdown summary: verdict, counts per rule and per file, and the most severe findings.

Used as the GitHub job summary and as a pull-request comment. Table cells are escaped so a
message cannot break the table or inject HTML (control characters removed), and the whole text
stays under GitHub's 65,536-character comment limit: rows beyond it are counted, not shown, and
the closing line points at the full report.
"""

from __future__ import annotations

import re

from gatekeeper.model import Finding, Report, Severity
from gatekeeper.report import RenderOptions
from gatekeeper.report.sanitize import clean, show_path

MAX_CHARS = 60_000  # under GitHub's 65,536-character limit for comments (and 1 MiB for job summaries)
MAX_SUMMARY_ROWS = 25
MAX_CELL = 300
MAX_NOTES = 20
# What GitHub turns into a notification or a cross-reference in a comment: an @user/@org/team mention
# (an @ not preceded by a word character) and an issue reference (#123, owner/repo#123, GH-123). A word
# joiner after the @ or # (invisible) keeps the text readable and inert.
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@(?=[A-Za-z0-9])")
_ISSUE = re.compile(r"#(?=[0-9])|(?<![A-Za-z0-9_])(GH-)(?=[0-9])", re.IGNORECASE)
INERT = "\u2060"
_ICONS = {Severity.ERROR: "🔴 error", Severity.WARNING: "🟡 warning", Severity.INFO: "🔵 info"}


def cell(text: str) -> str:
    """Escape text for one Markdown table cell (pipes, HTML, newlines, backticks; mentions and issue
    references made inert)."""
    out = (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
           .replace("|", "\\|").replace("`", "\\`").replace("*", "\\*").replace("_", "\\_")
           .replace("[", "\\[").replace("]", "\\]"))
    return " ".join(inert(clean(out)).split())


def inert(text: str) -> str:
    """``text`` with every @mention and issue reference broken by an invisible word joiner."""
    if "@" in text:
        text = _MENTION.sub("@" + INERT, text)
    if "#" in text or "-" in text:
        text = _ISSUE.sub(lambda m: m.group() + INERT, text)
    return text


def code_cell(text: str) -> str:
    """Text for a code span inside a table cell: only pipes need escaping; backticks are replaced."""
    return " ".join(clean(text).replace("`", "'").replace("|", "\\|").split())


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
    for err in report.errors[:MAX_NOTES]:
        where = f" (`{code_cell(show_path(_cap(err.path, 200)))}`)" if err.path else ""
        lines.append(f"- ⛔ **{cell(err.check)}**{where}: {cell(_cap(err.message))}")
    if len(report.errors) > MAX_NOTES:
        lines.append(f"- … {len(report.errors) - MAX_NOTES} more error(s) in the full report")
    if report.errors:
        lines.append("")
    return lines


def _row(f: Finding) -> str:
    obj = cell(f.resource.key) if f.resource is not None else ""
    msg = cell(_cap(f.message)) + (f"<br>*Fix:* {cell(_cap(f.hint))}" if f.hint else "")
    where = f"`{code_cell(show_path(f.path))}:{f.line}`"
    return f"| {_ICONS[f.severity]} | {where} | {obj} | `{code_cell(f.rule)}` | {msg} |"


def _cap(text: str, limit: int = MAX_CELL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _per_rule(findings: list[Finding]) -> list[str]:
    counts: dict[tuple[str, Severity], int] = {}
    for f in findings:
        counts[(f.rule, f.severity)] = counts.get((f.rule, f.severity), 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-int(kv[0][1]), -kv[1], kv[0][0]))
    lines = ["### Findings per rule", "", "| rule | severity | findings |", "|---|---|---:|"]
    lines += [f"| `{code_cell(rule)}` | {_ICONS[sev]} | {n} |" for (rule, sev), n in ranked[:MAX_SUMMARY_ROWS]]
    if len(ranked) > MAX_SUMMARY_ROWS:
        rest = sum(n for _, n in ranked[MAX_SUMMARY_ROWS:])
        lines.append(f"| … {len(ranked) - MAX_SUMMARY_ROWS} more rule(s) | | {rest} |")
    return [*lines, ""]


def _per_file(findings: list[Finding]) -> list[str]:
    counts: dict[str, list[int]] = {}
    for f in findings:
        counts.setdefault(f.path, [0, 0, 0])[int(Severity.ERROR) - int(f.severity)] += 1
    ranked = sorted(counts.items(), key=lambda kv: (tuple(-n for n in kv[1]), kv[0]))
    lines = ["### Files with the most findings", "", "| file | errors | warnings | info |", "|---|---:|---:|---:|"]
    lines += [f"| `{code_cell(show_path(_cap(path, 200)))}` | {e} | {w} | {i} |"
              for path, (e, w, i) in ranked[:MAX_SUMMARY_ROWS]]
    if len(ranked) > MAX_SUMMARY_ROWS:
        lines.append(f"| … {len(ranked) - MAX_SUMMARY_ROWS} more file(s) | | | |")
    return [*lines, ""]


def render_text(report: Report, max_chars: int = MAX_CHARS, options: RenderOptions | None = None) -> str:
    """The summary in at most ``max_chars`` characters (GitHub refuses a comment over 65,536): the
    verdict and counts, findings per rule and per file, then the most severe findings while they
    fit, and a closing line saying how many were left out and where the full report is."""
    opts = options if options is not None else RenderOptions()
    lines = _header(report)
    listed = [f for f in opts.listed(report) if f.counts]
    if len(listed) > 1:
        lines += _per_rule(listed) + _per_file(listed)
    shown = sorted(listed, key=lambda f: (-int(f.severity), f.path, f.line, f.column, f.rule))
    notes = [f"> {cell(_cap(note))}" for note in report.notes[:MAX_NOTES]]
    budget = max_chars - 600 - sum(len(line) + 1 for line in notes)  # room for the closing lines
    size = sum(len(line) + 1 for line in lines)
    omitted = 0
    if shown:
        head = ["### Findings (most severe first)", "", "| severity | location | resource | rule | message |",
                "|---|---|---|---|---|"]
        size += sum(len(line) + 1 for line in head)
        lines += head
        for n, f in enumerate(shown):
            row = _row(f)
            if size + len(row) + 1 > budget:
                omitted = len(shown) - n
                break
            lines.append(row)
            size += len(row) + 1
        lines.append("")
    waived = [f for f in report.findings if not f.counts]
    if waived:
        lines.append(f"{len(waived)} waived or baselined finding(s) are not listed.")
    below = sum(1 for f in report.findings if f.counts) - len(listed)
    if below:
        lines.append(f"{below} finding(s) below the listed severity are counted above but not listed.")
    if omitted:
        lines.append(f"{omitted} more finding(s) are not listed here to keep the summary under GitHub's size "
                     "limit; the full report is in the run's SARIF and JSON output (and its text log).")
    lines += notes
    return "\n".join(lines) + "\n"


def render(report: Report, options: RenderOptions) -> str:
    return render_text(report, options=options)
