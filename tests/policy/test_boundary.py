"""The evaluation boundary: a policy that loops, allocates without bound, recurses or crashes the
engine ends the run with exit 2 and a message naming the policy and the object, within the limits."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gatekeeper.rego import boundary
from gatekeeper.rego.engine import RegorusEngine
from gatekeeper.rego.modules import load_module
from tests.conftest import run_subprocess

Write = Callable[[str, str], Path]
POD = ("apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n"
       "  containers: [{name: c, image: nginx}]\n")


def _template(kind: str, body: str) -> str:
    rego = "\n".join(f"        {line}" for line in body.strip().splitlines())
    return f"""apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: {kind.lower()}
spec:
  crd:
    spec:
      names:
        kind: {kind}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package {kind.lower()}
{rego}
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: {kind}
metadata:
  name: all-pods
spec:
  match:
    kinds: [{{apiGroups: [""], kinds: ["Pod"]}}]
"""


def _run(tmp_path: Path, write: Write, kind: str, body: str, *limits: str) -> tuple[int, str, float]:
    write("repo/pod.yaml", POD)
    write("pol/t.yaml", _template(kind, body))
    started = time.monotonic()
    proc = run_subprocess("check", "repo", "--policy", "pol", "--checks", "policy", *limits, cwd=tmp_path,
                          timeout=120)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started


def test_a_policy_that_loops_is_stopped_at_the_time_limit(tmp_path: Path, write: Write) -> None:
    body = """
violation[{"msg": "n"}] {
  input.review.kind.kind == "Pod"
  n := count([1 | numbers.range(1, 20000)[_]; numbers.range(1, 20000)[_]])
}
"""
    code, out, _ = _run(tmp_path, write, "K8sLoops", body, "--policy-timeout", "1")
    assert code == 2, out
    assert "pod.yaml: template k8sloops (constraint K8sLoops/all-pods) on Pod/shop/web: evaluation used more " \
           "than 1 s of CPU time" in out


def test_a_policy_that_allocates_without_bound_is_stopped_at_the_memory_limit(tmp_path: Path, write: Write) -> None:
    body = """
violation[{"msg": "n"}] {
  input.review.kind.kind == "Pod"
  n := count(concat("", [s | numbers.range(1, 100000000)[_]; s := "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]))
}
"""
    code, out, _ = _run(tmp_path, write, "K8sGreedy", body, "--policy-memory", "256", "--policy-timeout", "100")
    assert code == 2, out
    assert "pod.yaml: template k8sgreedy (constraint K8sGreedy/all-pods) on Pod/shop/web: the policy engine ran " \
           "out of memory (limit 256 MiB" in out


def test_a_recursive_function_is_refused_before_evaluation(tmp_path: Path, write: Write) -> None:
    body = """
grow(x) = y { y := grow(concat("", [x, x])) }
violation[{"msg": m}] { m := grow("x") }
"""
    code, out, _ = _run(tmp_path, write, "K8sRecurse", body)
    assert code == 2, out
    assert "rule grow is recursive (grow -> grow); Rego does not allow recursion" in out
    assert "t.yaml:spec.targets[0].rego:2" in out


def test_engine_stack_overflow_is_a_clear_error_not_a_signal() -> None:
    """Recursion the static check cannot see would overflow the engine's stack: the worker dies,
    the run gets a message instead of a signal exit."""
    module = load_module("r.rego", 'package r\nf(x) = y { y := f(x + 1) }\nv = y { y := f(1) }\n')
    engine = RegorusEngine()
    native = engine._base({})
    native.add_policy(module.path, module.source)  # bypasses the recursion check on purpose

    def work(i: int, mark: boundary.Mark) -> object:
        native.set_input({})
        return native.eval_rule_as_json("data.r.v")

    with pytest.raises(boundary.BoundaryError, match=r"^r\.rego on input 0: the policy engine (recursed too "
                                                     r"deeply|crashed \(SIG)"):
        boundary.run(1, work, lambda i, step: f"r.rego on input {i}", boundary.Limits(timeout=60))


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGABRT])
def test_a_crashing_worker_names_the_task(sig: int) -> None:
    def work(i: int, mark: boundary.Mark) -> int:
        if i == 3:
            mark(7)
            os.kill(os.getpid(), sig)
        return i

    with pytest.raises(boundary.BoundaryError, match=rf"^task 3 step 7: the policy engine crashed "
                                                     rf"\({signal.Signals(sig).name}\)"):
        boundary.run(6, work, lambda i, step: f"task {i} step {step}", boundary.Limits(jobs=2))


def test_results_come_back_in_order_from_several_workers() -> None:
    pids: set[int] = set()
    out = boundary.run(500, lambda i, mark: (i * i, os.getpid()), lambda i, s: str(i), boundary.Limits(jobs=2))
    assert [v for v, _ in out] == [i * i for i in range(500)]
    pids = {pid for _, pid in out}
    assert os.getpid() not in pids and len(pids) == 2


def test_an_exception_in_work_names_the_task() -> None:
    def work(i: int, mark: boundary.Mark) -> int:
        if i == 2:
            raise ValueError("boom")
        return i

    with pytest.raises(boundary.BoundaryError, match=r"^item 2: ValueError: boom"):
        boundary.run(4, work, lambda i, s: f"item {i}", boundary.Limits(jobs=1))


def test_limits_come_from_config_and_options(tmp_path: Path, write: Write) -> None:
    write("repo/.gatekeeper.yaml", "checks:\n  policy:\n    timeout: 1\n    jobs: 1\n")
    body = """
violation[{"msg": "n"}] {
  input.review.kind.kind == "Pod"
  n := count([1 | numbers.range(1, 20000)[_]; numbers.range(1, 20000)[_]])
}
"""
    code, out, _ = _run(tmp_path, write, "K8sLoops", body)
    assert code == 2 and "more than 1 s of CPU time" in out, out


def test_unitless_memory_quantity_no_longer_hangs(tmp_path: Path, write: Write) -> None:
    """A Pod with ``memory: "128974848"`` (a valid quantity without a unit) hung a container-limits
    template for ever: the old engine's ``replace(s, "", x)`` never returned. Guarded by the
    subprocess timeout, so a hang fails the test instead of hanging it."""
    write("repo/pod.yaml", POD.replace("image: nginx}", 'image: nginx, resources: {limits: {memory: "128974848"}}}'))
    body = """
suffix(q) = "Gi" { endswith(q, "Gi") }
suffix(q) = "" { not endswith(q, "i") }
violation[{"msg": msg}] {
  q := input.review.object.spec.containers[_].resources.limits.memory
  n := to_number(replace(q, suffix(q), ""))
  n > 100000000
  msg := sprintf("memory limit %v is over 100000000", [n])
}
"""
    write("pol/t.yaml", _template("K8sMemLimit", body))
    proc = run_subprocess("check", "repo", "--policy", "pol", "--checks", "policy", "--format", "json",
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "memory limit 128974848 is over 100000000" in proc.stdout


def test_null_result_fails_closed(tmp_path: Path, write: Write) -> None:
    write("repo/pod.yaml", POD)
    write("pol/main.rego", "package main\nimport rego.v1\ndeny contains null if input.kind == \"Pod\"\n")
    proc = run_subprocess("check", "repo", "--policy", "pol", "--checks", "policy", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert "data.main.deny: a result must be a string or an object with a string 'msg', got null" in \
        proc.stdout + proc.stderr


def _deep(n: int, kind: str) -> str:
    return '{"a": ' * n + "1" + "}" * n if kind == "object" else "[" * n + "1" + "]" * n


@pytest.mark.parametrize("kind", ["object", "array"])
def test_a_module_that_takes_unbounded_time_to_parse_is_stopped_at_the_time_limit(
        tmp_path: Path, write: Write, kind: str) -> None:
    """Reading a module is untrusted work too (regorus's parser is exponential in the nesting of some
    literals): it runs behind the boundary, so the run ends with exit 2 naming the file."""
    write("repo/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\ndata: {a: b}\n")
    write("repo/policies/main.rego", f"package main\nimport rego.v1\nx := {_deep(40, kind)}\n"
          'deny contains msg if { input.kind == "ConfigMap"; x; msg := "x"; false }\n')
    proc = run_subprocess("check", "repo", "--checks", "policy", "--policy-timeout", "1", cwd=tmp_path, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "policies/main.rego: reading the Rego module: evaluation used more than 1 s of CPU time" in out


def test_template_rego_and_verify_tests_are_read_behind_the_boundary(tmp_path: Path, write: Write) -> None:
    """The same bound covers a ConstraintTemplate's Rego in the check and a Rego test file in verify."""
    deep = _deep(40, "object")
    code, out, _ = _run(tmp_path, write, "K8sDeep", f'x := {deep}\nviolation[{{"msg": "m"}}] {{ x; false }}',
                        "--policy-timeout", "1")
    assert code == 2, out
    assert "pol/t.yaml:spec.targets[0].rego: reading the Rego module: evaluation used more than 1 s" in out
    write("tests/p.rego", "package p\n\nallow := true\n")
    write("tests/p_test.rego", f"package p\n\ntest_x {{ x := {deep}; x }}\n")
    proc = run_subprocess("verify", "tests", "--policy-timeout", "1", cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "tests/p_test.rego: reading the Rego module: evaluation used more than 1 s" in proc.stdout + proc.stderr


def test_starter_container_limits_bounds_quantity_exponents(tmp_path: Path, write: Write) -> None:
    """``1e999999999`` is a valid quantity whose value takes unbounded time to compute: the starter
    template reports it as beyond its range instead of spending its whole CPU limit on it."""
    from gatekeeper.rego.library import library_path

    write("repo/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n"
          "  containers:\n    - name: c\n      image: nginx:1.2.3\n      resources:\n        limits:\n"
          "          cpu: 500m\n          memory: 1e999999999\n")
    policy = library_path() / "gatekeeper" / "container-limits"
    proc = run_subprocess("check", "repo", "--policy", str(policy), "--checks", "policy", "--format", "json",
                          "--policy-timeout", "30", cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [finding] = [f for f in json.loads(proc.stdout)["findings"] if "beyond the range" in f["message"]]
    assert finding["line"] == 11 and finding["path"] == "pod.yaml"
    assert "memory limit <1e999999999>" in finding["message"]
