"""A change that weakens the gate is a finding of its own: in a git mode, the configuration in use
is compared with the one at the base, and each way it checks less is reported at its line.

A pull request can switch the gate off in the same change it slips a problem through; the run
would pass, so the weakening itself is reported where a reviewer sees it. Every key of the
configuration schema has a classification in :data:`KEYS` (a test fails when a key has none): how
a change of its value can make the gate check less. Changes to the policies the gate evaluates
(``policy_change``) and waivers written into objects (``waiver_change``) are reported the same way.

The finding is an error in a pull request (range mode) and a warning in the local modes
(pre-commit, working tree), where the person changing the configuration is the one running the
gate. Its switch and severity come from the base configuration only: the change under review
cannot lower the finding about itself.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from gatekeeper.catalogue import Catalogue
from gatekeeper.config import Config
from gatekeeper.model import Finding, Rule, Severity, fingerprint, format_field
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.yamlload import parse

CHECK = "config"
CONFIG_RULES: tuple[Rule, ...] = (
    Rule("config-weakened", CHECK, Severity.ERROR,
         "A change makes the gate check less: it switches a check or rule off, lowers a severity or the "
         "fail threshold, excludes files or kinds, changes which policies or schemas are evaluated or "
         "their limits, edits or deletes a policy file, or adds a waiver (in the configuration or an "
         "object's annotations).",
         rationale="A change can disable the gate in the same commit that slips a problem through: the "
                   "run passes because it checks less, or because the policies it is judged by are its "
                   "own. Reported in the git modes against the base: an error in a pull request, a "
                   "warning in pre-commit and working-tree runs. Only the base configuration can switch "
                   "the finding off or lower it, so a change cannot silence the finding about itself.",
         hint="Land the weakening on its own, reviewed as such (an administrator merges it past the "
              "gate), or lower this rule in the configuration at the base first.",
         bad_example="# base: checks: {secrets: {enabled: true}}\nchecks:\n  secrets:\n    enabled: false\n",
         good_example="checks:\n  secrets:\n    enabled: true\n"),
)
RULE = CONFIG_RULES[0]
# The modes whose change is reviewed by someone else (a pull request): the finding blocks there.
BLOCKING_MODES = frozenset({"range"})


class How(str, enum.Enum):
    """How a change of a key's value can make the gate check less."""

    OFF = "off"            # a boolean switched from true to false
    ADDED = "added"        # a list that excludes or waives: every new entry
    REMOVED = "removed"    # a list of what is evaluated: every entry the change drops
    CHANGED = "changed"    # what is evaluated or its limits: any change at all
    LOWERED = "lowered"    # an ordered value made smaller (a version, a size, a severity)
    RAISED = "raised"      # the fail threshold made higher
    NEUTRAL = "neutral"    # cannot make the gate check less (format version, parallelism, retries)


SEVERITY_ORDER = ("ignore", "info", "warning", "error")
# Every key of the configuration schema ("*" for any check name or rule id) -> how it weakens, its
# default where that matters, and the words for the message.
KEYS: dict[str, tuple[How, Any, str]] = {
    "version": (How.NEUTRAL, None, "the format version"),
    "kubernetes_version": (How.LOWERED, None, "the target Kubernetes version"),
    "include": (How.CHANGED, None, "which files are checked (include)"),
    "exclude": (How.ADDED, None, "excludes {value!r} from every check"),
    "fail_on": (How.RAISED, "error", "the fail threshold"),
    "max_file_size": (How.NEUTRAL, None, "the largest file read (a larger file is an error finding)"),
    "checks.*.enabled": (How.OFF, None, "switches the {name} check off"),
    "checks.schema.strict": (How.OFF, True, "switches strict schema checking off"),
    "checks.schema.missing_schema": (How.LOWERED, "warning", "the severity for objects with no schema"),
    "checks.schema.schema_dirs": (How.CHANGED, None, "the schema directories"),
    "checks.schema.skip_kinds": (How.ADDED, None, "skips schema checks for {value!r}"),
    "checks.secrets.salt": (How.NEUTRAL, None, "the fingerprint salt"),
    "checks.secrets.baseline": (How.CHANGED, None, "the secrets baseline file"),
    "checks.kyverno.values": (How.CHANGED, None, "the Kyverno values file"),
    "checks.kyverno.budget": (How.CHANGED, None, "the Kyverno evaluation budget"),
    "checks.kyverno.exception_namespaces": (How.ADDED, None, "honours Kyverno PolicyExceptions in {value!r}"),
    "checks.admission.paths": (How.CHANGED, None, "the admission policy directories"),
    "checks.policy.paths": (How.CHANGED, None, "the policy directories"),
    "checks.policy.namespaces": (How.REMOVED, ["main"], "stops evaluating policy packages {value!r}"),
    "checks.policy.all_namespaces": (How.OFF, False, "stops evaluating every policy package"),
    "checks.policy.data": (How.CHANGED, None, "the policy data files"),
    "checks.policy.combine": (How.CHANGED, None, "how documents are given to policies (combine)"),
    "checks.policy.rego_version": (How.CHANGED, None, "the Rego version policies are read as"),
    "checks.policy.opa_url": (How.CHANGED, None, "the OPA server policies are evaluated on"),
    "checks.policy.opa_timeout": (How.CHANGED, None, "the OPA request timeout"),
    "checks.policy.opa_retries": (How.NEUTRAL, None, "the OPA retries"),
    "checks.policy.jobs": (How.NEUTRAL, None, "the policy worker count"),
    "checks.policy.timeout": (How.CHANGED, None, "the policy evaluation timeout"),
    "checks.policy.memory_mb": (How.CHANGED, None, "the policy worker memory limit"),
    "checks.policy.max_depth": (How.CHANGED, None, "the deepest value given to policies"),
    "rules.*.enabled": (How.OFF, None, "switches rule {name} off"),
    "rules.*.severity": (How.LOWERED, None, "lowers rule {name}"),
    "rules.*.options": (How.CHANGED, None, "the options of rule {name}"),
    "waivers": (How.ADDED, None, "adds a waiver for {rule}"),
    "render": (How.REMOVED, None, "stops rendering the deployment unit {value!r}"),
}

KeyPath = tuple[str | int, ...]


def schema_keys(schema: dict[str, Any]) -> Iterator[str]:
    """Every key of a configuration schema as a :data:`KEYS` pattern (check names and rule ids as
    ``*`` where a rule covers them all)."""
    def walk(node: dict[str, Any], path: tuple[str, ...]) -> Iterator[str]:
        props = node.get("properties")
        extra = node.get("additionalProperties")
        if not props and not isinstance(extra, dict):
            yield ".".join(path)
            return
        for key, sub in (props or {}).items():
            yield from walk(sub, (*path, key))
        if isinstance(extra, dict):
            yield from walk(extra, (*path, "*"))
    for key in walk(schema, ()):
        parts = key.split(".")
        if parts[0] == "checks" and len(parts) == 3 and f"checks.{parts[1]}.{parts[2]}" not in KEYS:
            key = f"checks.*.{parts[2]}"
        yield key


def weakenings(base: Config, head: Config, catalogue: Catalogue) -> list[tuple[KeyPath, str]]:
    """(key path in the head configuration, what it weakens) for each way ``head`` checks less."""
    out: list[tuple[KeyPath, str]] = []
    for entry in catalogue.checks:
        if base.check_enabled(entry.name, entry.default_enabled) and \
                not head.check_enabled(entry.name, entry.default_enabled):
            out.append((("checks", entry.name, "enabled"), f"switches the {entry.name} check off"))
    out.extend(_rules(base, head, catalogue))
    for pattern, (how, default, words) in KEYS.items():
        if pattern.startswith("rules.") or pattern == "checks.*.enabled" or how is How.NEUTRAL:
            continue
        path = tuple(pattern.split("."))
        out.extend(_compare(path, _get(base.raw, path), _get(head.raw, path), how, default, words))
    return out


def _rules(base: Config, head: Config, catalogue: Catalogue) -> Iterator[tuple[KeyPath, str]]:
    for rule_id in sorted(set(base.rules) | set(head.rules)):
        rule = catalogue.rule(rule_id)
        default_on = rule.enabled if rule is not None else True
        if base.rule_enabled(rule_id, default_on) and not head.rule_enabled(rule_id, default_on):
            yield ("rules", rule_id, "enabled"), f"switches rule {rule_id} off"
            continue
        default = rule.severity if rule is not None else Severity.ERROR
        before, after = _severity(base, rule_id, default), _severity(head, rule_id, default)
        if before is not None and after is not None and after < before:
            yield ("rules", rule_id, "severity"), f"lowers rule {rule_id} from {before} to {after}"
        if base.rules.get(rule_id, {}).get("options") != head.rules.get(rule_id, {}).get("options"):
            yield ("rules", rule_id, "options"), f"changes the options of rule {rule_id}"


def _get(raw: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        raw = raw.get(part) if isinstance(raw, dict) else None
    return raw


def _compare(path: tuple[str, ...], before: Any, after: Any, how: How, default: Any,
             words: str) -> Iterator[tuple[KeyPath, str]]:
    before = default if before is None else before
    after = default if after is None else after
    if before == after:
        return
    if how is How.ADDED:
        old = before if isinstance(before, list) else []
        for i, value in enumerate(after if isinstance(after, list) else []):
            if value not in old:
                yield (*path, i), _words(words, value, path)
    elif how is How.REMOVED:
        new = after if isinstance(after, list) else []
        gone = [v for v in (before if isinstance(before, list) else []) if v not in new]
        if gone:
            yield path, _words(words, gone[0] if len(gone) == 1 else gone, path)
    elif how is How.OFF:
        if before is True and after is False:
            yield path, _words(words, None, path)
    elif how is How.CHANGED:
        yield path, f"changes {words} from {_shown(before)} to {_shown(after)}"
    elif how is How.LOWERED and _lower(path[-1], before, after):
        yield path, f"lowers {words} from {_shown(before)} to {_shown(after)}"
    elif how is How.RAISED and SEVERITY_ORDER.index(str(after)) > SEVERITY_ORDER.index(str(before)):
        yield path, f"raises {words} from {before} to {after}"


def _words(words: str, value: Any, path: tuple[str, ...]) -> str:
    rules = value.get("rule") if isinstance(value, dict) else None
    named = ", ".join(map(str, rules)) if isinstance(rules, list) else str(rules)
    return words.format(value=value, name=path[1] if len(path) > 1 else "", rule=named)


def _shown(value: Any) -> str:
    text = "the default" if value is None else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _lower(key: str, before: Any, after: Any) -> bool:
    """Whether ``after`` is lower than ``before`` for an ordered key (None: the newest/default)."""
    if key == "kubernetes_version":
        return after is not None and (before is None or _version(after) < _version(before))
    if after in SEVERITY_ORDER and before in SEVERITY_ORDER:
        return SEVERITY_ORDER.index(after) < SEVERITY_ORDER.index(before)
    return False


def _version(value: Any) -> tuple[int, ...]:
    parts = str(value).lstrip("v").split(".")[:2]
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        return (0,)


def _severity(config: Config, rule_id: str, default: Severity) -> Severity | None:
    try:
        return config.rule_severity(rule_id, default)
    except ValueError:
        return None


def severity(base: Config, mode: str) -> Severity | None:
    """The finding's severity: the base configuration's choice, else an error in a pull request and a
    warning in the local modes (None: the base switched the rule off)."""
    if not base.rule_enabled(RULE.id, True):
        return None
    default = RULE.severity if mode in BLOCKING_MODES else Severity.WARNING
    return _severity(base, RULE.id, default) or default


def finding(sev: Severity, path: str, line: int, column: int, field: str, what: str,
            message: str | None = None) -> Finding:
    """One ``config-weakened`` finding."""
    return Finding(check=CHECK, rule=RULE.id, severity=sev,
                   message=message or f"this change {what}: the gate checks less than at the base",
                   path=path, line=line, column=column, field=field, hint=RULE.hint,
                   fingerprint=fingerprint(RULE.id, None, path, field, what))


def findings(base: Config, head: Config, catalogue: Catalogue, shown: str, mode: str = "range") -> list[Finding]:
    """Findings for ``weakenings`` located at their lines of the head configuration file ``shown``
    (line 1 when the change deleted the file)."""
    sev = severity(base, mode)
    found = weakenings(base, head, catalogue) if sev is not None else []
    if not found or sev is None:
        return []
    doc = _document(head.path)
    out = []
    for key_path, what in found:
        line, column = _locate(doc, key_path)
        out.append(finding(sev, shown, line, column, format_field(key_path), what))
    return out


def _document(path: Path | None) -> Any:
    if path is None:
        return None
    try:
        parsed = parse(SourceFile(path.name, path.read_bytes()))
    except OSError:
        return None
    return parsed.documents[0] if parsed.documents else None


def _locate(doc: Any, key_path: Iterable[str | int]) -> tuple[int, int]:
    """The key's line, or its nearest written ancestor's (a key the change deleted: its parent)."""
    if doc is None:
        return 1, 1
    line, column = doc.locate(tuple(key_path))
    return max(line, 1), max(column, 1)
