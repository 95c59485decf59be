"""Waivers a change writes into objects: every ``gatekeeper.io/ignore`` annotation that is new or
wider than at the base is reported (``config-weakened``), as waivers added to the configuration are;
so are entries a change adds to the secrets baseline, which accepts findings the same way.

An annotation waiver is written next to the object it waives, so a change can add a privileged
Pod together with the annotation that waives it. The comparison is on the text of the changed
files, wherever the annotation is written (an object, a pod template, a kustomization's
``commonAnnotations``, a patch, Helm values or templates): each annotation of a changed file at
the head must be matched by one at the base, in any changed file (a moved object keeps its
waiver), that waives the same rules or more. The rest are new or widened.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from gatekeeper.model import FieldPath, format_field
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.git import Change
from gatekeeper.sources.tree import Tree
from gatekeeper.sources.yamlload import parse
from gatekeeper.waivers import ALL_RULES, EXPIRES, IGNORE, OWNER

# the annotation key (not -reason/-expires/-owner), quoted or not, and what follows its colon
_KEY = re.compile(r"""gatekeeper\.io/ignore(?![\w-])["']?(\s*:\s*(?P<value>[^#\n]*))?""")
MAX_BYTES = 2 * 1024 * 1024  # larger changed files are not read for annotations (the walker refuses them)


@dataclass(frozen=True, slots=True)
class Annotation:
    """One written ``gatekeeper.io/ignore``: where, the rules it names, and its field if known."""

    path: str
    line: int
    column: int
    rules: frozenset[str]
    field: str = ""
    lifetime: str = ""  # what the waiver lacks ("no expiry, no owner"), when the object is readable

    def covered_by(self, other: Annotation) -> bool:
        return bool(other.rules & ALL_RULES) or (not self.rules & ALL_RULES and self.rules <= other.rules)


def written(path: str, data: bytes) -> list[Annotation]:
    """Every ignore annotation written in a file's text (an unreadable value waives every rule)."""
    if len(data) > MAX_BYTES or b"gatekeeper.io/ignore" not in data or not _deployable(path):
        return []
    text = data.decode("utf-8", "replace")
    fields = _fields(path, data)
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in _KEY.finditer(line):
            value = (match.group("value") or "").strip().rstrip(",").strip().strip("'\"").strip()
            rules = frozenset(r.strip() for r in value.split(",") if r.strip()) if value and "{{" not in value \
                else frozenset({"*"})
            field, lifetime = fields.get(number, ("", ""))
            out.append(Annotation(path, number, match.start() + 1, rules, field, lifetime))
    return out


def _deployable(path: str) -> bool:
    """Files whose text can reach an object: manifests, kustomize inputs, Helm values and templates
    (not documentation that shows an annotation)."""
    low = path.lower()
    return low.endswith((".yaml", ".yml", ".json", ".tpl")) or "/templates/" in f"/{low}"


def _fields(path: str, data: bytes) -> dict[int, tuple[str, str]]:
    """line -> (field path, what the waiver lacks) for the annotations a YAML/JSON file holds."""
    if not path.endswith((".yaml", ".yml", ".json")):
        return {}
    out: dict[int, tuple[str, str]] = {}
    for doc in parse(SourceFile(path, data)).documents:
        for where, mapping in _mappings(doc.obj, ()):
            if IGNORE in mapping:
                lacks = [w for key, w in ((EXPIRES, "no expiry"), (OWNER, "no owner")) if not mapping.get(key)]
                out[doc.locate((*where, IGNORE))[0]] = (format_field((*where, IGNORE)), ", ".join(lacks))
    return out


def _mappings(value: Any, where: FieldPath, depth: int = 0) -> Iterator[tuple[FieldPath, dict[str, Any]]]:
    if depth > 64:
        return
    if isinstance(value, dict):
        yield where, value
        for key, sub in value.items():
            if isinstance(key, str | int):
                yield from _mappings(sub, (*where, key), depth + 1)
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _mappings(sub, (*where, i), depth + 1)


def added(changed: Iterable[Change], base_tree: Tree, head_tree: Tree) -> list[Annotation]:
    """The annotations of the changed files that no base annotation of a changed file covers."""
    changed = list(changed)
    pool: list[Annotation] = []
    for change in changed:
        if change.status not in ("A", "C"):
            data = base_tree.read(change.old_path or change.path)
            pool.extend(written(change.old_path or change.path, data or b""))
    out = []
    for change in changed:
        if change.deleted:
            continue
        for annotation in written(change.path, head_tree.read(change.path) or b""):
            match = next((i for i, old in enumerate(pool) if annotation.covered_by(old)), None)
            if match is None:
                out.append(annotation)
            else:
                del pool[match]
    return out


def describe(annotation: Annotation) -> str:
    """What an added annotation does, for the finding's message."""
    rules = ", ".join(sorted(annotation.rules))
    wild = " (every rule)" if annotation.rules & ALL_RULES else ""
    lacks = f" with {annotation.lifetime}" if annotation.lifetime else ""
    return f"adds the waiver annotation {IGNORE}: {rules}{wild}{lacks}"


def baseline_added(changed: Iterable[Change], base_tree: Tree, head_tree: Tree, names: set[str]
                   ) -> list[tuple[str, int, str]]:
    """(path, line, what) for each secrets baseline file among ``changed`` that accepts findings the
    base's version did not: a baseline is a list of waivers, so new entries are waivers too."""
    out = []
    for change in changed:
        if change.deleted or change.path not in names:
            continue
        head = head_tree.read(change.path) or b""
        added = sorted(_fingerprints(head) - _fingerprints(base_tree.read(change.old_path or change.path) or b""))
        if not added:
            continue
        text = head.decode("utf-8", "replace")
        line = next((n for n, row in enumerate(text.splitlines(), 1) if any(fp in row for fp in added)), 1)
        out.append((change.path, line, f"adds {len(added)} accepted finding(s) to the baseline {change.path}"))
    return out


def _fingerprints(data: bytes) -> set[str]:
    try:
        value = json.loads(data) if data.strip() else {}
    except ValueError:
        return set()  # an unreadable baseline fails the run on its own
    items = value.get("findings") if isinstance(value, dict) else None
    return {i["fingerprint"] for i in items if isinstance(i, dict) and isinstance(i.get("fingerprint"), str)} \
        if isinstance(items, list) else set()
