"""Validation patterns through the CLI: anchors, wildcards, operators, null semantics, anyPattern,
each failure at the field where the pattern did not match."""

from __future__ import annotations

from pathlib import Path

from tests.kyverno.helpers import check, rows, rule_policy

PODS = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {labels}
spec:
{spec}
"""


def pod(name: str, spec: str, labels: str = "{app: web}") -> str:
    body = "\n".join("  " + line for line in spec.strip("\n").splitlines())
    return PODS.format(name=name, labels=labels, spec=body).lstrip("\n")


def pods(*docs: str) -> dict[str, str]:
    return {doc.split("name: ", 1)[1].split("\n", 1)[0]: doc for doc in docs}


def test_anchors_give_documented_outcomes_at_the_failing_field(tmp_path: Path) -> None:
    policy = rule_policy("""
        - name: equality
          match: {any: [{resources: {kinds: [Pod]}}]}
          validate:
            message: hostPath may not be /var/lib
            pattern:
              spec:
                =(volumes):
                  - =(hostPath):
                      path: "!/var/lib"
        - name: conditional
          match: {any: [{resources: {kinds: [Pod]}}]}
          validate:
            message: latest images are always pulled
            pattern:
              spec:
                containers:
                  - (image): "*:latest"
                    imagePullPolicy: Always
        - name: negation
          match: {any: [{resources: {kinds: [Pod]}}]}
          validate:
            message: no hostNetwork
            pattern:
              spec:
                X(hostNetwork): "null"
        - name: existence
          match: {any: [{resources: {kinds: [Pod]}}]}
          validate:
            message: one container uses the proxy
            pattern:
              spec:
                ^(containers):
                  - name: proxy
        - name: global
          match: {any: [{resources: {kinds: [Pod]}}]}
          validate:
            message: corp images need the pull secret
            pattern:
              spec:
                containers:
                  - <(image): "corp.io/*"
                imagePullSecrets:
                  - name: corp
    """)
    resources = pods(
        pod("clean", """
containers:
  - name: proxy
    image: nginx:1.27
volumes:
  - name: data
    emptyDir: {}
"""),
        pod("bad", """
hostNetwork: true
imagePullSecrets:
  - name: other
containers:
  - name: app
    image: corp.io/app:latest
    imagePullPolicy: IfNotPresent
volumes:
  - name: lib
    hostPath:
      path: /var/lib
"""))
    code, report = check(tmp_path, policy, resources)
    assert code == 1
    assert rows(report) == [
        ("bad", 7, "kyverno/pol/negation", "spec.hostNetwork"),
        ("bad", 9, "kyverno/pol/global", "spec.imagePullSecrets[0].name"),
        ("bad", 10, "kyverno/pol/existence", "spec.containers"),
        ("bad", 13, "kyverno/pol/conditional", "spec.containers[0].imagePullPolicy"),
        ("bad", 17, "kyverno/pol/equality", "spec.volumes[0].hostPath.path"),
    ]
    messages = {f["rule"]: f["message"] for f in report["findings"]}
    assert messages["kyverno/pol/equality"] == ("validation error: hostPath may not be /var/lib. rule equality "
                                                "failed at path /spec/volumes/0/hostPath/path/")


def test_wildcards_operators_and_empty_values(tmp_path: Path) -> None:
    policy = rule_policy("""
        - name: checks
          match: {any: [{resources: {kinds: [Deployment]}}]}
          validate:
            message: shape
            pattern:
              metadata:
                labels:
                  team: "?*"
                  tier: "front* | back*"
                  app.kubernetes.io/*: "?*"
              spec:
                replicas: "2-5"
                minReadySeconds: ">=10 & <60"
                revisionHistoryLimit: "!0"
                progressDeadlineSeconds: "600!-900"
                paused: null
                strategy:
                  rollingUpdate:
                    maxSurge: "<=2"
                template:
                  spec:
                    containers:
                      - resources:
                          limits:
                            memory: "<=1Gi"
                            cpu: "<1500m"
                    terminationGracePeriodSeconds: ""
    """)
    template = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    team: {team}
    tier: {tier}
    app.kubernetes.io/name: {appname}
spec:
  replicas: {replicas}
  minReadySeconds: {ready}
  revisionHistoryLimit: {history}
  progressDeadlineSeconds: {deadline}
  strategy:
    rollingUpdate:
      maxSurge: {surge}
  template:
    spec:
      containers:
        - name: app
          image: nginx:1.27
          resources:
            limits:
              memory: {memory}
              cpu: {cpu}
"""
    good = dict(name="good", team="shop", tier="frontend", appname="web", replicas=3, ready=30, history=5,
                deadline=300, surge=1, memory="512Mi", cpu="1")
    variants = {
        "team": '""', "tier": "database", "appname": '""', "replicas": 6, "ready": 60, "history": 0,
        "deadline": 700, "surge": 3, "memory": "1.5Gi", "cpu": "1500m",
    }
    docs = {"good": template.format(**good)}
    for key, value in variants.items():
        docs[f"bad-{key}"] = template.format(**{**good, "name": f"bad-{key}", key: value})
    code, report = check(tmp_path, policy, docs)
    assert code == 1
    got = {name: (line, field) for name, line, _, field in rows(report)}
    assert "good" not in got
    assert got == {
        "bad-team": (6, "metadata.labels.team"),
        "bad-tier": (7, "metadata.labels.tier"),
        "bad-appname": (8, "metadata.labels['app.kubernetes.io/name']"),
        "bad-replicas": (10, "spec.replicas"),
        "bad-ready": (11, "spec.minReadySeconds"),
        "bad-history": (12, "spec.revisionHistoryLimit"),
        "bad-deadline": (13, "spec.progressDeadlineSeconds"),
        "bad-surge": (16, "spec.strategy.rollingUpdate.maxSurge"),
        "bad-memory": (24, "spec.template.spec.containers[0].resources.limits.memory"),
        "bad-cpu": (25, "spec.template.spec.containers[0].resources.limits.cpu"),
    }


def test_missing_fields_null_and_anypattern(tmp_path: Path) -> None:
    policy = rule_policy("""
        - name: required
          match: {any: [{resources: {kinds: [Pod]}}]}
          validate:
            message: limits required
            pattern:
              spec:
                containers:
                  - resources:
                      limits:
                        memory: "*"
        - name: either
          match: {any: [{resources: {kinds: [Pod]}}]}
          validate:
            message: run as non-root
            anyPattern:
              - spec:
                  securityContext:
                    runAsNonRoot: true
              - spec:
                  containers:
                    - securityContext:
                        runAsNonRoot: true
    """)
    resources = pods(
        pod("pod-level", """
securityContext:
  runAsNonRoot: true
containers:
  - name: app
    image: nginx:1.27
    resources:
      limits:
        memory: ""
"""),
        pod("none", """
containers:
  - name: app
    image: nginx:1.27
"""))
    code, report = check(tmp_path, policy, resources)
    assert code == 1
    assert rows(report) == [
        ("none", 6, "kyverno/pol/either", "spec.securityContext"),
        ("none", 8, "kyverno/pol/required", "spec.containers[0].resources"),
    ]
    either = next(f for f in report["findings"] if f["rule"] == "kyverno/pol/either")
    assert "rule either[0] failed at path /spec/securityContext/" in either["message"]
    assert "rule either[1] failed at path /spec/containers/0/securityContext/" in either["message"]


def test_conditional_anchor_skips_and_audit_is_a_warning(tmp_path: Path) -> None:
    policy = rule_policy("""
        - name: docker-sock
          match: {any: [{resources: {kinds: [Pod]}}]}
          validate:
            message: docker.sock needs the label
            pattern:
              metadata:
                labels:
                  allow-docker: "true"
              (spec):
                (volumes):
                  - (hostPath):
                      path: /var/run/docker.sock
    """, action="Audit")
    sock = """
containers:
  - name: app
    image: docker:27
volumes:
  - name: sock
    hostPath:
      path: /var/run/docker.sock
"""
    resources = pods(pod("no-sock", "containers:\n  - name: app\n    image: nginx:1.27\n"),
                     pod("allowed", sock, labels="{allow-docker: 'true'}"), pod("denied", sock))
    code, report = check(tmp_path, policy, resources)
    assert code == 0  # Audit: a warning does not fail the run
    assert [(f["resource"]["name"], f["line"], f["severity"], f["field"]) for f in report["findings"]] == [
        ("denied", 5, "warning", "metadata.labels.allow-docker")]
