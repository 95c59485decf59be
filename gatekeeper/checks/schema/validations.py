"""The schema check's CEL side: CRD validation rules collected at prepare, evaluated per resource.

Rules come from CRDs in the tree (and from schema-dir JSON schemas that carry them). A rule that
does not compile fails the run (``CheckLoadError`` naming the file, line and compiler message);
one over the engine's nesting limit is a finding at the rule, in the CRD. Failures become
``schema-cel`` findings at the rule's node (or its ``fieldPath``); a rule that cannot be evaluated
is an error finding, except where the object already has schema errors (the rule then only
repeats them); one that uses a function the gate cannot evaluate offline is an info finding.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gatekeeper import cel
from gatekeeper.checks.base import CheckLoadError
from gatekeeper.checks.schema import crd
from gatekeeper.checks.schema.celrules import Failure, RuleCompileError, RuleTree
from gatekeeper.model import FieldPath, Resource


def has_rules(node: Any) -> bool:
    """True when a schema holds any ``x-kubernetes-validations`` entry."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("x-kubernetes-validations"):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _unavailable(where: str) -> CheckLoadError:
    return CheckLoadError(f"{where} has x-kubernetes-validations rules, and CEL evaluation needs the "
                          "cel-expr-python package (Python 3.11 or later)")


class Validations:
    """Rule trees by (apiVersion, kind), and the over-limit rules of each CRD."""

    def __init__(self) -> None:
        self.trees: dict[tuple[str, str], RuleTree] = {}
        self.over_limit: dict[int, list[tuple[FieldPath, str]]] = {}  # id(CRD resource) -> (path, message)

    def add_crd(self, definition: Resource) -> None:
        """Compile the rules of every served version of a CRD in the tree."""
        for api_version, kind, raw, path in crd.raw_schemas(definition.obj):
            if not has_rules(raw):
                continue
            if not cel.available():
                raise _unavailable(definition.path)
            try:
                tree = RuleTree.build(raw, path)
            except RuleCompileError as exc:
                line = definition.locate(exc.path)[0]
                raise CheckLoadError(
                    f"{definition.path}:{line}: x-kubernetes-validations rule of {kind} ({api_version}) does not "
                    f"compile: {exc.error.message} (expression line {exc.error.line}, column {exc.error.column})"
                ) from None
            if tree is None:
                continue
            self.trees.setdefault((api_version, kind), tree)
            limited = [(r.path, r.limit) for r in tree.rules() if r.limit]
            if limited:
                self.over_limit.setdefault(id(definition), []).extend(limited)

    def add_schema(self, api_version: str, kind: str, schema: dict[str, Any], source: str) -> None:
        """Compile the rules a schema-dir JSON schema carries (paths are within that file)."""
        if (api_version, kind) in self.trees or not has_rules(schema):
            return
        if not cel.available():
            raise _unavailable(source)
        try:
            tree = RuleTree.build(schema, ())
        except RuleCompileError as exc:
            raise CheckLoadError(f"{source}: x-kubernetes-validations rule at {'.'.join(map(str, exc.path))} does "
                                 f"not compile: {exc.error.message}") from None
        if tree is not None:
            self.trees[(api_version, kind)] = tree

    def tree(self, resource: Resource) -> RuleTree | None:
        """The rules that apply to a resource's apiVersion and kind."""
        return self.trees.get((resource.api_version, resource.kind)) if self.trees else None

    def limits_of(self, definition: Resource) -> Iterable[tuple[FieldPath, str]]:
        """(path of the rule in the CRD, why) for the CRD's rules over the engine's limits."""
        return self.over_limit.get(id(definition), ())


def evaluate(tree: RuleTree, resource: Resource, seen: dict[str, Any] | None = None) -> list[Failure]:
    """The failures of a custom resource against its CRD's rules (SOPS metadata is not applied);
    ``seen`` is the object as the rules may see it (detected secret values redacted)."""
    obj = resource.obj if seen is None else seen
    if isinstance(obj.get("sops"), dict) and "mac" in obj["sops"]:
        obj = {k: v for k, v in obj.items() if k != "sops"}
    return tree.evaluate(obj)
