"""A change that weakens the gate is a finding of its own: in a git mode, the configuration in use
is compared with the one at the base, and each way it checks less is a warning at its line.

A pull request can switch the gate off in the same change it slips a problem through (a check
or rule disabled, a severity or the fail threshold lowered, files excluded, a waiver added);
the run would pass, so the weakening itself is reported where a reviewer sees it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gatekeeper.catalogue import Catalogue
from gatekeeper.config import Config
from gatekeeper.model import Finding, Rule, Severity, fingerprint, format_field
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.yamlload import parse

CHECK = "config"
CONFIG_RULES: tuple[Rule, ...] = (
    Rule("config-weakened", CHECK, Severity.WARNING,
         "A change to the configuration switches a check or rule off, lowers a severity or the fail "
         "threshold, excludes files or adds a waiver.",
         rationale="A change can disable the gate in the same commit that slips a problem through: the "
                   "run passes because it checks less. Reported in the git modes (pull requests, "
                   "pre-commit), against the configuration at the base.",
         hint="If the change is intended, say why in the review; the finding is a warning so it does not "
              "block on its own (set fail_on: warning to make it block).",
         bad_example="# base: checks: {secrets: {enabled: true}}\nchecks:\n  secrets:\n    enabled: false\n",
         good_example="checks:\n  secrets:\n    enabled: true\n"),
)
RULE = CONFIG_RULES[0]


def weakenings(base: Config, head: Config, catalogue: Catalogue) -> list[tuple[tuple[str | int, ...], str]]:
    """(key path in the head configuration, what it weakens) for each way ``head`` checks less."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    for entry in catalogue.checks:
        if base.check_enabled(entry.name, entry.default_enabled) and \
                not head.check_enabled(entry.name, entry.default_enabled):
            out.append((("checks", entry.name, "enabled"), f"switches the {entry.name} check off"))
    for rule_id in sorted(set(base.rules) | set(head.rules)):
        rule = catalogue.rule(rule_id)
        default_on = rule.enabled if rule is not None else True
        if base.rule_enabled(rule_id, default_on) and not head.rule_enabled(rule_id, default_on):
            out.append((("rules", rule_id, "enabled"), f"switches rule {rule_id} off"))
            continue
        default = rule.severity if rule is not None else Severity.ERROR
        before, after = _severity(base, rule_id, default), _severity(head, rule_id, default)
        if before is not None and after is not None and after < before:
            out.append((("rules", rule_id, "severity"), f"lowers rule {rule_id} from {before} to {after}"))
    before_fail, after_fail = base.fail_on or Severity.ERROR, head.fail_on or Severity.ERROR
    if after_fail > before_fail:
        out.append((("fail_on",), f"raises the fail threshold from {before_fail} to {after_fail}"))
    for i, glob in enumerate(head.exclude):
        if glob not in base.exclude:
            out.append((("exclude", i), f"excludes {glob!r} from every check"))
    if head.include is not None and base.include != head.include:
        out.append((("include",), "changes which files are checked (include)"))
    for i, waiver in enumerate(head.waivers):
        if waiver not in base.waivers:
            rules = waiver.get("rule")
            named = ", ".join(rules) if isinstance(rules, list) else str(rules)
            out.append((("waivers", i), f"adds a waiver for {named}"))
    return out


def _severity(config: Config, rule_id: str, default: Severity) -> Severity | None:
    try:
        return config.rule_severity(rule_id, default)
    except ValueError:
        return None


def findings(base: Config, head: Config, catalogue: Catalogue, shown: str) -> list[Finding]:
    """Warnings for ``weakenings`` located at their lines of the head configuration file ``shown``
    (line 1 when the change deleted the file)."""
    found = weakenings(base, head, catalogue)
    if not found:
        return []
    doc = _document(head.path)
    out = []
    for key_path, what in found:
        line, column = _locate(doc, key_path)
        field = format_field(key_path)
        out.append(Finding(check=CHECK, rule=RULE.id, severity=RULE.severity,
                           message=f"this change {what}: the gate checks less than at the base",
                           path=shown, line=line, column=column, field=field, hint=RULE.hint,
                           fingerprint=fingerprint(RULE.id, None, shown, field, what)))
    return out


def _document(path: Path | None) -> Any:
    if path is None:
        return None
    try:
        parsed = parse(SourceFile(path.name, path.read_bytes()))
    except OSError:
        return None
    return parsed.documents[0] if parsed.documents else None


def _locate(doc: Any, key_path: tuple[str | int, ...]) -> tuple[int, int]:
    """The key's line, or its nearest written ancestor's (a key the change deleted: its parent)."""
    if doc is None:
        return 1, 1
    line, column = doc.locate(key_path)
    return max(line, 1), max(column, 1)
