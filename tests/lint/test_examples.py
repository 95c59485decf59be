"""Every lint rule's documented examples, run through the real pipeline.

The bad example must trigger the rule at the exact line of the offending field, the good one
must not trigger it, and an ignore annotation on the reported object must waive it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.checks.lint.registry import RULES
from tests.lint.helpers import line_of, of_rule, run

# rule id -> the lines (needle, occurrence) of the bad example each finding must point at.
EXPECTED: dict[str, list[tuple[str, int]]] = {
    "privileged-container": [("privileged: true", 1)],
    "privilege-escalation": [("- name: web", 1)],
    "run-as-root": [("runAsUser: 0", 1)],
    "run-as-non-root": [("- name: web", 1)],
    "readonly-root-filesystem": [("- name: web", 1)],
    "host-network": [("hostNetwork: true", 1)],
    "host-pid": [("hostPID: true", 1)],
    "host-ipc": [("hostIPC: true", 1)],
    "dangerous-capabilities": [("add: [SYS_ADMIN]", 1)],
    "net-raw-not-dropped": [("- name: web", 1)],
    "host-path": [("hostPath:", 1)],
    "host-port": [("hostPort: 8080", 1)],
    "unsafe-sysctls": [("name: kernel.msgmax", 1)],
    "proc-mount-unmasked": [("procMount: Unmasked", 1)],
    "automount-service-account-token": [("spec:", 1)],
    "deprecated-service-account": [("serviceAccount: web", 1)],
    "seccomp-profile": [("- name: web", 1)],
    "image-latest": [("image: registry.example.com/shop/web:latest", 1)],
    "image-untagged": [("image: registry.example.com/shop/web", 1)],
    "image-digest": [("image: registry.example.com/shop/web:1.4.2", 1)],
    "duplicate-env": [("- name: MODE", 2)],
    "cpu-requests": [("- name: web", 1)],
    "memory-requests": [("- name: web", 1)],
    "memory-limit": [("resources:", 1)],
    "cpu-limit": [("limits:", 1)],
    "added-capabilities": [("add: [NET_BIND_SERVICE, CHOWN]", 1)],
    "image-pull-policy": [("imagePullPolicy: IfNotPresent", 1)],
    "rbac-escalation-verbs": [("verbs: [get, create, bind, escalate]", 1), ("verbs: [get, create, bind, escalate]", 1)],
    "no-network-policy": [("labels:", 1)],
    "liveness-probe": [("- name: web", 1)],
    "readiness-probe": [("- name: web", 1)],
    "probe-port": [("port: healthz", 1)],
    "selector-mismatch": [("selector:", 1)],
    "single-replica": [("replicas: 1", 1)],
    "missing-pdb": [("replicas: 3", 1)],
    "pdb-blocks-eviction": [("minAvailable: 2", 1)],
    "job-ttl": [("spec:", 1)],
    "cronjob-starting-deadline": [("spec:", 1)],
    "duplicate-object": [("name: web", 2)],
    "namespace-required": [("metadata:", 1)],
    "dangling-service": [("selector:", 2)],
    "ingress-backend-missing": [("name: web-svc", 1)],
    "nodeport-service": [("type: NodePort", 1)],
    "ingress-tls": [("spec:", 1)],
    "rbac-wildcard": [('resources: ["*"]', 1), ('verbs: ["*"]', 1)],
    "cluster-admin-binding": [("name: cluster-admin", 1)],
    "rbac-secrets-read": [("resources: [secrets]", 1)],
    "rbac-pods-exec": [("resources: [pods, pods/exec]", 1)],
}
ALL_ON = {rule_id: {"enabled": True} for rule_id in RULES}


def test_every_rule_has_an_expectation() -> None:
    assert set(EXPECTED) == set(RULES)


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_bad_example_triggers_at_the_field_line(rule_id: str, tmp_path: Path) -> None:
    bad = RULES[rule_id].meta.bad_example
    report = run(tmp_path, {"bad.yaml": bad}, rules=ALL_ON)
    assert not report.errors
    found = of_rule(report, rule_id)
    assert found, f"{rule_id}: the bad example does not trigger the rule"
    assert sorted(f.line for f in found) == sorted(line_of(bad, n, k) for n, k in EXPECTED[rule_id])
    for f in found:
        assert f.path == "bad.yaml" and f.resource is not None and f.field


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_good_example_does_not_trigger(rule_id: str, tmp_path: Path) -> None:
    report = run(tmp_path, {"good.yaml": RULES[rule_id].meta.good_example}, rules=ALL_ON)
    assert not report.errors
    assert of_rule(report, rule_id) == []


def _annotate(text: str, document: int, rule_id: str) -> str:
    """Add an ignore annotation (with a reason) to the top-level metadata of one document."""
    docs = text.split("---\n")
    offset = 1 if docs[0] == "" else 0
    lines = docs[document + offset].splitlines(keepends=True)
    at = lines.index("metadata:\n") + 1
    lines[at:at] = ["  annotations:\n", f"    gatekeeper.io/ignore: {rule_id}\n",
                    "    gatekeeper.io/ignore-reason: accepted for the test\n"]
    docs[document + offset] = "".join(lines)
    return "---\n".join(docs)


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_annotation_waives_the_rule(rule_id: str, tmp_path: Path) -> None:
    bad = RULES[rule_id].meta.bad_example
    first = run(tmp_path / "a", {"bad.yaml": bad}, rules=ALL_ON)
    text = bad
    for document in sorted({f.resource.document for f in of_rule(first, rule_id) if f.resource}):
        text = _annotate(text, document, rule_id)
    report = run(tmp_path / "b", {"bad.yaml": text}, rules=ALL_ON)
    found = of_rule(report, rule_id)
    assert found and all(f.waived is not None and f.waived.reason == "accepted for the test" for f in found)
    assert all(not f.counts for f in found)


def test_every_rule_is_documented() -> None:
    for lint_rule in RULES.values():
        meta = lint_rule.meta
        assert meta.summary and meta.rationale and meta.hint, meta.id
        assert meta.bad_example and meta.good_example, meta.id
        assert meta.id == meta.id.lower() and " " not in meta.id
    assert len(RULES) >= 30
