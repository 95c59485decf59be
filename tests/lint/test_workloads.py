"""Pod specs are found in every workload kind, in init and ephemeral containers too, at exact lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lint.helpers import line_of, of_rule, run

CRONJOB = """
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  namespace: ops
spec:
  schedule: "0 2 * * *"
  startingDeadlineSeconds: 200
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          initContainers:
            - name: prepare
              image: registry.example.com/ops/prepare
          containers:
            - name: report
              image: registry.example.com/ops/report:2.0.1
              securityContext:
                privileged: true
"""

PODSPEC = """
      containers:
        - name: app
          image: busybox:latest
          securityContext:
            runAsUser: 0
"""


def _workload(kind: str, api: str) -> str:
    prefix = {"Pod": "", "CronJob": "  jobTemplate:\n    spec:\n      template:\n        spec:\n"}
    if kind == "Pod":
        return f"apiVersion: {api}\nkind: Pod\nmetadata:\n  name: w\nspec:\n" + "\n".join(
            line[4:] for line in PODSPEC.strip("\n").splitlines()) + "\n"
    if kind == "CronJob":
        body = "\n".join("    " + line for line in PODSPEC.strip("\n").splitlines())
        return (f"apiVersion: {api}\nkind: CronJob\nmetadata:\n  name: w\nspec:\n  schedule: '* * * * *'\n"
                + prefix["CronJob"] + body + "\n")
    selector = "  selector:\n    matchLabels: {app: w}\n" if kind != "ReplicationController" else ""
    return (f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: w\nspec:\n{selector}"
            "  template:\n    metadata:\n      labels: {app: w}\n    spec:\n"
            + PODSPEC.strip("\n") + "\n")


@pytest.mark.parametrize(("kind", "api"), [
    ("Pod", "v1"), ("Deployment", "apps/v1"), ("StatefulSet", "apps/v1"), ("DaemonSet", "apps/v1"),
    ("ReplicaSet", "apps/v1"), ("Job", "batch/v1"), ("ReplicationController", "v1"), ("CronJob", "batch/v1"),
])
def test_every_workload_kind_is_linted_at_the_field(kind: str, api: str, tmp_path: Path) -> None:
    text = _workload(kind, api)
    report = run(tmp_path, {"w.yaml": text})
    [latest] = of_rule(report, "image-latest")
    assert latest.line == line_of(text, "image: busybox:latest")
    assert latest.field.endswith("containers[0].image")
    [root] = of_rule(report, "run-as-root")
    assert root.line == line_of(text, "runAsUser: 0")
    assert latest.resource is not None and latest.resource.kind == kind


def test_cronjob_template_and_init_containers(tmp_path: Path) -> None:
    report = run(tmp_path, {"cron.yaml": CRONJOB})
    [untagged] = of_rule(report, "image-untagged")
    assert untagged.line == line_of(CRONJOB, "image: registry.example.com/ops/prepare")
    assert untagged.field == "spec.jobTemplate.spec.template.spec.initContainers[0].image"
    assert "init container 'prepare'" in untagged.message
    [priv] = of_rule(report, "privileged-container")
    assert priv.line == line_of(CRONJOB, "privileged: true")
    # run-to-completion pods need no probes; the CronJob sets a starting deadline
    assert not of_rule(report, "liveness-probe") and not of_rule(report, "readiness-probe")
    assert not of_rule(report, "cronjob-starting-deadline")


def test_ephemeral_containers_are_checked(tmp_path: Path) -> None:
    text = """
    apiVersion: v1
    kind: Pod
    metadata:
      name: debug
    spec:
      containers:
        - name: app
          image: registry.example.com/app:1.0.0
      ephemeralContainers:
        - name: shell
          image: busybox:latest
          securityContext:
            capabilities:
              add: ["CAP_SYS_PTRACE", NET_ADMIN]
    """
    report = run(tmp_path, {"pod.yaml": text})
    [latest] = of_rule(report, "image-latest")
    assert latest.line == line_of(text, "image: busybox:latest") and "ephemeral container" in latest.message
    caps = of_rule(report, "dangerous-capabilities")
    assert sorted(f.message for f in caps) == ["ephemeral container 'shell' adds capability CAP_SYS_PTRACE",
                                              "ephemeral container 'shell' adds capability NET_ADMIN"]
    assert {f.line for f in caps} == {line_of(text, "add: [")}
    assert len({f.fingerprint for f in caps}) == 2
    # ephemeral containers take no resources and no probes
    others = of_rule(report, "memory-limit") + of_rule(report, "liveness-probe")
    assert others and all("shell" not in f.message for f in others)


def test_pod_level_settings_are_inherited_and_overridden(tmp_path: Path) -> None:
    text = """
    apiVersion: v1
    kind: Pod
    metadata:
      name: web
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 0
      containers:
        - name: inherits
          image: registry.example.com/a:1.0.0
        - name: overrides
          image: registry.example.com/b:1.0.0
          securityContext:
            runAsUser: 1000
    """
    report = run(tmp_path, {"pod.yaml": text})
    [root] = of_rule(report, "run-as-root")
    assert root.line == line_of(text, "runAsUser: 0")
    assert root.message == "pod securityContext sets runAsUser 0 (root)"
    assert of_rule(report, "run-as-non-root") == []


def test_run_as_non_root_points_at_an_explicit_false(tmp_path: Path) -> None:
    text = """
    apiVersion: v1
    kind: Pod
    metadata:
      name: web
    spec:
      securityContext:
        runAsNonRoot: false
      containers:
        - name: web
          image: registry.example.com/a:1.0.0
    """
    [finding] = of_rule(run(tmp_path, {"pod.yaml": text}), "run-as-non-root")
    assert finding.line == line_of(text, "runAsNonRoot: false")


def test_malformed_specs_do_not_crash_lint(tmp_path: Path) -> None:
    text = """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: broken
    spec:
      selector: [not, a, map]
      template:
        metadata: {labels: [x]}
        spec:
          containers:
            - just-a-string
            - name: ok
              image: 42
              env: {A: b}
              securityContext: [privileged]
              resources: {limits: "lots"}
              ports: [8080]
          volumes: {hostPath: /}
    """
    report = run(tmp_path, {"d.yaml": text})
    assert report.errors == []
    assert {f.rule for f in report.findings} >= {"memory-limit", "cpu-requests"}
