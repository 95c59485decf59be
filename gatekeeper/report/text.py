"""Human-readable output: findings grouped by file, ``path:line:col severity rule message``.

Findings of one object that share a location (a container missing several settings) are one
line listing their rule ids, and a rule's hint is printed once per run; ``verbose`` gives every
finding its own line and hint. Text from manifests goes through ``sanitize`` first.
"""

from __future__ import annotations

from itertools import groupby

from gatekeeper.model import Finding, Report, Severity
from gatekeeper.report import RenderOptions
from gatekeeper.report.sanitize import clean, show_path
from gatekeeper.sources.classify import CHECKS, FileClass

_COLORS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.INFO: "\033[36m"}
_BOLD, _DIM, _RESET = "\033[1m", "\033[2m", "\033[0m"


def _paint(text: str, code: str, on: bool) -> str:
    return f"{code}{text}{_RESET}" if on else text


def _where(f: Finding) -> str:
    return f"{show_path(f.path)}:{f.line}:{f.column}"


def _obj(f: Finding) -> str:
    return f" [{clean(f.resource.key)}]" if f.resource is not None else ""


def _tag(f: Finding, color: bool) -> str:
    if f.waived is not None:
        return _paint(f" (waived: {clean(f.waived.reason)})", _DIM, color)
    if f.baseline:
        return _paint(" (baseline)", _DIM, color)
    return ""


class _Writer:
    """Lines for the listed findings; remembers which rules' hints were printed."""

    def __init__(self, options: RenderOptions) -> None:
        self.options = options
        self.color = options.color
        self.hinted: set[str] = set()
        self.hints_skipped = 0
        self.grouped = 0

    def hint(self, f: Finding, label: bool = False) -> list[str]:
        if not self.options.hints or self.options.quiet or not f.hint or f.waived is not None:
            return []
        if not self.options.verbose and f.rule in self.hinted:
            self.hints_skipped += 1
            return []
        self.hinted.add(f.rule)
        name = f" ({f.rule})" if label else ""
        return [_paint(f"      hint{name}: {clean(f.hint)}", _DIM, self.color)]

    def single(self, f: Finding) -> list[str]:
        sev = _paint(f"{f.severity!s:<7}", _COLORS[f.severity], self.color)
        text = f"  {_where(f)} {sev} {f.rule:<24} {clean(f.message)}{_obj(f)}{_tag(f, self.color)}"
        return [text, *self.rendered(f), *self.hint(f)]

    def rendered(self, f: Finding) -> list[str]:
        """For a rendered object: the units that apply it and the other source lines behind the value."""
        if not f.units or self.options.quiet:
            return []
        also = [f"{o.path}:{o.line} ({o.role})" for o in f.origin if (o.path, o.line) != (f.path, f.line)]
        text = f"      rendered by {', '.join(f.units)}" + (f"; also from {', '.join(also)}" if also else "")
        return [_paint(clean(text), _DIM, self.color)]

    def group(self, items: list[Finding]) -> list[str]:
        """One line for several findings of one object at one location and severity."""
        first = items[0]
        self.grouped += len(items) - 1
        sev = _paint(f"{first.severity!s:<7}", _COLORS[first.severity], self.color)
        subject = _subject([f.message for f in items])
        rules = ", ".join(f.rule for f in items)
        head = f"{clean(subject)}: " if subject else ""
        out = [f"  {_where(first)} {sev} {head}{len(items)} findings: {rules}{_obj(first)}", *self.rendered(first)]
        for f in items:
            out.extend(self.hint(f, label=True))
        return out

    def file(self, items: list[Finding]) -> list[str]:
        out: list[str] = []
        if self.options.verbose:
            for f in items:
                out.extend(self.single(f))
            return out
        for _, at in groupby(items, key=lambda f: (f.line, f.column, f.resource)):
            same = list(at)
            for severity in sorted({f.severity for f in same}, reverse=True):
                of = [f for f in same if f.severity == severity]
                counting = [f for f in of if f.waived is None and not f.baseline]
                if len(counting) > 1 and len({f.rule for f in counting}) == len(counting):
                    out.extend(self.group(counting))
                else:
                    out.extend(line for f in counting for line in self.single(f))
                out.extend(line for f in of if f.waived is not None or f.baseline for line in self.single(f))
        return out


def _common_prefix(texts: list[str]) -> str:
    first, last = min(texts), max(texts)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def _subject(messages: list[str]) -> str:
    """What several messages are about: their common leading words (``container 'web'``)."""
    prefix = _common_prefix(messages)
    if prefix in messages:  # one message is a prefix of the others: cut back to a word
        prefix = prefix[: prefix.rfind(" ") + 1] if " " in prefix else ""
    cut = prefix.rfind("' ")
    if cut >= 0:
        return prefix[: cut + 1]
    cut = prefix.rfind(" ")
    return prefix[:cut].strip() if cut >= 8 else ""


def render(report: Report, options: RenderOptions) -> str:
    """Render the report for a terminal (ANSI colour only when asked)."""
    color = options.color
    out: list[str] = []
    if options.explain_files and not options.quiet:
        out.extend(explain(report))
    writer = _Writer(options)
    for path, group in groupby(options.listed(report), key=lambda f: f.path):
        out.append(_paint(show_path(path), _BOLD, color))
        out.extend(writer.file(list(group)))
        out.append("")
    for err in report.errors:
        where = f" ({show_path(err.path)})" if err.path else ""
        out.append(_paint(f"error: {err.check}{where}: {clean(err.message)}", _COLORS[Severity.ERROR], color))
    if not options.quiet:
        for note in report.notes:
            out.append(_paint(f"note: {clean(note)}", _DIM, color))
        if writer.hints_skipped or writer.grouped:
            out.append(_paint("note: findings at one location are on one line and each rule's hint is shown "
                              "once; --verbose lists every finding with its message and hint", _DIM, color))
    out.append(summary_line(report, color, hidden=_hidden(report, options)))
    return "\n".join(out) + "\n"


def _hidden(report: Report, options: RenderOptions) -> str:
    """What the options left out of the listing, for the summary line."""
    if options.quiet:
        left = sum(1 for f in report.findings if f.counts and f.severity < report.fail_on)
        return f"; {left} below the fail threshold not listed (--quiet)" if left else ""
    below = sum(1 for f in report.findings if f.counts and f.severity < options.min_severity)
    return f"; {below} below {options.min_severity} not listed (--min-severity)" if below else ""


def explain(report: Report) -> list[str]:
    """Each file's class, why, and the checks it gets."""
    out = ["files (class: why -> checks):"]
    for path, cls, why in report.file_classes:
        allowed = CHECKS.get(FileClass(cls))
        checks = "every check" if allowed is None else ", ".join(sorted(allowed))
        out.append(f"  {show_path(path)}: {cls}: {clean(why)} -> {checks}")
    out.append("")
    return out


def summary_line(report: Report, color: bool = False, hidden: str = "") -> str:
    """One line: counts, waived findings, verdict."""
    e, w, i = (report.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    waived = sum(1 for f in report.findings if not f.counts)
    verdict = "passed" if report.passed else ("ERROR" if report.errors else "FAILED")
    paint = _COLORS[Severity.ERROR] if not report.passed else "\033[32m"
    extra = f", {waived} waived" if waived else ""
    errs = f", {len(report.errors)} check error(s)" if report.errors else ""
    return (f"{report.files} files, {report.resources} resources checked by "
            f"{', '.join(report.checks) or 'no checks'}: {e} errors, {w} warnings, {i} info{extra}{errs}{hidden} "
            f"(fail on {report.fail_on}) -> " + _paint(verdict, paint, color))
