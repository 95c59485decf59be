"""``kyverno test`` files (``cli.kyverno.io/v1alpha1`` Test): apply the listed policies to the listed
resources and compare each (policy, rule, resource) with the expected pass / fail / skip / warn /
error. Results for rules not evaluated offline (mutate, generate, verifyImages...) are skipped,
never passed."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gatekeeper.kyverno import exceptions as exc_mod
from gatekeeper.kyverno import policy as policy_mod
from gatekeeper.kyverno import values as values_mod
from gatekeeper.kyverno import vpol as vpol_mod
from gatekeeper.kyverno.celeval import Objects
from gatekeeper.kyverno.engine import (
    ERROR,
    FAIL,
    NOT_EVALUATED,
    SKIP,
    UNAVAILABLE,
    Environment,
    Evaluator,
    Result,
    target_of,
)
from gatekeeper.kyverno.errors import KyvernoLoadError
from gatekeeper.kyverno.shape import mapping, sequence, shorten
from gatekeeper.model import Document

TEST_FILE_NAMES = ("kyverno-test.yaml", "kyverno-test.yml")
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", ".terraform"})
EXPECTED = frozenset({"pass", "fail", "skip", "warn", "error"})

Reader = Callable[[Path], list[Document]]


@dataclass(frozen=True, slots=True)
class Case:
    """One expected (policy, rule, resource) result and what happened."""

    file: str
    test: str
    name: str
    passed: bool
    message: str = ""
    skipped: bool = False
    line: int = 0


def is_test(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") == "Test" and str(obj.get("apiVersion", "")).startswith(
        "cli.kyverno.io/")


def candidates(roots: Sequence[Path]) -> list[Path]:
    """Files that may hold Test documents: ``kyverno-test.yaml`` anywhere (``.kyverno-test/`` too)
    and other YAML files that mention cli.kyverno.io."""
    out: list[Path] = []
    for root in roots:
        if root.is_file():
            out.append(root)
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if not path.is_file():  # never open a link to a device (/dev/zero) or a FIFO
                    continue
                if name in TEST_FILE_NAMES:
                    out.append(path)
                elif name.endswith((".yaml", ".yml")):
                    try:
                        with path.open("rb") as f:
                            head = f.read(65536)
                        if b"cli.kyverno.io" in head:
                            out.append(path)
                    except OSError:
                        continue
    return out


def run(doc: Document, directory: Path, read: Reader, cluster_scoped: frozenset[str],
        pattern: re.Pattern[str] | None = None,
        masking: Callable[[list[Any]], Callable[[str], str]] | None = None) -> list[Case]:
    """Run one Test document; KyvernoLoadError when a file it names cannot load. ``masking``
    gives, for the test's resources, what masks their secret values in a case's message (applied
    before the message is shortened)."""
    obj = doc.obj
    name = str(mapping(obj.get("metadata")).get("name") or obj.get("name") or Path(doc.path).parent.name)
    expected = obj.get("results")
    if not isinstance(expected, list):
        raise KyvernoLoadError(doc.path, doc.line, f"Test {name}: results must be a list")
    selected = [(i, e) for i, e in enumerate(expected) if isinstance(e, dict)]
    policies, vpols, exceptions = _policies(doc, directory, read, name)
    resources = [d for f in _files(doc, "resources", name) for d in read(directory / f)
                 if isinstance(d.obj, dict) and d.obj.get("kind")]
    for f in _files(doc, "exceptions", name):
        for d in read(directory / f):
            if exc_mod.is_exception(d.obj):
                exceptions.append(exc_mod.load(d))
    values = values_mod.Values()
    variables = obj.get("variables") or obj.get("values")
    if isinstance(variables, str):
        docs = [d for d in read(directory / variables) if isinstance(d.obj, dict)]
        if docs:
            values = values_mod.load(docs[0])
    user = values_mod.UserInfo()
    if isinstance(obj.get("userinfo"), str):
        docs = [d for d in read(directory / obj["userinfo"]) if isinstance(d.obj, dict)]
        if docs:
            user = values_mod.load_user_info(docs[0])
    labels: dict[str, dict[str, Any]] = {}
    for d in resources:
        meta = mapping(d.obj.get("metadata"))
        if d.obj.get("kind") == "Namespace":
            labels[str(meta.get("name"))] = mapping(meta.get("labels"))
    env = Environment(values=values, user=user, namespace_labels=labels, exceptions=exceptions,
                      cluster_scoped=cluster_scoped, objects=Objects([d.obj for d in resources]))
    evaluator = Evaluator(policies, env)
    outcomes: dict[int, list[Result]] = {}
    cases: list[Case] = []
    mask: Callable[[str], str] | None = None
    for index, entry in selected:
        policy_name = str(entry.get("policy") or "")
        rule_name = str(entry.get("rule") or "")
        want = str(entry.get("result") or "").lower()
        refs = [str(r) for r in sequence(entry.get("resources"))] or (
            [str(entry["resource"])] if entry.get("resource") else [])
        if entry.get("namespace") and refs:
            refs = [r if "/" in r else f"{entry['namespace']}/{r}" for r in refs]
        line = doc.locate(("results", index))[0]
        labels_for = [f"{policy_name}/{rule_name or '-'}/{r}" for r in refs] or [f"{policy_name}/{rule_name or '-'}"]
        if pattern is not None:
            keep = [lab for lab in labels_for if pattern.search(f"{name}/{lab}")]
            if not keep:
                continue
        if want not in EXPECTED:
            raise KyvernoLoadError(doc.path, line, f"Test {name}: result must be one of "
                                                   f"{', '.join(sorted(EXPECTED))}, not {entry.get('result')!r}")
        if entry.get("isValidatingAdmissionPolicy") or policy_name in vpols:
            cases.extend(Case(doc.path, name, lab, True, "ValidatingAdmissionPolicy results are checked by the "
                              "admission check, not here; not evaluated", True, line) for lab in labels_for)
            continue
        validating = bool(entry.get("isValidatingPolicy"))
        policy = next((p for p in policies if policy_name in (p.key, p.name)
                       and (p.kind == vpol_mod.KIND) == validating), None)
        if validating and policy is not None:
            rule_name = vpol_mod.RULE
        if policy is None:
            cases.extend(Case(doc.path, name, lab, False, f"policy {policy_name!r} is not in the test's policies",
                              line=line) for lab in labels_for)
            continue
        rule = next((r for r in policy.rules if r.name == rule_name), None)
        if rule is None:
            cases.extend(Case(doc.path, name, lab, False, f"policy {policy_name} has no rule {rule_name!r}",
                              line=line) for lab in labels_for)
            continue
        if not rule.evaluated:
            what = policy_mod.NOT_OFFLINE.get(rule.validate_type or rule.kind, rule.kind)
            cases.extend(Case(doc.path, name, lab, True, f"{what} rules are not evaluated offline; expected "
                              f"{want!r} not checked", True, line) for lab in labels_for)
            continue
        for ref, lab in zip(refs, labels_for, strict=False):
            found = _resources(resources, ref, entry.get("kind"), cluster_scoped)
            if not found:
                cases.append(Case(doc.path, name, lab, False, f"resource {ref!r} is not in the test's resources",
                                  line=line))
                continue
            for res_doc in found:
                key = id(res_doc)
                if key not in outcomes:
                    outcomes[key] = evaluator.evaluate(res_doc.obj)
                if validating:  # the policy's own rule or, for a Pod controller, its auto-generated one
                    mine = [r for r in outcomes[key] if r.policy is policy]
                    result = next((r for r in mine if r.matched), mine[0])
                else:
                    result = next(r for r in outcomes[key] if r.policy is policy and r.rule is rule)
                got = actual(result)
                ok = got == want
                said = result.message if result.message and not ok else ""
                if said and masking is not None:
                    if mask is None:
                        mask = masking([d.obj for d in resources])
                    said = mask(said)
                detail = f"want {want}, got {got}" + (f": {shorten(said)}" if said else "")
                cases.append(Case(doc.path, name, lab, ok, "" if ok else detail, line=line))
    return cases


def actual(result: Result) -> str:
    """What ``kyverno test`` reports for a rule result."""
    if not result.matched:
        return "skip"
    if result.exception is not None:
        return "skip"
    if result.status == FAIL:
        return "fail" if result.policy.scored else "warn"
    if result.status in (ERROR, UNAVAILABLE):
        return "error"
    if result.status in (SKIP, NOT_EVALUATED):
        return "skip"
    return "pass"


def _files(doc: Document, key: str, name: str) -> list[str]:
    raw = doc.obj.get(key)
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw):
        raise KyvernoLoadError(doc.path, doc.locate((key,))[0], f"Test {name}: {key} must be a list of file paths")
    return list(raw)


def _policies(doc: Document, directory: Path, read: Reader, name: str
              ) -> tuple[list[policy_mod.Policy], set[str], list[exc_mod.PolicyException]]:
    files = _files(doc, "policies", name)
    if not files:
        raise KyvernoLoadError(doc.path, doc.line, f"Test {name}: policies must list at least one file")
    policies: list[policy_mod.Policy] = []
    vpols: set[str] = set()
    exceptions: list[exc_mod.PolicyException] = []
    for f in files:
        for d in read(directory / f):
            if policy_mod.is_policy(d.obj):
                policies.append(policy_mod.load(d))
            elif vpol_mod.is_validating_policy(d.obj):
                policies.append(vpol_mod.load(d))
            elif isinstance(d.obj, dict) and d.obj.get("kind") == "ValidatingAdmissionPolicy":
                vpols.add(str(mapping(d.obj.get("metadata")).get("name")))
            elif exc_mod.is_exception(d.obj):
                exceptions.append(exc_mod.load(d))
    return policies, vpols, exceptions


def _resources(docs: list[Document], ref: str, kind: Any, cluster_scoped: frozenset[str]) -> list[Document]:
    ns, _, name = ref.rpartition("/")
    out = []
    for d in docs:
        target = target_of(d.obj, cluster_scoped)
        if kind and target.kind != kind:
            continue
        if target.name != name or (ns and target.namespace != ns):
            continue
        out.append(d)
    return out[:1]
