"""Gatekeeper ``Suite`` files (test.gatekeeper.sh/v1alpha1), run with gator verify's semantics.

Each test names a template and a constraint file (relative to the suite); each case an
object, optional inventory files and assertions: ``violations`` yes / no / a count (default
yes; YAML's ``yes``/``no``/``true``/``false`` read as gator reads them) of the violations whose
message matches ``message`` (a regex, default any). Every referenced file must be a regular file
inside the suite's directory tree. Cases are planned (files read, templates compiled) in this
process and evaluated behind the evaluation boundary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gatekeeper.checks.base import CheckLoadError
from gatekeeper.checks.policy import gkdialect
from gatekeeper.checks.policy.files import display
from gatekeeper.checks.policy.inventory import build as build_inventory
from gatekeeper.checks.policy.inventory import cluster_scoped_kinds
from gatekeeper.checks.policy.templates import (
    Constraint,
    Template,
    is_constraint,
    is_template,
    load_constraint,
    load_template,
)
from gatekeeper.model import Document, Severity
from gatekeeper.rego import boundary
from gatekeeper.rego.engine import PolicyEvalError, RegorusEngine
from gatekeeper.rego.unittest import CaseResult
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.yamlload import parse

SUITE_API = "test.gatekeeper.sh/v1alpha1"
MAX_REFERENCED_BYTES = 16 * 2**20


def is_suite(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") == "Suite" and obj.get("apiVersion") == SUITE_API


def _documents(path: Path) -> list[Document]:
    try:
        if not path.is_file() or path.stat().st_size > MAX_REFERENCED_BYTES:
            raise CheckLoadError(f"{display(path)} is not a regular file of at most "
                                 f"{MAX_REFERENCED_BYTES // 2**20} MiB")
        data = path.read_bytes()
    except OSError as exc:
        raise CheckLoadError(f"cannot read {display(path)}: {exc.strerror}") from None
    parsed = parse(SourceFile(display(path), data))
    if parsed.findings:
        first = parsed.findings[0]
        raise CheckLoadError(f"{first.path}:{first.line}: {first.message}")
    return [d for d in parsed.documents if d.obj is not None]


def _objects(path: Path) -> list[dict[str, Any]]:
    out = []
    for doc in _documents(path):
        if not isinstance(doc.obj, dict):
            raise CheckLoadError(f"{doc.path}:{doc.line}: expected a Kubernetes object")
        out.append(doc.obj)
    return out


def reference(doc: Document, suite_dir: Path, value: Any, what: str) -> Path:
    """The file a Suite field names: relative, inside the suite's directory tree, a regular file."""
    if not isinstance(value, str) or not value:
        raise CheckLoadError(f"{doc.path}:{doc.line}: {what} must name a file")
    base = suite_dir.resolve()
    target = (suite_dir / value).resolve()
    if target != base and base not in target.parents:
        raise CheckLoadError(f"{doc.path}:{doc.line}: {what} {value!r} points outside the suite's directory "
                             f"({display(suite_dir)})")
    if not target.is_file():
        raise CheckLoadError(f"{doc.path}:{doc.line}: {what} {value!r} is not a regular file")
    if target.stat().st_size > MAX_REFERENCED_BYTES:
        raise CheckLoadError(f"{doc.path}:{doc.line}: {what} {value!r} is larger than "
                             f"{MAX_REFERENCED_BYTES // 2**20} MiB")
    return target


@dataclass(slots=True)
class _Case:
    """One planned case: where it is, what to evaluate, and what to assert."""

    suite: str
    test: str
    case: str
    skipped: bool = False
    failure: str = ""  # decided without evaluation
    policies: gkdialect.GatekeeperPolicies | None = None
    subject: gkdialect.Subject | None = None
    namespaces: dict[str, Any] = field(default_factory=dict)
    assertions: list[tuple[re.Pattern[str] | None, str, int]] = field(default_factory=list)


def plan_suite(doc: Document, suite_dir: Path, engine: RegorusEngine, rego_version: str,
               pattern: re.Pattern[str] | None, limits: boundary.Limits | None = None) -> list[_Case]:
    """Read one Suite document and plan its cases; CheckLoadError when a file cannot load."""
    cases_out: list[_Case] = []
    tests = doc.obj.get("tests") or []
    if not isinstance(tests, list) or not all(isinstance(t, dict) for t in tests):
        raise CheckLoadError(f"{doc.path}:{doc.line}: Suite tests must be a list of mappings")
    for t_index, test in enumerate(tests):
        tname = str(test.get("name") or f"test-{t_index}")
        if not isinstance(test.get("cases") or [], list):
            raise CheckLoadError(f"{doc.path}:{doc.line}: Suite test {tname}: cases must be a list")
        cases = [c for c in test.get("cases") or [] if isinstance(c, dict)]
        selected = [c for c in cases if pattern is None or pattern.search(tname)
                    or pattern.search(str(c.get("name", ""))) or pattern.search(f"{tname}/{c.get('name', '')}")]
        if not selected:
            continue
        if test.get("skip"):
            cases_out.extend(_Case(doc.path, tname, str(c.get("name", "")), skipped=True) for c in selected)
            continue
        template_path = reference(doc, suite_dir, test.get("template"), f"test {tname}: template")
        constraint_path = reference(doc, suite_dir, test.get("constraint"), f"test {tname}: constraint")
        templates = [d for d in _documents(template_path) if is_template(d.obj)]
        if len(templates) != 1:
            raise CheckLoadError(f"{doc.path}: test {tname}: {test['template']} must hold one ConstraintTemplate")
        template = load_template(templates[0], rego_version, limits)
        constraints = [d for d in _documents(constraint_path) if is_constraint(d.obj, {template.kind})]
        if len(constraints) != 1:
            raise CheckLoadError(f"{doc.path}: test {tname}: {test['constraint']} must hold one {template.kind}")
        constraint = load_constraint(constraints[0], template)
        for case in selected:
            cases_out.append(_plan_case(doc, tname, case, suite_dir, template, constraint, engine))
    return cases_out


def _plan_case(doc: Document, tname: str, case: dict[str, Any], suite_dir: Path, template: Template,
               constraint: Constraint, engine: RegorusEngine) -> _Case:
    cname = str(case.get("name", ""))
    planned = _Case(doc.path, tname, cname)
    if case.get("skip"):
        planned.skipped = True
        return planned
    objects = _objects(reference(doc, suite_dir, case.get("object"), f"case {tname}/{cname}: object"))
    if len(objects) != 1:
        raise CheckLoadError(f"{doc.path}: case {tname}/{cname}: {case['object']} must hold exactly one object")
    inventory_refs = case.get("inventory") or []
    if not isinstance(inventory_refs, list):
        raise CheckLoadError(f"{doc.path}:{doc.line}: case {tname}/{cname}: inventory must be a list of files")
    inventory_objs = [o for ref in inventory_refs
                      for o in _objects(reference(doc, suite_dir, ref, f"case {tname}/{cname}: inventory"))]
    planned.assertions = _assertions(doc, tname, cname, case.get("assertions"))
    if template.cel_only:
        planned.failure = "template has only CEL code, which is not supported"
        return planned
    kinds = cluster_scoped_kinds([*inventory_objs, objects[0]])
    if constraint.severity is None:
        constraint = replace(constraint, severity=Severity.ERROR)  # gator reviews whatever the action
    policies = gkdialect.GatekeeperPolicies(templates={template.kind: template}, constraints=[constraint])
    gkdialect.compile_templates(policies, engine, build_inventory(inventory_objs, kinds))
    planned.policies = policies
    planned.subject = gkdialect.subject(objects[0], kinds)
    planned.namespaces = {str(_name(o)): o for o in inventory_objs if o.get("kind") == "Namespace"}
    return planned


def _name(obj: dict[str, Any]) -> Any:
    meta = obj.get("metadata")
    return meta.get("name") if isinstance(meta, dict) else None


def _assertions(doc: Document, tname: str, cname: str, value: Any) -> list[tuple[re.Pattern[str] | None, str, int]]:
    """(message regex, "yes" | "no" | "count", count) per assertion, read as gator reads them."""
    where = f"{doc.path}: case {tname}/{cname}"
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(a, dict) for a in value):
        raise CheckLoadError(f"{where}: assertions must be a list of mappings")
    out: list[tuple[re.Pattern[str] | None, str, int]] = []
    for i, assertion in enumerate(value):
        regex = None
        if "message" in assertion:
            try:
                regex = re.compile(str(assertion["message"]))
            except re.error as exc:
                raise CheckLoadError(f"{where} assertion {i}: bad message regex: {exc}") from None
        expected = assertion.get("violations", "yes")
        if expected is True or expected == "yes":
            out.append((regex, "yes", 1))
        elif expected is False or expected == "no":
            out.append((regex, "no", 0))
        elif isinstance(expected, int) and not isinstance(expected, bool) and expected >= 0:
            out.append((regex, "count", expected))
        elif isinstance(expected, str) and expected.isdigit():
            out.append((regex, "count", int(expected)))
        else:
            raise CheckLoadError(f"{where} assertion {i}: violations must be yes, no or a count, "
                                 f"not {expected!r}")
    return out


def _evaluate(case: _Case, mark: boundary.Mark) -> CaseResult:
    """Evaluate one planned case (in a worker) and check its assertions."""
    if case.skipped:
        return CaseResult(case.suite, case.test, case.case, True, "skipped", True)
    if case.failure:
        return CaseResult(case.suite, case.test, case.case, False, case.failure)
    assert case.policies is not None and case.subject is not None
    try:
        chosen = case.policies.chosen(case.subject, case.namespaces)
        results = case.policies.evaluate(case.subject, chosen, mark)
    except (PolicyEvalError, CheckLoadError) as exc:
        return CaseResult(case.suite, case.test, case.case, False, f"error: {exc}")
    finally:
        case.policies.take_prints()
    violations = [v for _, vs in results for v in vs]
    return _assert(case, violations)


def _assert(case: _Case, violations: list[dict[str, Any]]) -> CaseResult:
    if not case.assertions:
        return CaseResult(case.suite, case.test, case.case, False, "case has no assertions")
    for i, (regex, kind, count) in enumerate(case.assertions):
        hits = sum(1 for v in violations if regex is None or regex.search(str(v.get("msg", ""))))
        ok = hits >= 1 if kind == "yes" else hits == 0 if kind == "no" else hits == count
        if not ok:
            want = "at least 1" if kind == "yes" else "0" if kind == "no" else str(count)
            msgs = "; ".join(str(v.get("msg")) for v in violations[:3]) or "none"
            about = f" matching /{regex.pattern}/" if regex is not None else ""
            return CaseResult(case.suite, case.test, case.case, False,
                              f"assertion {i}: want {want} violation(s){about}, got {hits} (violations: {msgs})")
    return CaseResult(case.suite, case.test, case.case, True)


def find_suites(paths: Sequence[Path]) -> list[tuple[Document, Path]]:
    """Every Suite document under the paths, with the directory its references are relative to."""
    from gatekeeper.checks.policy.files import walk

    out = []
    for root in paths:
        for path in walk(root):
            if path.suffix not in (".yaml", ".yml"):
                continue
            for doc in _documents(path):
                if is_suite(doc.obj):
                    out.append((doc, path.parent))
    return out


def run_all(paths: Sequence[Path], rego_version: str, pattern: re.Pattern[str] | None,
            limits: boundary.Limits | None = None) -> list[CaseResult]:
    """Run every Suite under the paths; BoundaryError when a case hangs, crashes or runs out of memory."""
    engine = RegorusEngine()
    cases: list[_Case] = []
    for doc, directory in find_suites(paths):
        cases.extend(plan_suite(doc, directory, engine, rego_version, pattern, limits))
    return boundary.run(len(cases), lambda i, mark: _evaluate(cases[i], mark),
                        lambda i, _: f"{cases[i].suite}: Suite case {cases[i].test}/{cases[i].case}",
                        limits or boundary.Limits())
