"""Many kustomize units in one renderer process.

Starting ``kubectl kustomize`` costs about 0.15 s, rendering a small overlay a few
milliseconds, so a repository with a thousand overlays would spend minutes starting
processes. Units whose inputs do not overlap are rendered together: a generated kustomization
in the temporary directory lists them as resources and turns origin annotations on, so every
output object names its source file, and the file names the unit (no file belongs to two units
of one batch). Each unit's objects are exactly what rendering it alone gives: the parent adds
nothing but the annotation, which is taken off again.

A batch that fails names the unit that failed in kustomize's message; that unit is rendered on
its own (for its own error finding) and the batch runs again without it. Units that ask for
build metadata themselves, and any batch whose output cannot be split, are rendered alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gatekeeper.sources import kustomize as kz
from gatekeeper.sources.render import limits
from gatekeeper.sources.render.kustomize import Plan, command, keeps_origins
from gatekeeper.sources.tree import Tree

BATCH_DIR = "__gatekeeper_batch__"
MAX_UNITS = 40  # per process: kustomize slows down per unit past a few dozen (twice the CPU at 150)
_ORIGIN = re.compile(r"config\.kubernetes\.io/origin: \|\n\s+(?:path|configuredIn): ([^\n]+)")
_FAILED = re.compile(r"accumulating resources from '\.\./([^']*)'")


@dataclass(slots=True)
class Batch:
    """Units rendered by one process: their plans and the union of their inputs."""

    plans: list[Plan] = field(default_factory=list)
    files: set[str] = field(default_factory=set)


def can_batch(unit_plan: Plan) -> bool:
    """A unit renders in a batch unless its root kustomization sets build metadata itself."""
    root = unit_plan.kustomizations[-1]
    return not keeps_origins(root) and "buildMetadata" not in root.obj and unit_plan.root != ""


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
    """Render a batch: (each unit's output, None) on success; (None, the failed unit or '') on failure."""
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
    return split(outcome.stdout, batch.plans), None
