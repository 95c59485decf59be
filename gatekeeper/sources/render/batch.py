"""Many kustomize units in one renderer process, each unit's objects exactly what it renders alone.

Starting ``kubectl kustomize`` costs about 0.15 s, rendering a small overlay a few
milliseconds, so a repository with a thousand overlays would spend minutes starting
processes. Units whose inputs do not overlap are rendered together: a generated kustomization
in the temporary directory lists them as resources and turns origin annotations on, so every
output object names its source file, and the file names the unit (no file belongs to two units
of one batch). The parent adds nothing but the annotation, which is taken off again.

Why a batched unit renders as it does alone. kustomize builds each listed kustomization fully;
what runs once over all units together at the top is name suffixing (per object, from its own
content), variable substitution, and fixing name references (a reference to an object that was
renamed by a prefix, suffix or content hash is rewritten to the new name). So:

- units that declare ``vars`` (substituted across all units), ``configurations`` or ``crds``
  (name-reference rules applied to all units), ``openapi`` (a schema for the whole process),
  ``sortOptions`` or ``buildMetadata`` (top-level only) anywhere in their kustomizations are
  rendered alone;
- a reference rewritten to another unit's object carries that object's name, so after the run
  every unit whose output holds, as a whole value, the name of an object of another unit of the
  batch is rendered again alone (names that are not plain tokens make the whole batch render
  alone); two units that define the same object fail the batch (kustomize refuses the id twice).

A batch that fails names the unit that failed in kustomize's message; that unit is rendered on
its own (for its own error finding) and the batch runs again without it. Any batch whose
output cannot be split is rendered unit by unit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gatekeeper.sources import kustomize as kz
from gatekeeper.sources.render import limits
from gatekeeper.sources.render.kustomize import Plan, command
from gatekeeper.sources.tree import Tree

BATCH_DIR = "__gatekeeper_batch__"
MAX_UNITS = 40  # per process: kustomize slows down per unit past a few dozen (twice the CPU at 150)
_ORIGIN = re.compile(r"config\.kubernetes\.io/origin: \|\n\s+(?:path|configuredIn): ([^\n]+)")
_FAILED = re.compile(r"accumulating resources from '\.\./([^']*)'")
_NAME = re.compile(r"(?m)^metadata:\n(?:(?:  .*|)\n)*?  name: (.*)$")
_TOKEN = re.compile(r"[^\s'\"{}\[\],]+")
_PLAIN = re.compile(r"[A-Za-z0-9._:@/+=-]+")
GLOBAL_FIELDS = ("vars", "configurations", "crds", "openapi", "sortOptions", "buildMetadata")


@dataclass(slots=True)
class Batch:
    """Units rendered by one process: their plans and the union of their inputs."""

    plans: list[Plan] = field(default_factory=list)
    files: set[str] = field(default_factory=set)
    alone: set[str] = field(default_factory=set)  # after a run: the units to render alone next time


def can_batch(unit_plan: Plan) -> bool:
    """A unit renders in a batch unless one of its kustomizations sets a field whose effect reaches
    beyond the unit in a batch (see the module docstring), or it is the repository's root, or a GitOps
    agent's overrides rewrite its root kustomization."""
    return unit_plan.root != "" and unit_plan.overlay is None and not any(
        name in kust.obj for kust in unit_plan.kustomizations for name in GLOBAL_FIELDS)


def group(plans: Sequence[Plan], max_units: int = MAX_UNITS) -> list[Batch]:
    """Batches of units with disjoint inputs (first fit, in the given order)."""
    batches: list[Batch] = []
    for unit_plan in plans:
        for batch in batches:
            if len(batch.plans) < max_units and batch.files.isdisjoint(unit_plan.files):
                break
        else:
            batch = Batch()
            batches.append(batch)
        batch.plans.append(unit_plan)
        batch.files |= unit_plan.files
    return batches


def split(text: bytes, plans: Sequence[Plan]) -> dict[str, bytes] | None:
    """Each unit's part of a batch's output (by the source file its origin names), or None when an
    object cannot be placed."""
    owner: dict[str, str] = {}
    for unit_plan in plans:
        for path in unit_plan.files:
            owner[path] = unit_plan.root
    parts: dict[str, list[str]] = {p.root: [] for p in plans}
    decoded = text.decode("utf-8", "replace")
    for chunk in re.split(r"(?m)^---\n", decoded):
        if not chunk.strip():
            continue
        found = _ORIGIN.search(chunk)
        if found is None:
            return None
        path, outside = kz.resolve(BATCH_DIR, found.group(1).strip())
        unit = owner.get(path)
        if outside or unit is None:
            return None
        parts[unit].append(chunk)
    return {unit: "---\n".join(chunks).encode("utf-8") for unit, chunks in parts.items()}


def crossed(parts: dict[str, bytes]) -> set[str]:
    """The units of a batch whose output holds, as a whole value, the name of an object of another
    unit (each must be rendered alone: a name reference may have resolved across units); every
    unit when an object's name cannot be read as a plain token."""
    names: dict[str, set[str]] = {}
    for unit, text in parts.items():
        found = _names(text)
        if found is None:
            return set(parts)
        names[unit] = found
    out: set[str] = set()
    for unit, text in parts.items():
        others = set().union(*(n for u, n in names.items() if u != unit))
        if others and not others.isdisjoint(_TOKEN.findall(text.decode("utf-8", "replace"))):
            out.add(unit)
    return out


def unreadable(parts: dict[str, bytes]) -> set[str]:
    """The units of a batch whose object names cannot be read as plain tokens (they make every
    unit of their batch render alone)."""
    return {unit for unit, text in parts.items() if _names(text) is None}


def _names(text: bytes) -> set[str] | None:
    """The names of the objects in a unit's output, or None when one cannot be read as a plain token."""
    decoded = text.decode("utf-8", "replace")
    found = {_unquote(m.group(1)) for m in _NAME.finditer(decoded)}
    chunks = sum(1 for c in re.split(r"(?m)^---\n", decoded) if c.strip())
    if sum(1 for _ in _NAME.finditer(decoded)) != chunks or any(_PLAIN.fullmatch(n) is None for n in found):
        return None
    return found


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def failed_unit(message: str, plans: Sequence[Plan]) -> str | None:
    """The unit a failed batch names (``accumulating resources from '../UNIT'``)."""
    roots = {p.root for p in plans}
    for found in _FAILED.finditer(message):
        candidate = found.group(1).rstrip("/")
        if candidate in roots:
            return candidate
    return None


def run_batch(batch: Batch, tree: Tree, exe: str, workdir: Path, timeout: float, max_output: int,
              write: Callable[[Plan, Tree, Path], list[str]]) -> tuple[dict[str, bytes] | None, str | None]:
    """Render a batch: (each unit's output, None) on success, where a unit left out must be rendered
    alone (see ``crossed``); (None, the failed unit or '') on failure."""
    repo = workdir / "repo"
    repo.mkdir(parents=True)
    for unit_plan in batch.plans:
        if write(unit_plan, tree, repo):
            return None, unit_plan.root
    top = repo / BATCH_DIR
    top.mkdir()
    listed = "".join(f"  - ../{p.root}\n" for p in batch.plans)
    (top / "kustomization.yaml").write_text(f"buildMetadata: [originAnnotations]\nresources:\n{listed}")
    outcome = limits.run(command(exe, top), repo, limits.sandbox_env(workdir / "home"), timeout=timeout,
                         max_output=max_output)
    if outcome.limit is not None:
        return None, ""
    if outcome.returncode != 0:
        return None, failed_unit(outcome.stderr, batch.plans) or ""
    parts = split(outcome.stdout, batch.plans)
    if parts is None:
        return None, ""
    alone = crossed(parts)
    batch.alone = (unreadable(parts) or alone) if alone else set()  # the cause, not the whole batch
    return {unit: text for unit, text in parts.items() if unit not in alone}, None
