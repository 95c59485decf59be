"""Patches of a unit that cannot be rendered, checked as partial objects.

An overlay on a remote base is not rendered (the gate never fetches), but a GitOps agent renders
it, and what its patches set reaches the cluster. So each strategic-merge patch of such a unit is
checked as an object of that unit: every check runs on it, and a finding is kept when it points
at a value the patch sets (a scalar, or a list of scalars: ``privileged: true``, an image, a
host port). Findings about what the object lacks (no resources, no probes) or that need the
whole object are dropped: the base the gate cannot see may well set those. A patch that is no
object (JSON 6902 operations, an inline patch) cannot be checked so, and is an error
(``render-patch-unchecked``) at its kustomization entry: it never passes unseen.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.model import Document, Finding, Severity
from gatekeeper.sources import kustomize as kz
from gatekeeper.sources.render.kustomize import Plan, render_finding
from gatekeeper.sources.resources import extract

RULE = "render-patch-unchecked"
WHOLE_OBJECT_RULES = frozenset({"duplicate-object"})  # a second patch of one object is no second object
_PART = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]|\[('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\]")


@dataclass(slots=True)
class Partial:
    """The partial objects of the units that were not rendered, and the findings for patches
    that cannot be checked so."""

    documents: list[Document] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def unrenderable(unit_plan: Plan) -> bool:
    """A unit whose patches must be checked here: not rendered, for a reason that is no error
    (a remote base; an error fails the unit anyway)."""
    return not unit_plan.renderable and all(f.severity is not Severity.ERROR for f in unit_plan.findings)


def collect(unit_plan: Plan, name: str, inputs: frozenset[str],
            docs_of: Callable[[str], list[Document]]) -> Partial:
    """The unit's strategic-merge patches as partial objects of ``name``, and an error at each
    patch that is not one."""
    out = Partial()
    why = next((f.rule for f in unit_plan.findings), "it cannot be rendered")
    for kust in unit_plan.kustomizations:
        unchecked: list[tuple[Any, str]] = [(p.field, "an inline patch") for p in kust.inline]
        for ref in kust.refs:
            if ref.role not in (kz.PATCH, kz.PATCH_JSON6902) or not ref.path:
                continue
            made = [_partial(doc, name, inputs) for doc in docs_of(ref.path)] if ref.role == kz.PATCH else []
            objects = [doc for doc in made if doc is not None]
            if objects and len(objects) == len(made):
                out.documents.extend(objects)
            else:
                unchecked.append((ref.field, repr(ref.raw)))
        for at, what in unchecked:
            out.findings.append(render_finding(
                kust.path, kust.line(at), RULE,
                f"{what} patches unit {unit_plan.root or '.'}, which is not rendered ({why}), and is no object "
                "that can be checked alone: what it sets reaches the cluster unchecked",
                hint="vendor the base into the repository so the unit renders, or write the change as a "
                     "strategic-merge patch file"))
    return out


def _partial(doc: Document, name: str, inputs: frozenset[str]) -> Document | None:
    if not isinstance(doc.obj, dict) or not doc.obj.get("kind"):
        return None
    made = Document(doc.path, doc.index, copy.deepcopy(doc.obj), doc.line, doc.positions, text=doc.text,
                    unit=name, inputs=inputs, partial=True)
    extract(made)
    return made if made.resources else None


def keep(findings: Iterable[Finding], partial: list[Document]) -> list[Finding]:
    """Drop the findings on partial objects that do not point at a value their patch sets (and
    the secrets check's, which reads the patch file itself)."""
    if not partial:
        return list(findings)
    by_place: dict[tuple[str, str], list[Any]] = {}
    for doc in partial:
        by_place.setdefault((doc.path, doc.unit or ""), []).append(doc.obj)
    out = []
    for finding in findings:
        objs = [o for unit in finding.units for o in by_place.get((finding.path, unit), [])]
        if not objs or (finding.check != "secrets" and finding.rule not in WHOLE_OBJECT_RULES
                        and any(_sets_value(obj, finding.field) for obj in objs)):
            out.append(finding)
    return out


def _sets_value(obj: Any, dotted: str) -> bool:
    """Whether the field path (as findings write it) names a scalar, or a list of scalars, in ``obj``."""
    node = obj
    pos = 0
    while pos < len(dotted):
        found = _PART.match(dotted, pos)
        if found is None or found.end() == pos:
            return False
        key, index, quoted = found.groups()
        pos = found.end()
        if index is not None:
            if not isinstance(node, list) or int(index) >= len(node):
                return False
            node = node[int(index)]
        else:
            part = key if key is not None else quoted[1:-1]
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
    if not dotted:
        return False
    return not isinstance(node, (dict, list)) or all(not isinstance(v, (dict, list)) for v in node)
