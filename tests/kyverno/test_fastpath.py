"""The check's fast path (``fastpath.FastPath``: plans per kind, compiled patterns, conditions and
Pod Security controls, subjects no rule can report on) agrees with the interpreter
(``Evaluator._reported``, which evaluates every rule) on every resource; and the compiled pieces
agree with the functions they stand for."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.checks.base import Context
from gatekeeper.checks.kyverno import KyvernoCheck
from gatekeeper.checks.policy.redact import redact
from gatekeeper.kyverno import conditions, patterngen
from gatekeeper.kyverno import pattern as pm
from gatekeeper.kyverno.engine import Evaluator, Result
from gatekeeper.kyverno.errors import UNLIMITED
from gatekeeper.kyverno.fastpath import _reads_images
from gatekeeper.pipeline import Run, load
from tests.conftest import PROJECT
from tests.kyverno.helpers import rule_policy

LIBRARY = PROJECT / "gatekeeper" / "library" / "policies" / "kyverno"


def _key(r: Result) -> tuple[Any, ...]:
    return (r.policy.key, r.rule.name, r.status, r.message, r.path, r.action,
            None if r.exception is None else r.exception.label)


def _prepared(tmp_path: Path, without: tuple[str, ...] = ()) -> tuple[Evaluator, list[Any]]:
    """Every library policy (but those of the folders ``without``) against every resource of the
    library's own tests (good and bad ones, each also as a Pod's controllers see it), through the
    check's own set-up."""
    policies, apps = tmp_path / "policies", tmp_path / "apps"
    policies.mkdir()
    apps.mkdir()
    for n, path in enumerate(sorted(LIBRARY.rglob("*.yaml"))):
        parts = path.relative_to(LIBRARY).parts
        if parts[0] in without:
            continue
        if "tests" not in parts:
            shutil.copy(path, policies / f"{n}-{path.name}")
        elif path.name != "kyverno-test.yaml" and "Values" not in path.read_text(encoding="utf-8"):
            shutil.copy(path, apps / f"{n}-{path.name}")
    run = Run(root=tmp_path, options={"policy": [str(policies)]})
    loaded = load(run)
    check = KyvernoCheck()
    check.prepare(Context(run.root, loaded.documents, loaded.resources, run.config, "", dict(run.options)))
    assert check.evaluator is not None
    subjects = [redact(r.obj) for r in check.subjects(Context(run.root, loaded.documents, loaded.resources,
                                                              run.config, "", dict(run.options)))]
    return check.evaluator, subjects


def test_the_fast_path_reports_what_the_interpreter_reports(tmp_path: Path) -> None:
    evaluator, subjects = _prepared(tmp_path)
    assert len(subjects) > 100 and len(evaluator.rules) > 100
    reported = quiet = 0
    for obj in subjects:
        slow = [_key(r) for r in evaluator._reported(obj)]
        is_quiet = evaluator.quiet(obj)  # made before the fast path runs, as the check does
        fast = [_key(r) for r in evaluator.failures(obj)]
        assert fast == slow, (obj.get("kind"), (obj.get("metadata") or {}).get("name"))
        if is_quiet:
            quiet += 1
            assert slow == []
        reported += len(slow)
    assert reported > 50  # the library's bad resources fail
    assert evaluator._fast.plans  # plans were made


def test_a_subject_no_rule_can_report_on_is_quiet(tmp_path: Path) -> None:
    """A kind no evaluated rule matches is quiet (the check hands it to no worker); a kind some rule
    matches, a Policy's namespaced rule or a values file (evaluated per resource) is not."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "pol.yaml").write_text(rule_policy("""
        - name: no-privileged
          match: {any: [{resources: {kinds: [Pod]}}]}
          validate:
            message: no privileged containers
            pattern: {spec: {containers: [{=(securityContext): {=(privileged): false}}]}}
        - name: mutates
          match: {any: [{resources: {kinds: [Lease]}}]}
          mutate: {patchStrategicMerge: {metadata: {labels: {a: b}}}}
        """, name="pods"), encoding="utf-8")
    run = Run(root=tmp_path, options={"policy": [str(tmp_path / "policies")]})
    loaded = load(run)
    check = KyvernoCheck()
    check.prepare(Context(run.root, loaded.documents, loaded.resources, run.config, "", dict(run.options)))
    evaluator = check.evaluator
    assert evaluator is not None
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "nginx", "securityContext": {"privileged": True}}]}}
    assert evaluator.quiet(cm) and evaluator.quiet(lease)  # no rule, or a rule not evaluated offline
    assert evaluator._reported(cm) == [] and evaluator._reported(lease) == []
    assert not evaluator.quiet(pod)
    assert [_key(r) for r in evaluator.failures(pod)] == [_key(r) for r in evaluator._reported(pod)] != []
    assert not evaluator.quiet({"apiVersion": 1, "kind": "ConfigMap"})  # the interpreter decides
    evaluator._has_values = True  # a values file: operations and values per resource
    assert not evaluator.quiet(cm)


# -- compiled pieces against the functions they stand for ---------------------------------------

KEYS: list[Any] = ["LoadBalancer", "loadbalancer", "", "5", 5, 5.0, True, False, None, [], {}, ["LoadBalancer"],
                   {"a": 1}, "1Gi", "1024Mi", "90s", "1m30s", "Infinity", "1e999", "nan", "sett", "DELETE", "x*"]
VALUES: list[Any] = ["LoadBalancer", "", "DELETE", "5", "1Gi", "1m30s", "sett*", "a?c", "Infinity", "-inf", "1e999",
                     "0x10", " 7 ", "1_000", "true", "{{ request.name }}", 5, True, None, ["a"]]


@pytest.mark.parametrize("op", ["Equals", "Equal", "NotEquals", "NotEqual"])
@pytest.mark.parametrize("value", VALUES)
def test_compiled_equality_agrees_with_the_operator(op: str, value: Any) -> None:
    for key in KEYS:
        cond = {"key": "{{ request.k }}", "operator": op, "value": value}
        data = {"request": {"k": key, "name": "sett"}}
        compiled = conditions.evaluate_condition(cond, data, UNLIMITED, lenient=True)
        substituted = "sett" if isinstance(value, str) and "{{" in value else value
        # lenient (preconditions): an unresolved key reads as ""
        expected = conditions._HANDLERS[op]("" if key is None else key, substituted)
        assert compiled == expected, (key, op, value)


def test_numbers_that_do_not_fit_are_not_numbers() -> None:
    """"Infinity" or "1e999" (a value from the resource) compares as no number, never an error."""
    assert conditions.equals(1, "Infinity") is False
    assert conditions.equals("1e999", 5) is False
    assert conditions._HANDLERS["GreaterThan"]("Infinity", 5) is False
    assert conditions._HANDLERS["AnyIn"](5, ["1-Infinity"]) is False


@pytest.mark.parametrize("pattern", ["16Mi-2Gi", "<=2Gi", ">1", "!1Gi", "1m-1h", "<=1.5", "!0-10", ">=1Gi | <1Mi",
                                     ">=10m & <=2"])
def test_compiled_quantity_tests_agree_with_the_pattern_and_remember_outcomes(pattern: str) -> None:
    test = patterngen.string_test(pattern)
    values = ["1Gi", "2Gi", "2049Mi", "16Mi", "15Mi", "0", "1", "1.5", "500m", "30m", "2h", "abc", "", 1, 2.5,
              True, None, "1e999", "1" * 200]
    for _ in range(2):  # the second round reads remembered outcomes
        for value in values:
            assert test(value) == pm.value_matches(value, pattern), (pattern, value)


def test_ordered_comparisons() -> None:
    from fractions import Fraction

    one, two = Fraction(1), Fraction(2)
    assert [pm._ordered(one, two, op) for op in ("=", "!", ">", "<", ">=", "<=")] == [
        False, True, False, True, False, True]
    assert [pm._ordered(two, two, op) for op in ("=", "!", ">", "<", ">=", "<=")] == [
        True, False, False, False, True, True]


def test_the_images_variable_is_made_only_for_rules_that_may_read_it() -> None:
    pss = {"validate": {"podSecurity": {"level": "restricted", "exclude": [
        {"controlName": "Capabilities", "images": ["ghcr.io/acme/*"]}]}}}
    assert not _reads_images(pss)  # an exclude's images key is no variable
    assert not _reads_images({"validate": {"message": "images must be signed", "pattern": {"spec": {}}}})
    assert _reads_images({"validate": {"deny": {"conditions": {"any": [
        {"key": "{{ images.containers.*.registry }}", "operator": "AnyNotIn", "value": ["ghcr.io"]}]}}}})
    assert _reads_images({"validate": {"message": "{{ @ }}", "deny": {}}})  # the data as a whole
    assert _reads_images({"validate": {"foreach": [{"list": "images.containers", "deny": {}}]}})
    assert _reads_images({"context": [{"name": "x", "variable": {"jmesPath": "images"}}]})


def test_a_pattern_too_large_for_code_is_left_to_the_interpreter(tmp_path: Path) -> None:
    """Plans are made before the workers fork, outside their limits: a pattern whose code would
    need more than ``MAX_NAMES`` names is not generated (the interpreter, in the workers, evaluates
    it) and the outcome is the interpreter's."""
    import time

    big = {"metadata": {"labels": {f"k{i}": f"v{i}*" for i in range(patterngen.MAX_NAMES)}}}
    with pytest.raises(patterngen.PatternTooLarge):
        patterngen._Gen().build(big)
    labels = {f"k{i}": f"v{i}" for i in range(patterngen.MAX_NAMES)}
    (tmp_path / "policies").mkdir()
    import json
    (tmp_path / "policies" / "pol.yaml").write_text(rule_policy(f"""
        - name: labels
          match: {{any: [{{resources: {{kinds: [ConfigMap]}}}}]}}
          validate:
            message: every label
            pattern: {json.dumps(big)}
        """, name="big"), encoding="utf-8")
    run = Run(root=tmp_path, options={"policy": [str(tmp_path / "policies")]})
    loaded = load(run)
    check = KyvernoCheck()
    check.prepare(Context(run.root, loaded.documents, loaded.resources, run.config, "", dict(run.options)))
    evaluator = check.evaluator
    assert evaluator is not None
    good = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": labels}}
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {**labels, "k7": "x"}}}
    started = time.process_time()
    assert not evaluator.quiet(good)
    assert time.process_time() - started < 5  # no code generated for the pattern
    assert evaluator.failures(good) == evaluator._reported(good) == []
    assert [_key(r) for r in evaluator.failures(bad)] == [_key(r) for r in evaluator._reported(bad)] != []


def test_plans_past_the_budget_are_made_by_the_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gatekeeper.kyverno import engine

    evaluator, subjects = _prepared(tmp_path)
    monkeypatch.setattr(engine, "PLAN_BUDGET", -1.0)  # spent from the start
    assert not any(evaluator.quiet(obj) for obj in subjects)
    assert not evaluator._fast.plans
    for obj in subjects:  # a worker makes them as it meets the kinds, with the same outcomes
        assert [_key(r) for r in evaluator.failures(obj)] == [_key(r) for r in evaluator._reported(obj)]
    assert evaluator._fast.plans


def test_an_evaluator_is_freed_without_the_cyclic_collector(tmp_path: Path) -> None:
    """Neither the fast path nor a rule's lazily built data refer back to the evaluator: dropping
    it frees its plans and compiled steps at once (a cycle kept them until a collection, which the
    pre-commit hook does not run). CEL rules are left out: the CEL engine's fast path keeps its
    last fallback's traceback, and with it the frames that called it, until its next fallback."""
    import gc
    import weakref

    evaluator, subjects = _prepared(tmp_path, without=("cel",))
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        reported = sum(len(evaluator.failures(obj)) + len(evaluator._reported(obj)) for obj in subjects)
        assert reported > 50
        alive, plans = weakref.ref(evaluator), weakref.ref(evaluator._fast)
        del evaluator
        assert alive() is None and plans() is None
    finally:
        if collecting:
            gc.enable()
