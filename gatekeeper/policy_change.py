"""A change to the policies the gate evaluates weakens the gate for that change: it is judged by the
policies it edits.

The gate evaluates the policies of the state under review (so a change that adds a policy is
checked by it at once); the price is that a change can also rewrite or delete the policy that
would have caught it. So in a git mode every policy file the change modifies, deletes or renames
is reported (``config-weakened``, at the first line it changes), and an added Rego file too when
it extends a package that exists at the base (Rego rules and functions with several definitions
are or-ed together: a new file can widen an existing helper) or defines ``exception`` rules.
Added Kyverno, Gatekeeper and admission policies, which can only add checks, are not reported.

Policy files: everything under the policy and admission directories of the base and the head
configuration (``policy/`` and ``policies/`` by default), the policy data files, the Kyverno
values file, and any file whose base version holds a Kyverno policy, a Gatekeeper
ConstraintTemplate or constraint, or a ValidatingAdmissionPolicy or its binding.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gatekeeper.config import Config
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.git import Change
from gatekeeper.sources.tree import Tree
from gatekeeper.sources.yamlload import parse

DEFAULT_DIRS = ("policy", "policies")
POLICY_SUFFIXES = (".rego", ".yaml", ".yml", ".json")  # what the policy loaders read from a policy directory
_PACKAGE = re.compile(rb"^\s*package\s+([\w.]+)", re.MULTILINE)
_EXCEPTION = re.compile(r"^\s*exception\b")
# apiVersion groups and kinds of policy objects the gate evaluates
_POLICY_KINDS = {
    "kyverno.io": {"ClusterPolicy", "Policy"},
    "policies.kyverno.io": {"ValidatingPolicy", "NamespacedValidatingPolicy", "ImageValidatingPolicy"},
    "templates.gatekeeper.sh": {"ConstraintTemplate"},
    "admissionregistration.k8s.io": {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"},
}
_CONSTRAINT_GROUP = "constraints.gatekeeper.sh"


@dataclass(frozen=True, slots=True)
class PolicyChange:
    """One policy file the change weakens the gate through: where to point and what it does."""

    path: str
    line: int
    what: str


def locations(base: Config, head: Config) -> tuple[set[str], set[str]]:
    """(policy directories, single policy input files) named by either configuration."""
    dirs: set[str | None] = set(DEFAULT_DIRS)
    files: set[str | None] = set()
    for config in (base, head):
        raw = config.raw.get("checks")
        checks: dict[str, Any] = raw if isinstance(raw, dict) else {}
        for check, key, into in (("policy", "paths", dirs), ("admission", "paths", dirs), ("policy", "data", files)):
            section = checks.get(check)
            values = section.get(key) if isinstance(section, dict) else None
            into.update(_norm(v) for v in (values if isinstance(values, list) else []) if isinstance(v, str))
        kyverno = checks.get("kyverno")
        if isinstance(kyverno, dict) and isinstance(kyverno.get("values"), str):
            files.add(_norm(kyverno["values"]))
    return {d for d in dirs if d is not None}, {f for f in files if f is not None}


def _norm(path: str) -> str | None:
    norm = posixpath.normpath(path.strip().lstrip("/"))
    return None if norm.startswith("..") else ("" if norm == "." else norm)


def changes(changed: Iterable[Change], base: Config, head: Config, base_tree: Tree, head_tree: Tree
            ) -> list[PolicyChange]:
    """The policy files among ``changed`` whose change can weaken the gate."""
    dirs, files = locations(base, head)
    out: list[PolicyChange] = []
    base_packages: set[bytes] | None = None
    for change in changed:
        old_path = change.old_path or change.path
        before = None if change.status in ("A", "C") else base_tree.read(old_path)
        after = None if change.deleted else head_tree.read(change.path)
        in_place = any((_inside(p, dirs) and p.endswith(POLICY_SUFFIXES)) or p in files
                       for p in {old_path, change.path})
        if before is None:
            if after is None or not change.path.endswith(".rego") or not in_place:
                continue
            if base_packages is None:
                base_packages = _packages(base_tree, dirs)
            found = _added_rego(change.path, after, base_packages)
            if found is not None:
                out.append(found)
            continue
        if not in_place and not _holds_policies(old_path, before):
            continue
        # a policy object found by its content is read wherever it lies; a file of a policy directory
        # is read only there
        still = not in_place or (_inside(change.path, dirs) and change.path.endswith(POLICY_SUFFIXES)) \
            or change.path in files
        found = _modified(change, before, after, still)
        if found is not None:
            out.append(found)
    return out


def _inside(path: str, dirs: Iterable[str]) -> bool:
    return any(d == "" or path == d or path.startswith(d + "/") for d in dirs)


def _modified(change: Change, before: bytes, after: bytes | None, still_in_place: bool) -> PolicyChange | None:
    """What a change to an existing policy file does (None: a move within the policy locations)."""
    old_path = change.old_path or change.path
    if after is None:
        return PolicyChange(change.path, 1, f"deletes the policy file {old_path}")
    if before == after:
        return None if still_in_place or old_path == change.path else \
            PolicyChange(change.path, 1, f"moves the policy file {old_path} out of the policy directories")
    old_lines = before.decode("utf-8", "replace").splitlines()
    new_lines = after.decode("utf-8", "replace").splitlines()
    line = _first_change(old_lines, new_lines)
    exceptions = _new_exceptions(old_lines, new_lines) if change.path.endswith(".rego") else []
    if exceptions:
        return PolicyChange(change.path, exceptions[0], f"adds an exception rule to the policy file {change.path}")
    moved = f" (moved from {old_path})" if old_path != change.path else ""
    return PolicyChange(change.path, line, f"edits the policy file {change.path}{moved}")


def _first_change(old: list[str], new: list[str]) -> int:
    """The first head line a change replaces or inserts (the line after a deletion)."""
    for tag, _i1, _i2, j1, _j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag != "equal":
            return min(j1 + 1, max(len(new), 1))
    return 1


def _new_exceptions(old: list[str], new: list[str]) -> list[int]:
    before = {line.strip() for line in old if _EXCEPTION.match(line)}
    return [i + 1 for i, line in enumerate(new) if _EXCEPTION.match(line) and line.strip() not in before]


def _added_rego(path: str, data: bytes, base_packages: set[bytes]) -> PolicyChange | None:
    lines = data.decode("utf-8", "replace").splitlines()
    exceptions = _new_exceptions([], lines)
    if exceptions:
        return PolicyChange(path, exceptions[0], f"adds a policy file with an exception rule ({path})")
    match = _PACKAGE.search(data)
    if match is not None and match.group(1) in base_packages:
        line = data[:match.start(1)].count(b"\n") + 1
        return PolicyChange(path, line, f"adds {path} to the existing policy package "
                                        f"{match.group(1).decode()} (its rules can widen the package's)")
    return None


def _packages(base_tree: Tree, dirs: set[str]) -> set[bytes]:
    """The Rego packages of the policy directories at the base."""
    out: set[bytes] = set()
    for directory in sorted(dirs):
        for path in base_tree.files_under(directory) if base_tree.kind(directory) == "dir" else []:
            data = base_tree.read(path) if path.endswith(".rego") else None
            out.update(m.group(1) for m in _PACKAGE.finditer(data or b""))
    return out


def _holds_policies(path: str, data: bytes) -> bool:
    """Whether a file's base version holds a policy object the gate evaluates."""
    if not path.endswith((".yaml", ".yml", ".json")) or b"kind" not in data:
        return False
    return any(_policy_object(doc.obj) for doc in parse(SourceFile(path, data)).documents)


def _policy_object(obj: Any) -> bool:
    if not isinstance(obj, dict) or not isinstance(obj.get("apiVersion"), str):
        return False
    group = obj["apiVersion"].rpartition("/")[0]
    return group == _CONSTRAINT_GROUP or obj.get("kind") in _POLICY_KINDS.get(group, set())
