"""JUnit XML for CI test dashboards: a testsuite per check, a testcase per resource.

A testcase fails when the check reported findings at or above the fail threshold for that
resource (one ``<failure>`` listing them); lower findings go to ``<system-out>``; a check that
could not run is an ``<error>``. Text is escaped by the XML writer and characters XML 1.0
cannot carry are replaced, so a message can never break the document.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from gatekeeper.model import Finding, Report
from gatekeeper.report import RenderOptions

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean(text: str) -> str:
    """Replace characters that XML 1.0 does not allow."""
    return _INVALID_XML.sub("\ufffd", text)


def _line(f: Finding) -> str:
    where = f"{f.path}:{f.line}:{f.column}"
    field = f" at {f.field}" if f.field and not f.message.startswith(f.field) else ""
    hint = f" (fix: {f.hint})" if f.hint else ""
    return f"{where} {f.severity} {f.rule}{field}: {f.message}{hint}"


def _case_key(f: Finding) -> tuple[str, str]:
    return (f.path, f.resource.key if f.resource is not None else f.path)


def render(report: Report, options: RenderOptions) -> str:
    by_check: dict[str, dict[tuple[str, str], list[Finding]]] = defaultdict(lambda: defaultdict(list))
    for f in report.findings:
        by_check[f.check][_case_key(f)].append(f)
    suites = list(dict.fromkeys([*(["parse"] if "parse" in by_check else []), *report.checks, *by_check]))
    errors_by_check: dict[str, list[str]] = defaultdict(list)
    for err in report.errors:
        errors_by_check[err.check].append((f"{err.path}: " if err.path else "") + err.message)
    suites += [c for c in errors_by_check if c not in suites]
    root = ET.Element("testsuites", name="gatekeeper")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for check in suites:
        cases = dict(by_check.get(check, {}))
        if check != "parse" and check in report.checks:
            for subject in report.subjects:
                cases.setdefault(subject, [])
        suite = ET.SubElement(root, "testsuite", name=clean(check))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for (path, name), found in sorted(cases.items()):
            case = ET.SubElement(suite, "testcase", classname=clean(path), name=clean(name), file=clean(path))
            counts["tests"] += 1
            failing = [f for f in found if f.counts and f.severity >= report.fail_on]
            other = [f for f in found if f not in failing]
            if failing:
                counts["failures"] += 1
                failure = ET.SubElement(case, "failure", type=clean(failing[0].rule),
                                        message=clean(f"{len(failing)} finding(s): {failing[0].message}"))
                failure.text = clean("\n".join(_line(f) for f in failing))
            if other:
                out = ET.SubElement(case, "system-out")
                out.text = clean("\n".join(_line(f) + (" [waived]" if not f.counts else "") for f in other))
        for message in errors_by_check.get(check, []):
            case = ET.SubElement(suite, "testcase", classname=clean(check), name="check could not run")
            error = ET.SubElement(case, "error", message=clean(message), type="CheckError")
            error.text = clean(message)
            counts["tests"] += 1
            counts["errors"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
        suite.set("time", f"{report.timings.get(check, 0.0):.3f}")
        for key in totals:
            totals[key] += counts[key]
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
