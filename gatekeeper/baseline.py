"""Baselines: accept today's findings so a team can adopt the gate without fixing history first.

A baseline file (``.gatekeeper-baseline.json``) lists findings by fingerprint (rule, object,
field and, for secrets, a keyed digest of the value: never the value). The pipeline step marks
findings found in it ``baseline=True`` (they are reported but do not fail the run) and reports
entries that no longer match anything (stale), so the file shrinks as problems are fixed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gatekeeper import __version__
from gatekeeper.model import CheckError, Finding, Report

BASELINE_NAME = ".gatekeeper-baseline.json"
FORMAT_VERSION = 1
_FIELDS = ("fingerprint", "check", "rule", "path", "resource", "field")


class BaselineError(Exception):
    """The baseline file cannot be used (unreadable, not JSON, wrong version); the run exits 2."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One accepted finding."""

    fingerprint: str
    check: str
    rule: str
    path: str
    resource: str | None
    field: str


def entry_of(finding: Finding) -> Entry:
    return Entry(finding.fingerprint, finding.check, finding.rule, finding.path,
                 finding.resource.key if finding.resource is not None else None, finding.field)


def render(findings: Iterable[Finding]) -> str:
    """The baseline file for these findings (sorted, one entry per fingerprint)."""
    entries = {f.fingerprint: entry_of(f) for f in findings if f.fingerprint}
    items = sorted(entries.values(), key=lambda e: (e.path, e.rule, e.field, e.fingerprint))
    doc = {"version": FORMAT_VERSION, "generated_by": f"gitops-gatekeeper {__version__}",
           "findings": [{k: getattr(e, k) for k in _FIELDS} for e in items]}
    return json.dumps(doc, indent=2) + "\n"


def load(path: Path) -> dict[str, Entry]:
    """Read a baseline file: fingerprint -> entry."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc.strerror}") from None
    except ValueError:
        raise BaselineError(f"baseline {path} is not valid JSON") from None
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION or \
            not isinstance(data.get("findings"), list):
        raise BaselineError(f"baseline {path}: expected version {FORMAT_VERSION} with a findings list")
    entries: dict[str, Entry] = {}
    for i, item in enumerate(data["findings"]):
        if not isinstance(item, dict) or not isinstance(item.get("fingerprint"), str):
            raise BaselineError(f"baseline {path}: findings[{i}] has no fingerprint")
        entries[item["fingerprint"]] = Entry(
            item["fingerprint"], str(item.get("check", "")), str(item.get("rule", "")),
            str(item.get("path", "")),
            item.get("resource") if isinstance(item.get("resource"), str) else None,
            str(item.get("field", "")))
    return entries


def locate(root: Path, config: Any) -> Path | None:
    """The baseline in use: ``checks.secrets.baseline`` (must exist), else ``.gatekeeper-baseline.json``
    in the root when present."""
    configured = config.checks.get("secrets", {}).get("baseline") if config is not None else None
    if configured:
        base = config.base_dir or root
        path = Path(configured)
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise BaselineError(f"baseline {path} (checks.secrets.baseline) does not exist")
        return path
    default = root / BASELINE_NAME
    return default if default.is_file() else None


def _empty(path: Path) -> bool:
    """A file with nothing but whitespace (what ``... > .gatekeeper-baseline.json`` leaves when the
    command fails: the shell creates the file first)."""
    try:
        with path.open("rb") as fh:
            return not fh.read(65536).strip() and not fh.read(1)
    except OSError:
        return False  # load() reports the unreadable file


def apply(findings: list[Finding], report: Report, root: Path, config: Any,
          in_scope: Iterable[str] | None) -> list[Finding]:
    """Mark baselined findings and note stale entries; a broken baseline is a run error (exit 2).

    ``in_scope`` lists the files this run read (None: the whole tree), so entries for files a
    partial run never looked at are not called stale.
    """
    try:
        path = locate(root, config)
        if path is None:
            return findings
        if _empty(path):
            report.notes.append(f"baseline: {path.name} is empty and was treated as absent (write it with "
                                "'gatekeeper secrets baseline -o FILE')")
            return findings
        entries = load(path)
    except BaselineError as exc:
        report.errors.append(CheckError("baseline", str(exc)))
        return findings
    matched: set[str] = set()
    out: list[Finding] = []
    for f in findings:
        if f.fingerprint in entries and f.waived is None:
            matched.add(f.fingerprint)
            out.append(replace(f, baseline=True))
        else:
            out.append(f)
    scope = set(in_scope) if in_scope is not None else None
    ran = set(report.checks)
    stale = [e for fp, e in entries.items() if fp not in matched and e.check in ran
             and (scope is None or e.path in scope)]
    for e in sorted(stale, key=lambda e: (e.path, e.rule, e.field)):
        where = f" {e.resource}" if e.resource else ""
        report.notes.append(f"baseline: stale entry {e.rule} in {e.path}{where} {e.field} "
                            f"(fingerprint {e.fingerprint[:12]}): no longer found; "
                            f"remove it from {path.name}")
    return out


def scope_of(run: Any, documents: Iterable[Any]) -> set[str] | None:
    """Files a run read, or None when it walked the whole root (every entry is in scope)."""
    checked = getattr(run, "hook_paths", None)
    checked = getattr(run, "report_paths", None) if checked is None else checked
    if checked is not None:  # git modes: only these files are checked per resource
        return set(checked)
    paths = [Path(p).absolute() for p in (run.paths or [])]
    if run.files is None and (not paths or Path(run.root).absolute() in paths):
        return None
    return {d.path for d in documents}
