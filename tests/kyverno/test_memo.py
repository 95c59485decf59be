"""Remembered passes (``reads.py``, ``memo.py``): what a rule's check reads is found from its text,
resources that agree on it share the pass, and nothing else changes: every resource gets the
interpreter's results (messages naming the resource, actions overridden by namespace, errors)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.checks.base import Context
from gatekeeper.checks.kyverno import KyvernoCheck
from gatekeeper.kyverno import memo, reads
from gatekeeper.kyverno.engine import Evaluator, Result
from gatekeeper.kyverno.policy import Rule
from gatekeeper.pipeline import Run, load
from tests.kyverno.helpers import rule_policy


def _key(r: Result) -> tuple[Any, ...]:
    return (r.policy.key, r.rule.name, r.status, r.message, r.path, r.action,
            None if r.exception is None else r.exception.label)


def _evaluator(tmp_path: Path, policy: str) -> Evaluator:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "pol.yaml").write_text(policy, encoding="utf-8")
    run = Run(root=tmp_path, options={"policy": [str(tmp_path / "policies")]})
    loaded = load(run)
    check = KyvernoCheck()
    check.prepare(Context(run.root, loaded.documents, loaded.resources, run.config, "", dict(run.options)))
    assert check.evaluator is not None
    return check.evaluator


def _memos(evaluator: Evaluator) -> list[memo.Memo]:
    found = []
    for steps in evaluator._fast.plans.values():
        for _, step in steps:
            found.extend(c.cell_contents for c in step.__closure__ or () if isinstance(c.cell_contents, memo.Memo))
    return found


def _same_as_interpreter(evaluator: Evaluator, objects: list[dict[str, Any]]) -> list[list[tuple[Any, ...]]]:
    """Each object's reported results, asserted equal to the interpreter's."""
    out = []
    for obj in objects:
        evaluator.quiet(obj)  # plans made first, as the check does before its workers fork
        fast = [_key(r) for r in evaluator.failures(obj)]
        assert fast == [_key(r) for r in evaluator._reported(obj)], obj["metadata"]
        out.append(fast)
    return out


def _hits(evaluator: Evaluator) -> int:
    return sum(m._hits for m in _memos(evaluator))


def _pod(name: str, namespace: str = "default", caps: list[str] | None = None, labels: dict[str, str] | None = None,
         image: str = "nginx:1.27") -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": image}
    if caps is not None:
        container["securityContext"] = {"capabilities": {"add": caps}}
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": [container]}}


def _rule(raw: dict[str, Any]) -> Rule:
    """A validate rule as the policy model holds it."""
    kind = next(k for k in ("podSecurity", "deny", "foreach", "pattern", "anyPattern") if k in raw["validate"])
    return Rule(name="r", raw=raw, kind="validate", validate_type=kind, pointer=())


def _paths(shape: reads.Shape, at: str = "") -> set[str]:
    out = set()
    for name, inner in shape.fields.items():
        here = f"{at}.{name}" if at else name
        out.add(here + (" whole" if inner.whole else " text" if inner.text else
                        f" matches {','.join(inner.matches)}" if inner.matches else ""))
        out |= _paths(inner, here)
    if shape.items is not None:
        out.add(f"{at}[]" + (" whole" if shape.items.whole else ""))
        out |= _paths(shape.items, f"{at}[]")
    return out


# -- what a rule reads ------------------------------------------------------------------------

def test_a_deny_rule_reads_the_fields_its_variables_name() -> None:
    shape = reads.rule_shape(_rule({"validate": {"message": "{{ request.object.metadata.name }} is a balancer",
                                                 "deny": {"conditions": {"any": [
                                                     {"key": "{{ request.object.spec.type || 'ClusterIP' }}",
                                                      "operator": "Equals", "value": "LoadBalancer"}]}}}}),
                             "Service")
    assert shape is not None
    # the message is read only for a failure, which is never remembered
    assert _paths(shape) == {"request", "request.object", "request.object.spec", "request.object.spec.type whole"}


def test_foreach_elements_read_the_places_of_the_list() -> None:
    shape = reads.rule_shape(_rule({"validate": {"foreach": [{
        "list": "request.object.spec.containers",
        "deny": {"conditions": {"all": [{"key": "{{ element.securityContext.privileged || false }}",
                                         "operator": "Equals", "value": True}]}}}]}}), "Pod")
    assert shape is not None
    assert "request.object.spec.containers[].securityContext.privileged whole" in _paths(shape)
    assert not any(p.startswith("request.object.spec.containers[].name") for p in _paths(shape))


@pytest.mark.parametrize("raw", [
    # a nested variable: the outer expression is written per resource
    {"validate": {"deny": {"conditions": {"any": [
        {"key": "{{ request.object.metadata.labels.{{ request.object.kind }} }}", "operator": "Equals",
         "value": "x"}]}}}},
    # the whole object handed to a function
    {"validate": {"deny": {"conditions": {"any": [
        {"key": "{{ to_string(request.object) }}", "operator": "Equals", "value": "x"}]}}}},
    # the clock
    {"validate": {"deny": {"conditions": {"any": [
        {"key": "{{ time_now_utc() }}", "operator": "Equals", "value": "x"}]}}}},
    # a foreach list written with a variable
    {"validate": {"foreach": [{"list": "request.object.spec.{{ request.object.kind }}",
                               "deny": {"conditions": {"any": [{"key": "x", "operator": "Equals", "value": "x"}]}}}]}},
    # context entries
    {"context": [{"name": "cm", "configMap": {"name": "c", "namespace": "n"}}],
     "validate": {"deny": {"conditions": {"any": [{"key": "{{ cm.data.x }}", "operator": "Equals", "value": "x"}]}}}},
])
def test_what_cannot_be_followed_is_never_remembered(raw: dict[str, Any]) -> None:
    assert reads.rule_shape(_rule(raw), "Pod") is None


def test_pod_security_reads_names_as_text_and_images_as_the_excludes_patterns_they_match() -> None:
    plain = reads.rule_shape(_rule({"validate": {"podSecurity": {"level": "baseline"}}}), "Deployment")
    excluding = reads.rule_shape(_rule({"validate": {"podSecurity": {"level": "restricted", "exclude": [
        {"controlName": "Capabilities", "images": ["ghcr.io/acme/*"]}, {"controlName": "Seccomp"},
        {"controlName": "Capabilities", "images": ["*:debug"]}]}}}), "Deployment")
    assert plain is not None and excluding is not None
    at = "request.object.spec.template.spec.containers[]"
    assert {f"{at}.name text", f"{at}.image text", f"{at}.securityContext whole"} <= _paths(plain)
    assert {f"{at}.name text", f"{at}.image matches ghcr.io/acme/*,*:debug"} <= _paths(excluding)


# -- keys -------------------------------------------------------------------------------------------

def test_keys_tell_values_of_different_types_apart() -> None:
    shape = reads.Shape()
    shape.field("a").whole = True
    shape.field("b").text = True
    key = memo.Memo(shape)

    def of(value: dict[str, Any]) -> bytes | None:
        return key.key(value, lambda: value, memo.Keys())

    seen = [of({"a": v}) for v in (1, 1.0, True, "1", None, [1], {"1": 1}, {1: 1})]
    assert None not in seen and len(set(seen)) == len(seen)
    assert of({}) != of({"a": None})  # missing and null differ
    assert of({"a": 1, "b": "x"}) == of({"a": 1, "b": "y"})  # b read only as text
    assert of({"a": 1, "b": "x"}) != of({"a": 1, "b": 5})
    assert of({"a": 1, "other": 1}) == of({"a": 1, "other": 2})  # not read
    assert of({"a": 10 ** 5000}) is None  # cannot be written: evaluated as usual

    image = reads.Shape()
    image.field("image").matches = ("ghcr.io/*", "*:debug")
    by = memo.Memo(image)

    def image_key(value: dict[str, Any]) -> bytes | None:
        return by.key(value, lambda: value, memo.Keys())

    keys = {name: image_key({"image": name}) for name in
            ("ghcr.io/a:1", "ghcr.io/b:2", "docker.io/a:debug", "ghcr.io/a:debug", "docker.io/a:1", "")}
    assert keys["ghcr.io/a:1"] == keys["ghcr.io/b:2"] != keys["ghcr.io/a:debug"]
    assert keys["docker.io/a:debug"] not in (keys["ghcr.io/a:1"], keys["ghcr.io/a:debug"], keys["docker.io/a:1"])
    assert keys["docker.io/a:1"] == keys[""] != image_key({})  # an absent image differs
    assert image_key({"image": 5}) != image_key({"image": "5"})


# -- outcomes ---------------------------------------------------------------------------------------

def test_passes_are_shared_and_failures_name_their_own_resource(tmp_path: Path) -> None:
    evaluator = _evaluator(tmp_path, rule_policy("""
        - name: no-balancers
          match: {any: [{resources: {kinds: [Service]}}]}
          validate:
            message: "Service {{ request.object.metadata.name }} in {{ request.object.metadata.namespace }}"
            deny:
              conditions:
                any:
                  - key: "{{ request.object.spec.type || 'ClusterIP' }}"
                    operator: Equals
                    value: LoadBalancer
        """))
    services = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"s{i}", "namespace": f"n{i % 3}"},
                 "spec": {"type": "LoadBalancer" if i % 4 == 0 else "ClusterIP", "ports": [{"port": i}]}}
                for i in range(40)]
    results = _same_as_interpreter(evaluator, services)
    assert sum(1 for r in results if r) == 10
    assert {r[0][3] for r in results if r} == {f"Service s{i} in n{i % 3}" for i in range(0, 40, 4)}
    assert _hits(evaluator) >= 25


def test_actions_overridden_by_namespace_are_the_interpreters(tmp_path: Path) -> None:
    evaluator = _evaluator(tmp_path, rule_policy("""
        - name: caps
          match: {any: [{resources: {kinds: [Pod]}}]}
          validate:
            failureActionOverrides:
              - action: Audit
                namespaces: [dev]
            message: "{{ request.object.metadata.name }} adds capabilities"
            deny:
              conditions:
                all:
                  - key: "{{ request.object.spec.containers[].securityContext.capabilities.add[] }}"
                    operator: AnyNotIn
                    value: [CHOWN]
        """, action="Enforce"))
    pods = [_pod(f"p{i}", "dev" if i % 2 else "prod", caps=["NET_ADMIN"] if i % 3 == 0 else ["CHOWN"])
            for i in range(30)]
    results = _same_as_interpreter(evaluator, pods)
    actions = {(p["metadata"]["namespace"], r[0][5]) for p, r in zip(pods, results, strict=True) if r}
    assert actions == {("dev", "Audit"), ("prod", "Enforce")}
    assert _hits(evaluator) > 0


def test_an_error_is_never_remembered_as_a_pass(tmp_path: Path) -> None:
    """The field a condition reads is in the key: a resource without it errs as the interpreter says,
    even after resources with the same everything else passed."""
    evaluator = _evaluator(tmp_path, rule_policy("""
        - name: team
          match: {any: [{resources: {kinds: [Pod]}}]}
          validate:
            message: team label
            deny:
              conditions:
                any:
                  - key: "{{ request.object.metadata.labels.team }}"
                    operator: Equals
                    value: none
        """))
    good = [_pod("a", labels={"team": "x"}) for _ in range(5)]
    unlabelled = _pod("a")
    results = _same_as_interpreter(evaluator, [*good, unlabelled, *copy.deepcopy(good)])
    assert results[5] and results[5][0][2] == "error"
    assert not any(results[:5]) and not any(results[6:])
    assert _hits(evaluator) >= 9


def test_foreach_elements_share_passes_and_fail_with_their_element(tmp_path: Path) -> None:
    evaluator = _evaluator(tmp_path, rule_policy("""
        - name: drop-all
          match: {any: [{resources: {kinds: [Pod]}}]}
          validate:
            message: "{{ element.name }} of {{ request.object.metadata.name }} must drop ALL"
            foreach:
              - list: request.object.spec.containers
                deny:
                  conditions:
                    all:
                      - key: ALL
                        operator: AnyNotIn
                        value: "{{ element.securityContext.capabilities.drop[] || `[]` }}"
        """))
    pods = []
    for i in range(24):
        pod = _pod(f"p{i}", image=f"registry/app{i}:1")
        pod["spec"]["containers"][0]["securityContext"] = {"capabilities": {"drop": ["ALL"] if i % 5 else ["NET_RAW"]}}
        pods.append(pod)
    results = _same_as_interpreter(evaluator, pods)
    assert [i for i, r in enumerate(results) if r] == [0, 5, 10, 15, 20]
    assert results[5][0][3] == "p5 of p5 must drop ALL"
    assert _hits(evaluator) >= 15


def test_a_memo_that_does_not_pay_stops_making_keys(tmp_path: Path) -> None:
    evaluator = _evaluator(tmp_path, rule_policy("""
        - name: registry
          match: {any: [{resources: {kinds: [Pod]}}]}
          validate:
            message: "{{ element.image }} is not from the registry"
            foreach:
              - list: request.object.spec.containers
                pattern:
                  image: "ghcr.io/acme/*"
        """))
    pods = [_pod(f"p{i}", image=f"docker.io/app{i}:1") for i in range(memo.TRIAL + 10)]
    results = _same_as_interpreter(evaluator, pods)
    assert all(results)
    (only,) = _memos(evaluator)
    assert only.off and only._calls == memo.TRIAL


def test_a_value_a_function_reads_is_read_whole(tmp_path: Path) -> None:
    """``keys(@)`` of each volume reads the volumes whole: a hostPath volume is never taken for the
    configMap volume that passed before it."""
    evaluator = _evaluator(tmp_path, rule_policy("""
        - name: volume-types
          match: {any: [{resources: {kinds: [Pod]}}]}
          validate:
            message: only configMap volumes
            deny:
              conditions:
                all:
                  - key: "{{ request.object.spec.volumes[].keys(@)[] }}"
                    operator: AnyNotIn
                    value: [name, configMap]
        """))
    pods = []
    for i in range(12):
        pod = _pod(f"p{i}")
        source = {"hostPath": {"path": "/etc"}} if i % 4 == 3 else {"configMap": {"name": "c"}}
        pod["spec"]["volumes"] = [{"name": "v", **source}]
        pods.append(pod)
    results = _same_as_interpreter(evaluator, pods)
    assert [i for i, r in enumerate(results) if r] == [3, 7, 11]
    assert _hits(evaluator) >= 6


def test_pod_security_excludes_by_image_are_the_interpreters(tmp_path: Path) -> None:
    """Images matching the same exclude patterns share a pass; one that an exclude does not cover
    fails with its own message."""
    evaluator = _evaluator(tmp_path, rule_policy("""
        - name: restricted
          match: {any: [{resources: {kinds: [Pod]}}]}
          validate:
            podSecurity:
              level: restricted
              version: v1.29
              exclude:
                - controlName: Capabilities
                  images: ["ghcr.io/acme/netadmin*"]
        """))
    pods = []
    for i in range(20):
        pod = _pod(f"p{i}", caps=["NET_ADMIN"], image="docker.io/netadmin:1" if i % 7 == 6 else
                   f"ghcr.io/acme/netadmin-{i}:1")
        pod["spec"]["securityContext"] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
        pod["spec"]["containers"][0]["securityContext"].update(
            {"allowPrivilegeEscalation": False, "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}})
        pods.append(pod)
    results = _same_as_interpreter(evaluator, pods)
    assert [i for i, r in enumerate(results) if r] == [6, 13]
    assert "container 'p6'" in results[6][0][3]
    assert _hits(evaluator) >= 10


def test_rules_reading_the_same_fields_share_one_key_per_resource() -> None:
    """The Pod Security levels read the same fields: one key per resource; a shape read from the
    request data never shares the key of one read from the object."""
    baseline = reads.rule_shape(_rule({"validate": {"podSecurity": {"level": "baseline"}}}), "Pod")
    restricted = reads.rule_shape(_rule({"validate": {"podSecurity": {"level": "restricted"}}}), "Pod")
    assert baseline is not None and restricted is not None
    keys = memo.Keys()
    pod = _pod("p")
    assert memo.Memo(baseline).key(pod, lambda: {}, keys) == memo.Memo(restricted).key(pod, lambda: {}, keys)
    assert len(keys.found) == 1 and None not in keys.found.values()

    # an object's own "request" field and the request data's: alike, but read from different roots
    inner = reads.Shape()
    inner.field("request").field("object").field("request").field("operation").whole = True
    outer = reads.Shape()
    outer.field("request").field("operation").whole = True
    obj = {"request": {"operation": "A"}}
    data = {"request": {"operation": "B", "object": obj}}
    shared = memo.Keys()
    assert memo.Memo(inner).key(obj, lambda: data, shared) != memo.Memo(outer).key(obj, lambda: data, shared)
