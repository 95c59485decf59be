"""Waivers: accepted findings, each with a reason, a source and (optionally) an expiry date.

Two sources, applied by the pipeline to the findings of every check:

* object annotations ``gatekeeper.io/ignore: "rule-id[,rule-id]"`` with the required
  ``gatekeeper.io/ignore-reason`` (and optional ``gatekeeper.io/ignore-expires`` /
  ``gatekeeper.io/ignore-owner``); on a workload the pod template's annotations count too;
* ``waivers:`` in ``.gatekeeper.yaml``: rule(s), a match on path glob / kind / namespace /
  name glob, reason, owner and expiry.

A waived finding stays in the report (``waived``) but does not count. A waiver that cannot
be trusted never waives: one without a reason, with an unreadable or past expiry date, is
itself a finding; a configured waiver that matched nothing is reported as unused.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gatekeeper.catalogue import Catalogue
from gatekeeper.config import Config
from gatekeeper.model import (
    FieldPath,
    Finding,
    Resource,
    ResourceRef,
    Rule,
    Severity,
    Waiver,
    fingerprint,
    format_field,
)
from gatekeeper.sources.files import SourceFile, matches
from gatekeeper.sources.yamlload import parse

CHECK = "waiver"
IGNORE = "gatekeeper.io/ignore"
REASON = "gatekeeper.io/ignore-reason"
EXPIRES = "gatekeeper.io/ignore-expires"
OWNER = "gatekeeper.io/ignore-owner"
ALL_RULES = frozenset({"*", "all"})
SECRETS = "secrets"  # the check whose findings a wildcard waiver never covers

# Where a workload keeps its pod template's metadata (annotations there waive the workload's findings).
TEMPLATE_METADATA: dict[str, FieldPath] = {
    **{k: ("spec", "template", "metadata") for k in (
        "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job")},
    "CronJob": ("spec", "jobTemplate", "spec", "template", "metadata"),
    "PodTemplate": ("template", "metadata"),
}

_E, _W = Severity.ERROR, Severity.WARNING


def _example(*annotations: str) -> str:
    lines = "".join(f"    {a}\n" for a in annotations)
    return ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations:\n" + lines
            + "spec:\n  containers:\n    - name: web\n      image: nginx:latest\n")


_WAIVED = (f"{IGNORE}: image-latest", f"{REASON}: \"demo pod, rebuilt on every run\"")
_CREDENTIAL = "      env:\n        - {name: DB_PASSWORD, value: \"Xk9qW2eR7tY5uI3oP1aS\"}\n"
WAIVER_RULES: tuple[Rule, ...] = (
    Rule("waiver-missing-reason", CHECK, _E, "An ignore annotation has no gatekeeper.io/ignore-reason.",
         "A waiver nobody can explain cannot be reviewed or revisited; it does not waive anything.",
         f"Add the annotation {REASON}: \"<why this is acceptable>\" next to {IGNORE}.",
         bad_example=_example(_WAIVED[0]), good_example=_example(*_WAIVED)),
    Rule("waiver-expired", CHECK, _E, "A waiver is past its expiry date and no longer waives findings.",
         "Waivers are temporary by design: when one expires the finding counts again and the owner must "
         "fix it or renew the waiver deliberately.",
         "Fix the finding and delete the waiver, or move its expiry date after review with its owner.",
         bad_example=_example(*_WAIVED, f"{EXPIRES}: \"2020-01-31\"", f"{OWNER}: team-shop"),
         good_example=_example(*_WAIVED, f"{EXPIRES}: \"2999-12-31\"", f"{OWNER}: team-shop")),
    Rule("waiver-invalid", CHECK, _E, "A waiver cannot be read (bad expiry date, no or unknown rule ids).",
         "A waiver whose scope or lifetime is unclear must not silently waive anything.",
         "Write the expiry as YYYY-MM-DD and list rule ids separated by commas.",
         bad_example=_example(*_WAIVED, f"{EXPIRES}: \"end of Q3\""),
         good_example=_example(*_WAIVED, f"{EXPIRES}: \"2999-09-30\"")),
    Rule("waiver-wildcard-secret", CHECK, _E,
         "A wildcard waiver ('*' or 'all') would waive a committed credential; it does not.",
         "A credential in the repository is exposed whatever else the object is excused for: a waiver of "
         "every rule must not silently cover it. A secrets finding is waived only by a waiver that names "
         "its rule.",
         "Remove the credential (and rotate it), or name the secrets rule in the waiver if the value is "
         "known to be harmless.",
         bad_example=_example(f"{IGNORE}: \"*\"", f"{REASON}: \"legacy pod\"") + _CREDENTIAL,
         good_example=_example(f"{IGNORE}: image-latest", f"{REASON}: \"legacy pod\"")),
    Rule("waiver-unused", CHECK, _W, "A configured waiver matched no finding.",
         "A stale waiver hides the next problem that happens to match it; remove it once the finding is "
         "fixed.",
         "Delete the waiver from .gatekeeper.yaml, or fix its rule and match."),
)
RULES = {r.id: r for r in WAIVER_RULES}


@dataclass(slots=True)
class _Candidate:
    """A waiver that may apply: the rules it covers and what a waived finding records."""

    rules: frozenset[str]
    waiver: Waiver
    index: int | None = None  # position in config.waivers (None for annotations)
    # where the waiver is written (path, line, column, object, field), for its own findings
    where: tuple[str, int, int, ResourceRef | None, str] = ("", 1, 1, None, "")
    refused: set[str] = field(default_factory=set)  # secrets rules a wildcard would have waived

    def covers(self, rule: str) -> bool:
        return not self.refused and (rule in self.rules or bool(self.rules & ALL_RULES))

    def refuse(self, f: Finding) -> None:
        """A wildcard that would waive a secrets finding without naming its rule waives nothing."""
        if f.check == SECRETS and f.rule not in self.rules and self.rules & ALL_RULES:
            self.refused.add(f.rule)


@dataclass(slots=True)
class _ConfigWaiver(_Candidate):
    path: str | None = None
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    used: bool = False
    line: int = 1

    def matches(self, f: Finding) -> bool:
        if not self.covers(f.rule):
            return False
        if self.path is not None and not matches(f.path, (self.path,)):
            return False
        if self.kind is None and self.namespace is None and self.name is None:
            return True
        ref = f.resource
        if ref is None:
            return False
        return ((self.kind is None or ref.kind == self.kind)
                and (self.namespace is None or ref.namespace == self.namespace)
                and (self.name is None or fnmatch.fnmatchcase(ref.name or "", self.name)))


def today_utc() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def parse_date(value: Any) -> dt.date | None:
    """``YYYY-MM-DD`` (or a date) -> date; None when it cannot be read."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        return None


def _rule_set(value: Any) -> frozenset[str]:
    items = value if isinstance(value, list) else str(value).split(",")
    return frozenset(str(r).strip() for r in items if str(r).strip())


def _finding(rule_id: str, message: str, path: str, line: int, column: int = 1,
             resource: ResourceRef | None = None, field_path: str = "", evidence: str = "") -> Finding:
    rule = RULES[rule_id]
    return Finding(check=CHECK, rule=rule_id, severity=rule.severity, message=message, path=path, line=line,
                   column=column, resource=resource, field=field_path, hint=rule.hint,
                   fingerprint=fingerprint(rule_id, resource, path, field_path, evidence))


def _annotation_waivers(res: Resource, today: dt.date, out: list[Finding]) -> list[_Candidate]:
    """The waivers a resource's own (and pod template's) annotations declare."""
    found: list[_Candidate] = []
    places: list[FieldPath] = [("metadata",)]
    if res.kind in TEMPLATE_METADATA:
        places.append(TEMPLATE_METADATA[res.kind])
    for meta_path in places:
        meta: Any = res.obj
        for part in meta_path:
            meta = meta.get(part) if isinstance(meta, dict) else None
        annotations = meta.get("annotations") if isinstance(meta, dict) else None
        if not isinstance(annotations, dict) or IGNORE not in annotations:
            continue
        candidate = _read_annotations(res, (*meta_path, "annotations"), annotations, today, out)
        if candidate is not None:
            found.append(candidate)
    return found


def _read_annotations(res: Resource, base: FieldPath, ann: dict[str, Any], today: dt.date,
                      out: list[Finding]) -> _Candidate | None:
    line, column = res.locate((*base, IGNORE))
    where = format_field((*base, IGNORE))
    rules = _rule_set(ann.get(IGNORE) or "")
    reason = str(ann.get(REASON) or "").strip()
    owner = str(ann.get(OWNER) or "").strip() or None
    label = f"annotation {IGNORE} on {res.ref.key}"
    if not rules:
        out.append(_finding("waiver-invalid", f"{label} lists no rule ids; it waives nothing", res.path, line,
                            column, res.ref, where))
        return None
    if not reason:
        out.append(_finding("waiver-missing-reason", f"{label} ({', '.join(sorted(rules))}) has no {REASON}; "
                            "it waives nothing", res.path, line, column, res.ref, where))
        return None
    expires: dt.date | None = None
    if ann.get(EXPIRES) is not None:
        expires = parse_date(ann[EXPIRES])
        exp_line, exp_col = res.locate((*base, EXPIRES))
        if expires is None:
            out.append(_finding("waiver-invalid", f"{label}: {EXPIRES} is not a YYYY-MM-DD date; it waives "
                                "nothing", res.path, exp_line, exp_col, res.ref,
                                format_field((*base, EXPIRES))))
            return None
        if today > expires:
            out.append(_finding("waiver-expired", f"{label} ({', '.join(sorted(rules))}) expired on {expires}"
                                f"{_owner_text(owner)}; its findings count again", res.path, exp_line,
                                exp_col, res.ref, format_field((*base, EXPIRES))))
            return None
    source = f"annotation {IGNORE} ({res.path}:{line})"
    return _Candidate(rules, Waiver(reason, source, expires.isoformat() if expires else None, owner),
                      where=(res.path, line, column, res.ref, where))


def _owner_text(owner: str | None) -> str:
    return f" (owner: {owner})" if owner else " (no owner recorded)"


def _config_location(config: Config, root: Path) -> tuple[str, list[int]]:
    """The config file's path as findings show it, and the line of each waiver entry."""
    if config.path is None:
        return ".gatekeeper.yaml", [1] * len(config.waivers)
    try:
        shown = Path(os.path.relpath(config.path.absolute(), root.absolute())).as_posix()
    except ValueError:  # another drive (Windows)
        shown = config.path.as_posix()
    if shown.startswith("../"):
        shown = config.path.absolute().as_posix()
    lines = [1] * len(config.waivers)
    try:
        parsed = parse(SourceFile(shown, config.path.read_bytes()))
        if parsed.documents:
            lines = [parsed.documents[0].locate(("waivers", i))[0] for i in range(len(config.waivers))]
    except OSError:
        return shown, lines  # the file was read once already; without it, waivers point at line 1
    return shown, lines


def _config_waivers(config: Config, shown: str, lines: list[int], today: dt.date,
                    out: list[Finding]) -> list[_ConfigWaiver]:
    found: list[_ConfigWaiver] = []
    for i, raw in enumerate(config.waivers):
        line = lines[i]
        rules = _rule_set(raw.get("rule", ""))
        owner = raw.get("owner")
        label = f"waiver #{i + 1} ({', '.join(sorted(rules)) or 'no rule'})"
        if not rules:
            out.append(_finding("waiver-invalid", f"{label} lists no rule ids; it waives nothing", shown,
                                line, field_path=f"waivers[{i}]"))
            continue
        expires = None
        if raw.get("expires") is not None:
            expires = parse_date(raw["expires"])
            if expires is None:
                out.append(_finding("waiver-invalid", f"{label}: expires is not a valid date; it waives "
                                    "nothing", shown, line, field_path=f"waivers[{i}].expires"))
                continue
            if today > expires:
                out.append(_finding("waiver-expired", f"{label} expired on {expires}{_owner_text(owner)}; "
                                    "the findings it waived count again", shown, line,
                                    field_path=f"waivers[{i}]", evidence=str(i)))
                continue
        match = raw.get("match") or {}
        source = f"{shown}:{line} (waivers[{i}])"
        waiver = Waiver(str(raw.get("reason", "")), source, expires.isoformat() if expires else None, owner)
        found.append(_ConfigWaiver(
            rules, waiver, i, where=(shown, line, 1, None, f"waivers[{i}]"), path=match.get("path"),
            kind=match.get("kind"), namespace=match.get("namespace"), name=match.get("name"), line=line))
    return found


def _unused(waivers: Sequence[_ConfigWaiver], catalogue: Catalogue, ran: Iterable[str],
            shown: str) -> list[Finding]:
    """Findings for configured waivers that waived nothing (only when every check they target ran)."""
    ran_set = set(ran)
    out = []
    for w in waivers:
        unknown = sorted(r for r in w.rules if r not in ALL_RULES and catalogue.rule(r) is None and "/" not in r)
        if unknown:  # ids with '/' name policy rules, which exist only once policies load
            out.append(_finding("waiver-invalid", f"waiver #{(w.index or 0) + 1} names unknown rule id(s) "
                                f"{', '.join(unknown)} (see 'gatekeeper rules')", shown, w.line,
                                field_path=f"waivers[{w.index}].rule", evidence=",".join(unknown)))
            continue
        if w.used or w.refused:
            continue
        checks = {catalogue.check_of(r) for r in w.rules if r not in ALL_RULES}
        if None in checks or not checks <= ran_set | {"parse", CHECK}:
            continue  # a rule of a check that did not run (or a policy rule id): cannot judge
        out.append(_finding("waiver-unused", f"waiver #{(w.index or 0) + 1} ({', '.join(sorted(w.rules))}) "
                            "matched no finding", shown, w.line, field_path=f"waivers[{w.index}]",
                            evidence=str(w.index)))
    return out


def apply_waivers(findings: Iterable[Finding], resources: Iterable[Resource], config: Config, root: Path,
                  catalogue: Catalogue, *, today: dt.date | None = None, ran: Iterable[str] = ()) -> list[Finding]:
    """Mark waived findings and add the waivers' own findings (missing reason, expired, unused);
    the catalogue tells which check reports each rule a config waiver names."""
    today = today or today_utc()
    own: list[Finding] = []
    by_object: dict[tuple[str, int, str, str | None, str | None], list[_Candidate]] = {}
    for res in resources:
        candidates = _annotation_waivers(res, today, own)
        if candidates:
            ref = res.ref
            by_object[(res.path, ref.document, ref.kind, ref.namespace, ref.name)] = candidates
    shown, lines = _config_location(config, root) if config.waivers else ("", [])
    configured = _config_waivers(config, shown, lines, today, own)
    findings = list(findings)
    for f in findings:  # a wildcard waiver that covers a credential is refused before any waiving
        if f.check != SECRETS or f.waived is not None:
            continue
        at = f.resource
        on_object = by_object.get((f.path, at.document, at.kind, at.namespace, at.name), []) if at else []
        for cand in [*on_object, *(w for w in configured if w.matches(f))]:
            cand.refuse(f)
    out: list[Finding] = []
    for f in findings:
        if f.waived is not None or f.check == CHECK:
            out.append(f)
            continue
        out.append(_waive(f, by_object, configured))
    if configured:
        own.extend(_unused(configured, catalogue, ran, shown))
    own.extend(_wildcard_secrets([c for cands in by_object.values() for c in cands] + list(configured)))
    out.extend(_configure(f, config) for f in own if config.rule_enabled(f.rule, True))
    return out


def _waive(f: Finding, by_object: dict[tuple[str, int, str, str | None, str | None], list[_Candidate]],
           configured: Sequence[_ConfigWaiver]) -> Finding:
    ref = f.resource
    if ref is not None:
        for cand in by_object.get((f.path, ref.document, ref.kind, ref.namespace, ref.name), ()):
            if cand.covers(f.rule):
                return replace(f, waived=cand.waiver)
    for w in configured:
        if w.matches(f):
            w.used = True
            return replace(f, waived=w.waiver)
    return f


def _wildcard_secrets(candidates: Iterable[_Candidate]) -> list[Finding]:
    """An error at each wildcard waiver that would have waived a secrets finding."""
    out = []
    for cand in candidates:
        if cand.refused:
            path, line, column, ref, where = cand.where
            rules = ", ".join(sorted(cand.refused))
            out.append(_finding("waiver-wildcard-secret", f"a waiver of every rule ({cand.waiver.source}) covers "
                                f"a committed credential ({rules}); it waives nothing (name the rules it waives)",
                                path, line, column, ref, where, evidence=rules))
    return out


def _configure(f: Finding, config: Config) -> Finding:
    """Severity overrides for the waiver step's own findings (the pipeline already did the others)."""
    sev = config.rules.get(f.rule, {}).get("severity")
    return replace(f, severity=Severity.parse(sev)) if sev else f

