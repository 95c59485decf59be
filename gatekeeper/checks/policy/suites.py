"""Gatekeeper ``Suite`` files (test.gatekeeper.sh/v1alpha1), run with gator verify's semantics.

Each test names a template and a constraint file (relative to the suite); each case an
object, optional inventory files and assertions: ``violations`` yes / no / a count
(default yes) of the violations whose message matches ``message`` (a regex, default any).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from gatekeeper.checks.base import CheckLoadError
from gatekeeper.checks.policy import gkdialect
from gatekeeper.checks.policy.files import display
from gatekeeper.checks.policy.inventory import build as build_inventory
from gatekeeper.checks.policy.inventory import cluster_scoped_kinds
from gatekeeper.checks.policy.templates import is_constraint, is_template, load_constraint, load_template
from gatekeeper.model import Document, Severity
from gatekeeper.rego.engine import PolicyEvalError, RegoEngine, native_output_to_stderr
from gatekeeper.rego.unittest import CaseResult
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.yamlload import parse

SUITE_API = "test.gatekeeper.sh/v1alpha1"


def is_suite(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") == "Suite" and obj.get("apiVersion") == SUITE_API


def _documents(path: Path) -> list[Document]:
    try:
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


def run_suite(doc: Document, suite_dir: Path, engine: RegoEngine, rego_version: str,
              pattern: re.Pattern[str] | None) -> list[CaseResult]:
    """Run one Suite document; CheckLoadError when a referenced file or the template cannot load."""
    results: list[CaseResult] = []
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
            results.extend(CaseResult(doc.path, tname, str(c.get("name", "")), True, "skipped", True)
                           for c in selected)
            continue
        for field in ("template", "constraint"):
            if not isinstance(test.get(field), str):
                raise CheckLoadError(f"{doc.path}: test {tname} has no {field} file")
        templates = [d for d in _documents(suite_dir / test["template"]) if is_template(d.obj)]
        if len(templates) != 1:
            raise CheckLoadError(f"{doc.path}: test {tname}: {test['template']} must hold one ConstraintTemplate")
        template = load_template(templates[0], rego_version)
        constraints = [d for d in _documents(suite_dir / test["constraint"]) if is_constraint(d.obj, {template.kind})]
        if len(constraints) != 1:
            raise CheckLoadError(f"{doc.path}: test {tname}: {test['constraint']} must hold one {template.kind}")
        constraint = load_constraint(constraints[0], template)
        for case in selected:
            results.append(_run_case(doc.path, tname, case, suite_dir, template, constraint, engine))
    return results


def _run_case(suite: str, tname: str, case: dict[str, Any], suite_dir: Path, template: Any,
              constraint: Any, engine: RegoEngine) -> CaseResult:
    cname = str(case.get("name", ""))
    if case.get("skip"):
        return CaseResult(suite, tname, cname, True, "skipped", True)
    if not isinstance(case.get("object"), str):
        raise CheckLoadError(f"{suite}: case {tname}/{cname} has no object file")
    objects = _objects(suite_dir / case["object"])
    if len(objects) != 1:
        raise CheckLoadError(f"{suite}: case {tname}/{cname}: {case['object']} must hold exactly one object")
    inventory_objs = [o for path in case.get("inventory") or [] for o in _objects(suite_dir / str(path))]
    kinds = cluster_scoped_kinds([*inventory_objs, objects[0]])
    if template.cel_only:
        return CaseResult(suite, tname, cname, False, "template has only CEL code, which is not supported")
    if constraint.severity is None:
        constraint = replace(constraint, severity=Severity.ERROR)  # gator reviews whatever the action
    policies = gkdialect.GatekeeperPolicies(templates={template.kind: template}, constraints=[constraint])
    gkdialect.compile_templates(policies, engine, build_inventory(inventory_objs, kinds))
    namespaces = {str((o.get("metadata") or {}).get("name")): o for o in inventory_objs
                  if o.get("kind") == "Namespace"}
    try:
        results = policies.evaluate(gkdialect.subject(objects[0], kinds), namespaces)
    except PolicyEvalError as exc:
        return CaseResult(suite, tname, cname, False, f"error: {exc}")
    violations = [v for _, vs in results for v in vs]
    return _assert(suite, tname, cname, case.get("assertions") or [], violations)


def _assert(suite: str, tname: str, cname: str, assertions: Sequence[Any],
            violations: list[dict[str, Any]]) -> CaseResult:
    if not assertions:
        return CaseResult(suite, tname, cname, False, "case has no assertions")
    for i, assertion in enumerate(assertions):
        try:
            regex = re.compile(str(assertion.get("message", ".*")))
        except re.error as exc:
            raise CheckLoadError(f"{suite}: case {tname}/{cname} assertion {i}: bad message regex: {exc}") from None
        hits = sum(1 for v in violations if regex.search(str(v.get("msg", ""))))
        expected = assertion.get("violations", "yes")
        if expected == "yes":
            ok, want = hits >= 1, "at least 1"
        elif expected == "no":
            ok, want = hits == 0, "0"
        elif isinstance(expected, int) or (isinstance(expected, str) and expected.isdigit()):
            ok, want = hits == int(expected), str(int(expected))
        else:
            raise CheckLoadError(f"{suite}: case {tname}/{cname}: violations must be yes, no or a number")
        if not ok:
            msgs = "; ".join(str(v.get("msg")) for v in violations[:3]) or "none"
            about = f" matching /{regex.pattern}/" if "message" in assertion else ""
            return CaseResult(suite, tname, cname, False,
                              f"assertion {i}: want {want} violation(s){about}, got {hits} (violations: {msgs})")
    return CaseResult(suite, tname, cname, True)


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


def run_all(paths: Sequence[Path], rego_version: str, pattern: re.Pattern[str] | None) -> list[CaseResult]:
    """Run every Suite under the paths."""
    engine = RegoEngine()
    results: list[CaseResult] = []
    with native_output_to_stderr():
        for doc, directory in find_suites(paths):
            results.extend(run_suite(doc, directory, engine, rego_version, pattern))
    return results
