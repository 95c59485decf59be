"""SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

Rules come from the rule catalogue the report carries plus any rule id seen in the findings (policy rules are
defined by the policies themselves). Locations are relative to the repository root
(``%SRCROOT%``), fingerprints go to ``partialFingerprints`` so code scanning tracks a
finding across line moves, and waived findings become ``suppressions``. GitHub accepts at
most 25,000 results per run: beyond that the least severe are left out and a notification
says how many.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from gatekeeper import __version__
from gatekeeper.model import Finding, Report, Rule, Severity
from gatekeeper.report import RenderOptions

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/gitops-gatekeeper/gitops-gatekeeper"
MAX_RESULTS = 25_000
FINGERPRINT_KEY = "gatekeeper/v1"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _rule_descriptor(rule: Rule) -> dict[str, Any]:
    help_parts = [rule.summary]
    if rule.rationale:
        help_parts.append(f"Why: {rule.rationale}")
    if rule.hint:
        help_parts.append(f"Fix: {rule.hint}")
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.replace("_", "-").split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.rationale or rule.summary},
        "help": {"text": "\n\n".join(help_parts), "markdown": "\n\n".join(help_parts)},
        "defaultConfiguration": {"level": LEVELS[rule.severity], "enabled": rule.enabled},
        "properties": {"tags": [rule.check]},
    }


def _adhoc_descriptor(rule_id: str, finding: Finding) -> dict[str, Any]:
    """A descriptor for a rule the registry does not know (e.g. defined by a Rego policy)."""
    text = f"{finding.check} rule {rule_id}"
    return {
        "id": rule_id,
        "shortDescription": {"text": text},
        "help": {"text": finding.hint or text},
        "defaultConfiguration": {"level": LEVELS[finding.severity]},
        "properties": {"tags": [finding.check]},
    }


def _rules(catalogue: Iterable[Rule], findings: list[Finding]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    descriptors: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for rule in catalogue:
        if rule.id not in index:
            index[rule.id] = len(descriptors)
            descriptors.append(_rule_descriptor(rule))
    for f in findings:
        if f.rule not in index:
            index[f.rule] = len(descriptors)
            descriptors.append(_adhoc_descriptor(f.rule, f))
    return descriptors, index


def artifact_uri(path: str) -> str:
    """A relative URI reference for a repository path (spaces and other specials percent-encoded)."""
    return quote(path, safe="/-._~")


def _result(f: Finding, rule_index: int) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": max(f.line, 1), "startColumn": max(f.column, 1)}
    if f.end_line is not None and f.end_line >= f.line:
        region["endLine"] = f.end_line
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(f.path), "uriBaseId": "%SRCROOT%"},
            "region": region,
        },
    }
    if f.resource is not None:
        location["logicalLocations"] = [{"name": f.resource.key, "kind": "object",
                                         "fullyQualifiedName": f"{f.resource.key}:{f.field}" if f.field
                                         else f.resource.key}]
    message = f.message + (f"\nFix: {f.hint}" if f.hint else "")
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": LEVELS[f.severity],
        "message": {"text": message},
        "locations": [location],
        "properties": {"check": f.check, "field": f.field},
    }
    related = [o for o in f.origin if (o.path, o.line) != (f.path, f.line)]
    if related:
        result["relatedLocations"] = [
            {"id": i, "physicalLocation": {"artifactLocation": {"uri": artifact_uri(o.path), "uriBaseId": "%SRCROOT%"},
                                           "region": {"startLine": max(o.line, 1)}},
             "message": {"text": o.role}} for i, o in enumerate(related)]
    if f.units:
        result["properties"]["units"] = list(f.units)
    if f.fingerprint:
        result["partialFingerprints"] = {FINGERPRINT_KEY: f.fingerprint}
    if f.waived is not None:
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": f.waived.reason,
                                   "properties": {"source": f.waived.source, "expires": f.waived.expires}}]
    elif f.baseline:
        result["baselineState"] = "unchanged"
    return result


def _most_severe_first(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-int(f.severity), not f.counts, f.path, f.line, f.column))


def document(report: Report) -> dict[str, Any]:
    """The SARIF log as a dict (``render`` serialises it)."""
    findings = report.findings
    rules, index = _rules(report.rules.values(), findings)
    kept = findings
    notifications: list[dict[str, Any]] = []
    if len(findings) > MAX_RESULTS:
        kept = sorted(_most_severe_first(findings)[:MAX_RESULTS],
                      key=lambda f: (f.path, f.line, f.column, f.rule))
        notifications.append({"level": "warning", "message": {
            "text": f"{len(findings) - MAX_RESULTS} of {len(findings)} results were left out "
                    f"(code scanning accepts at most {MAX_RESULTS} per run; the least severe were dropped)"}})
    for err in report.errors:
        where = f" ({err.path})" if err.path else ""
        notifications.append({"level": "error", "message": {"text": f"{err.check}{where}: {err.message}"}})
    invocation: dict[str, Any] = {"executionSuccessful": not report.errors}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "gitops-gatekeeper", "version": __version__,
                            "semanticVersion": __version__, "informationUri": INFORMATION_URI,
                            "rules": rules}},
        "automationDetails": {"id": "gitops-gatekeeper/"},
        "invocations": [invocation],
        "columnKind": "unicodeCodePoints",
        "results": [_result(f, index[f.rule]) for f in kept],
        "properties": {"policyDigest": report.policy_digest, "checks": report.checks},
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(report: Report, options: RenderOptions) -> str:
    return json.dumps(document(report), indent=2) + "\n"
