"""Machine-readable output, versioned; the format is documented in docs/output.md."""

from __future__ import annotations

import json
from typing import Any

from gatekeeper import __version__
from gatekeeper.model import Finding, Report, Severity
from gatekeeper.report import RenderOptions

FORMAT_VERSION = 1


def finding_dict(f: Finding) -> dict[str, Any]:
    """One finding as the JSON report writes it."""
    return {
        "check": f.check,
        "rule": f.rule,
        "severity": str(f.severity),
        "message": f.message,
        "path": f.path,
        "line": f.line,
        "column": f.column,
        "end_line": f.end_line,
        "resource": None if f.resource is None else {
            "apiVersion": f.resource.api_version, "kind": f.resource.kind,
            "namespace": f.resource.namespace, "name": f.resource.name, "document": f.resource.document,
        },
        "field": f.field,
        "hint": f.hint,
        "fingerprint": f.fingerprint,
        "waived": None if f.waived is None else {
            "reason": f.waived.reason, "source": f.waived.source, "expires": f.waived.expires,
        },
        "baseline": f.baseline,
        "unit": list(f.units),
        "origin": [{"path": o.path, "line": o.line, "role": o.role} for o in f.origin],
    }


def summary_dict(report: Report) -> dict[str, Any]:
    """The report's summary block (also used by other formats and the sync step's note)."""
    return {
        "files": report.files,
        "documents": report.documents,
        "resources": report.resources,
        "findings": {str(s): report.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)},
        "waived": sum(1 for f in report.findings if not f.counts),
        "errors": len(report.errors),
        "fail_on": str(report.fail_on),
        "passed": report.passed,
        "checks": report.checks,
        "policy_digest": report.policy_digest,
        "classes": _class_counts(report),
    }


def _class_counts(report: Report) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, cls, _ in report.file_classes:
        counts[cls] = counts.get(cls, 0) + 1
    return dict(sorted(counts.items()))


def render(report: Report, options: RenderOptions) -> str:
    doc = {
        "version": FORMAT_VERSION,
        "tool": {"name": "gitops-gatekeeper", "version": __version__},
        "summary": summary_dict(report),
        "findings": [finding_dict(f) for f in report.findings],
        "errors": [{"check": e.check, "message": e.message, "path": e.path} for e in report.errors],
        "notes": report.notes,
        "timings": {k: round(v, 4) for k, v in report.timings.items()},
    }
    if options.explain_files:
        doc["files"] = [{"path": path, "class": cls, "reason": why} for path, cls, why in report.file_classes]
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"
