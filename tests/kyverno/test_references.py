"""``$(...)`` references to other fields of a pattern and ``{{@}}`` (the field's current value),
through the CLI, with fixtures written from Kyverno's variables documentation."""

from __future__ import annotations

from pathlib import Path

from tests.kyverno.helpers import check, rows, rule_policy

# the documentation's check-tcpSocket rule: the liveness port must equal the readiness port, "3000"
TCP_SOCKET = """
- name: check-tcpSocket
  match: {any: [{resources: {kinds: [Pod]}}]}
  validate:
    message: "Port number for the livenessProbe must be less than that of the readinessProbe."
    pattern:
      spec:
        ^(containers):
          - livenessProbe:
              tcpSocket:
                port: "$(./../../../readinessProbe/tcpSocket/port)"
            readinessProbe:
              tcpSocket:
                port: "3000"
"""
PROBED = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
    - name: app
      image: nginx:1.27
      livenessProbe:
        tcpSocket:
          port: {liveness}
      readinessProbe:
        tcpSocket:
          port: 3000
"""


def test_reference_to_another_field_of_the_pattern(tmp_path: Path) -> None:
    docs = {"same": PROBED.format(name="same", liveness=3000), "other": PROBED.format(name="other", liveness=8080)}
    code, report = check(tmp_path, rule_policy(TCP_SOCKET), docs)
    assert code == 1
    # the existence anchor fails at the list when no element matches
    assert rows(report) == [("other", 6, "kyverno/pol/check-tcpSocket", "spec.containers")]
    # an operator in front of the reference compares with the referenced value: "less than 3000"
    less = TCP_SOCKET.replace('"$(./', '"$(<./')
    docs = {"lower": PROBED.format(name="lower", liveness=2999), "same": PROBED.format(name="same", liveness=3000)}
    (tmp_path / "b").mkdir()
    code, report = check(tmp_path / "b", rule_policy(less), docs)
    assert code == 1
    assert rows(report) == [("same", 6, "kyverno/pol/check-tcpSocket", "spec.containers")]


def test_escaped_and_unresolved_references(tmp_path: Path) -> None:
    escaped = """
- name: literal
  match: {any: [{resources: {kinds: [ConfigMap]}}]}
  validate:
    message: the value is written literally
    pattern:
      data:
        command: "\\\\$(HOME)/run"
"""
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  command: '{value}'\n"
    docs = {"ok": cm.format(name="ok", value="$(HOME)/run"), "bad": cm.format(name="bad", value="/root/run")}
    code, report = check(tmp_path, rule_policy(escaped), docs)
    assert code == 1
    assert rows(report) == [("bad", 6, "kyverno/pol/literal", "data.command")]
    dangling = TCP_SOCKET.replace("readinessProbe/tcpSocket/port)", "startupProbe/tcpSocket/port)")
    (tmp_path / "b").mkdir()
    code, report = check(tmp_path / "b", rule_policy(dangling), {"same": PROBED.format(name="same", liveness=3000)})
    assert code == 1
    assert [(f["rule"], f["line"]) for f in report["findings"]] == [("kyverno-rule-error", 1)]
    assert "does not resolve to a field of the pattern" in report["findings"][0]["message"]


def test_current_value_in_a_pattern(tmp_path: Path) -> None:
    lower = """
- name: lower-case-name
  match: {any: [{resources: {kinds: [ConfigMap]}}]}
  validate:
    message: names are lower case
    pattern:
      metadata:
        name: "{{ to_lower('{{@}}') }}"
"""
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata: {{}}\n"
    code, report = check(tmp_path, rule_policy(lower), {"ok": cm.format(name="web"), "bad": cm.format(name="Web")})
    assert code == 1
    assert rows(report) == [("bad", 4, "kyverno/pol/lower-case-name", "metadata.name")]
    in_foreach = """
- name: each
  match: {any: [{resources: {kinds: [Pod]}}]}
  validate:
    message: x
    foreach:
      - list: request.object.spec.containers
        pattern:
          name: "{{@}}"
"""
    (tmp_path / "b").mkdir()
    code, report = check(tmp_path / "b", rule_policy(in_foreach), {"same": PROBED.format(name="same", liveness=3000)})
    assert code == 1
    assert [f["rule"] for f in report["findings"]] == ["kyverno-rule-error"]
    assert "{{@}} in a foreach pattern" in report["findings"][0]["message"]
