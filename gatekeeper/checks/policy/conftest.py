"""The conftest dialect: ``deny``/``violation``/``warn`` rules on ``input`` = one document.

Rules ``deny``, ``violation``, ``warn`` and their ``_<name>`` variants are read from the
selected packages (``main`` by default, globs allowed). A rule's value is a set of strings or
of objects with ``msg``; other keys are kept as metadata. ``exception`` rules in the same
package name rules (without the ``deny_`` prefix) that do not count for this document.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.checks.base import CheckLoadError
from gatekeeper.model import Severity
from gatekeeper.rego.engine import Engine, PolicyEvalError, Program
from gatekeeper.rego.guards import kind_guard
from gatekeeper.rego.modules import Module

RULE_NAME = re.compile(r"^(deny|violation|warn)(_[A-Za-z0-9_]+)?$")
EXCEPTION = "exception"


@dataclass(frozen=True, slots=True)
class Result:
    """One message a rule produced for one input."""

    package: str
    rule: str
    severity: Severity
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)
    excepted: bool = False

    @property
    def rule_id(self) -> str:
        return f"policy/{self.package}/{self.rule}"


def select_packages(modules: Sequence[Module], namespaces: Sequence[str], all_namespaces: bool,
                    explicit: bool) -> dict[str, set[str]]:
    """Selected package name -> its deny/violation/warn/exception rule names.

    A namespace glob that matches no package with rules is an error when namespaces were
    given, and so is a policy set with rules only outside the default namespace.
    """
    rules: dict[str, set[str]] = {}
    for module in modules:
        names = {r for r in module.rules if RULE_NAME.match(r) or r == EXCEPTION}
        if names:
            rules.setdefault(module.package_name, set()).update(names)
    with_rules = {p: r for p, r in rules.items() if any(RULE_NAME.match(n) for n in r)}
    if all_namespaces:
        return with_rules
    selected: dict[str, set[str]] = {}
    for pattern in namespaces:
        hits = [p for p in with_rules if fnmatch.fnmatchcase(p, pattern)]
        if not hits and (explicit or with_rules):
            have = ", ".join(sorted(with_rules)) or "none"
            raise CheckLoadError(f"policy namespace {pattern!r} matches no package with deny/violation/warn "
                                 f"rules (packages with rules: {have}); use --namespace or --all-namespaces")
        for p in hits:
            selected[p] = with_rules[p]
    return selected


class ConftestPolicies:
    """The compiled conftest-style policy set and how to read its results."""

    def __init__(self, engine: Engine, modules: Sequence[Module], packages: Mapping[str, set[str]],
                 data: Mapping[str, Any], remote: bool) -> None:
        self.packages = dict(packages)
        self.remote = remote
        self._keys: dict[str, tuple[str, str | None]] = {}
        queries: dict[str, list[str]] = {}
        for i, (package, names) in enumerate(sorted(self.packages.items())):
            path = package.split(".")
            if remote:
                self._keys[f"p{i}"] = (package, None)
                queries[f"p{i}"] = path
                continue
            for j, name in enumerate(sorted(names)):
                self._keys[f"p{i}_{j}"] = (package, name)
                queries[f"p{i}_{j}"] = [*path, name]
        self.program: Program = engine.compile(modules, data, queries)
        # the kinds a document needs for any rule to report (None: every document is evaluated)
        self.kinds = None if remote else kind_guard(
            modules, {tuple(p.split(".")) for p in self.packages},
            {p: {n for n in names if RULE_NAME.match(n)} for p, names in self.packages.items()})

    def needs(self, document: Any) -> bool:
        """False for a document no selected rule can report on (its kind is outside every rule's
        kind guard, see ``rego/guards.py``): it is not evaluated."""
        if self.kinds is None:
            return True
        kind = document.get("kind") if isinstance(document, dict) else None
        return isinstance(kind, str) and kind in self.kinds

    @property
    def rule_count(self) -> int:
        return sum(1 for names in self.packages.values() for n in names if RULE_NAME.match(n))

    def evaluate(self, input_value: Any, file_info: Mapping[str, str] | None,
                 input_json: str | None = None) -> list[Result]:
        """Every message for one input (excepted ones flagged); ``input_json`` is the input
        already serialised, when the caller has it."""
        conftest = {"file": dict(file_info)} if file_info is not None else None
        evaluate_json = getattr(self.program, "evaluate_json", None)
        if input_json is not None and evaluate_json is not None:
            values = evaluate_json(input_json, conftest)
        else:
            values = self.program.evaluate(input_value, conftest)
        per_package: dict[str, dict[str, Any]] = {}
        for key, value in values.items():
            package, rule = self._keys[key]
            if rule is None:
                if not isinstance(value, dict):
                    raise PolicyEvalError(f"package {package} did not evaluate to an object")
                per_package.setdefault(package, {}).update(value)
            else:
                per_package.setdefault(package, {})[rule] = value
        results: list[Result] = []
        for package, rules in sorted(per_package.items()):
            excepted = _exception_names(package, rules.get(EXCEPTION))
            for rule in sorted(rules):
                match = RULE_NAME.match(rule)
                if not match:
                    continue
                severity = Severity.WARNING if match.group(1) == "warn" else Severity.ERROR
                suffix = (match.group(2) or "")[1:]
                skip = (bool(suffix) and suffix in excepted) or rule in excepted
                for message, metadata in _messages(package, rule, rules[rule]):
                    results.append(Result(package, rule, severity, message, metadata, skip))
        return results


def _messages(package: str, rule: str, value: Any) -> list[tuple[str, dict[str, Any]]]:
    items = value if isinstance(value, list) else [value]
    out: list[tuple[str, dict[str, Any]]] = []
    for item in items:
        if isinstance(item, str):
            out.append((item, {}))
        elif isinstance(item, dict) and isinstance(item.get("msg"), str):
            out.append((item["msg"], {k: v for k, v in item.items() if k != "msg"}))
        elif item is True and not isinstance(value, list):
            out.append((f"{rule} is true", {}))
        elif (item is False or item == []) and not isinstance(value, list):
            continue  # a complete rule that is false (``default deny := false``) reports nothing
        else:
            got = "null" if item is None else type(item).__name__
            raise PolicyEvalError(f"data.{package}.{rule}: a result must be a string or an object with a "
                                  f"string 'msg', got {got}")
    return out


def _exception_names(package: str, value: Any) -> set[str]:
    if value is None:
        return set()
    names: set[str] = set()
    for item in value if isinstance(value, list) else [value]:
        for name in item if isinstance(item, list) else [item]:
            if not isinstance(name, str):
                raise PolicyEvalError(f"data.{package}.exception must hold lists of rule names")
            names.add(name)
    return names
