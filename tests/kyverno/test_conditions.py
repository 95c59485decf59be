"""Preconditions and deny conditions through the CLI: every documented operator, any/all blocks,
variables (unresolved ones are an error in deny, empty in preconditions), message substitution."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kyverno.helpers import check, rule_policy

CM = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
  labels:
    tier: backend
data:
  count: "5"
  size: 1500Mi
  timeout: 90s
  version: 1.4.2
  teams: '["shop", "pay"]'
  flag: "true"
"""

# (operator, key, value, holds)
CASES = [
    ("Equals", "{{ request.object.data.count }}", "5", True),
    ("Equals", "{{ request.object.data.size }}", "1.5Gi", False),
    ("Equals", "{{ request.object.data.size }}", "1500Mi", True),
    ("Equals", "{{ request.object.data.timeout }}", "1m30s", True),
    ("Equals", "{{ request.object.metadata.name }}", "sett*", True),
    ("NotEquals", "{{ request.object.metadata.name }}", "other", True),
    ("In", ["a"], ["a", "b"], True),
    ("NotIn", ["a", "c"], ["a", "b"], True),
    ("AnyIn", "{{ request.object.data.teams }}", ["pay", "ops"], False),  # a string key is one value
    ("AnyIn", "{{ parse_json(request.object.data.teams) }}", ["pay", "ops"], True),
    ("AnyIn", ["x", "y"], ["pay", "ops"], False),
    ("AllIn", ["shop", "pay"], "{{ request.object.data.teams }}", True),
    ("AllIn", ["shop", "ops"], "{{ request.object.data.teams }}", False),
    ("AnyNotIn", ["shop", "ops"], "{{ request.object.data.teams }}", True),
    ("AllNotIn", ["ops", "dev"], "{{ request.object.data.teams }}", True),
    ("AllNotIn", ["ops", "pay"], "{{ request.object.data.teams }}", False),
    ("AnyIn", "{{ request.object.data.count }}", ["1-10"], True),
    ("AnyIn", "{{ request.object.metadata.name }}", ["set*"], True),
    ("GreaterThan", "{{ request.object.data.count }}", 4, True),
    ("GreaterThan", "{{ request.object.data.size }}", "1Gi", True),
    ("GreaterThanOrEquals", "{{ request.object.data.size }}", "2Gi", False),
    ("LessThan", "{{ request.object.data.version }}", "1.10.0", True),
    ("LessThanOrEquals", "{{ request.object.data.timeout }}", "90s", True),
    ("DurationGreaterThan", "{{ request.object.data.timeout }}", "1m", True),
    ("DurationGreaterThanOrEquals", "{{ request.object.data.timeout }}", 90, True),
    ("DurationLessThan", "{{ request.object.data.timeout }}", "1m", False),
    ("DurationLessThanOrEquals", "{{ request.object.data.timeout }}", "2m", True),
    ("Equals", "{{ to_boolean(request.object.data.flag) }}", True, True),
]


def _yaml(value: object) -> str:
    import json
    return json.dumps(value)


def test_every_operator(tmp_path: Path) -> None:
    rules = []
    for i, (op, key, value, _) in enumerate(CASES):
        rules.append(f"""
- name: c{i}
  match: {{any: [{{resources: {{kinds: [ConfigMap]}}}}]}}
  validate:
    message: "case {i}"
    deny:
      conditions:
        all:
          - key: {_yaml(key)}
            operator: {op}
            value: {_yaml(value)}
""")
    _code, report = check(tmp_path, rule_policy("".join(rules)), {"cm": CM})
    denied = {f["rule"].rsplit("/", 1)[1] for f in report["findings"]}
    expected = {f"c{i}" for i, case in enumerate(CASES) if case[3]}
    assert sorted(denied) == sorted(expected), [CASES[int(n[1:])] for n in denied ^ expected]
    assert all(f["line"] == 1 and f["field"] == "" for f in report["findings"])  # a deny fails at the object


def test_preconditions_any_all_and_unresolved_variables(tmp_path: Path) -> None:
    policy = rule_policy("""
        - name: only-backend
          match: {any: [{resources: {kinds: [ConfigMap]}}]}
          preconditions:
            any:
              - key: "{{ request.object.metadata.labels.tier }}"
                operator: Equals
                value: frontend
              - key: "{{ request.object.metadata.labels.missing }}"
                operator: Equals
                value: ""
            all:
              - key: "{{ request.operation }}"
                operator: AnyIn
                value: [CREATE, UPDATE]
          validate:
            message: >-
              {{ request.object.metadata.name }} in {{ request.namespace }}
              has {{ request.object.data.count }} items
            deny: {}
        - name: unresolved-in-deny
          match: {any: [{resources: {kinds: [ConfigMap]}}]}
          validate:
            message: never shown
            deny:
              conditions:
                any:
                  - key: "{{ request.object.metadata.labels.missing }}"
                    operator: Equals
                    value: x
        - name: skipped
          match: {any: [{resources: {kinds: [ConfigMap]}}]}
          preconditions:
            all:
              - key: "{{ request.object.metadata.labels.tier }}"
                operator: Equals
                value: frontend
          validate:
            message: never
            deny: {}
    """)
    code, report = check(tmp_path, policy, {"cm": CM})
    assert code == 1
    got = {f["rule"]: f for f in report["findings"]}
    assert set(got) == {"kyverno/pol/only-backend", "kyverno-rule-error"}
    assert got["kyverno/pol/only-backend"]["message"] == "settings in shop has 5 items"
    error = got["kyverno-rule-error"]
    assert error["severity"] == "error" and error["line"] == 1
    assert error["message"].startswith("kyverno/pol/unresolved-in-deny: variable {{request.object.metadata.labels"
                                       ".missing}} could not be resolved")


@pytest.mark.parametrize(("expression", "expected"), [
    ("add('1Gi', '512Mi')", "1536Mi"),
    ("subtract('2h', '1800s')", "1h30m0s"),  # '30m' would be 30 milli: a quantity
    ("multiply('250m', `4`)", "1"),
    ("divide('10Mi', '5Ki')", 2048),
    ("modulo(`7`, `3`)", 1),
    ("round(`2.567`, `2`)", 2.57),
    ("sum(['1Gi', '1Gi'])", "2Gi"),
    ("compare('a', 'b')", -1),
    ("equal_fold('Shop', 'sHOP')", True),
    ("replace('a-b-c', '-', '.', `1`)", "a.b-c"),
    ("replace_all('a-b-c', '-', '.')", "a.b.c"),
    ("to_upper('x')", "X"),
    ("trim('--x--', '-')", "x"),
    ("trim_prefix('v1.2', 'v')", "1.2"),
    ("split('a,b', ',')", ["a", "b"]),
    ("truncate('abcdef', `3`)", "abc"),
    ("regex_match('^[0-9]+$', '123')", True),
    ("regex_replace_all('([a-z]+)-([0-9]+)', 'ab-12', '$2-$1')", "12-ab"),
    ("regex_replace_all_literal('[0-9]', 'a1b2', '$1')", "a$1b$1"),
    ("pattern_match('ng*', 'nginx')", True),
    ("base64_encode('hi')", "aGk="),
    ("base64_decode('aGk=')", "hi"),
    ("parse_json('{\"a\": [1]}').a[0]", 1),
    ("parse_yaml('a: b').a", "b"),
    ("items({b: `2`, a: `1`}, 'k', 'v')[0].k", "a"),
    ("object_from_lists(['a', 'b'], [`1`])", {"a": 1, "b": None}),
    ("label_match({app: 'web'}, {app: 'web', tier: 'fe'})", True),
    ("lookup({a: 'x'}, 'a')", "x"),
    ("lookup(['x', 'y'], `1`)", "y"),
    ("semver_compare('1.4.2', '>=1.0.0 <2.0.0')", True),
    ("path_canonicalize('/a/../b//c/')", "/b/c"),
    ("image_normalize('nginx')", "docker.io/nginx:latest"),
    ("time_add('2024-01-01T00:00:00Z', '36h')", "2024-01-02T12:00:00Z"),
    ("time_diff('2024-01-01T00:00:00Z', '2024-01-01T01:30:00Z')", "1h30m0s"),
    ("time_before('2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z')", True),
    ("time_between('2024-01-02T00:00:00Z', '2024-01-01T00:00:00Z', '2024-01-03T00:00:00Z')", True),
    ("time_truncate('2024-01-01T10:45:12Z', '1h')", "2024-01-01T10:00:00Z"),
    ("time_to_cron('2024-01-07T10:45:00Z')", "45 10 7 1 0"),
    ("time_parse('2006-01-02', '2024-03-05')", "2024-03-05T00:00:00Z"),
    ("time_utc('2024-01-01T02:00:00+02:00')", "2024-01-01T00:00:00Z"),
    ("sha256('a')", "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"),
    ("to_boolean('TRUE')", True),
])
def test_kyverno_functions(expression: str, expected: object) -> None:
    from gatekeeper.kyverno import jmes

    assert jmes.search(expression, {}) == expected


def test_function_errors_and_budget() -> None:
    from gatekeeper.kyverno import jmes
    from gatekeeper.kyverno.errors import BudgetExceeded, Deadline, RuleError

    for bad in ("divide(`1`, `0`)", "add('1Gi', '1h')", "base64_decode('!!')", "regex_match('(', 'x')",
                "is_external_url('https://example.com')", "no_such_function(`1`)"):
        with pytest.raises(RuleError):
            jmes.search(bad, {})
    assert jmes.search("is_external_url('http://10.0.0.1/x')", {}) is False
    big = {"items": list(range(200_000))}
    with pytest.raises(BudgetExceeded):
        jmes.search("items[?@ > `-1`] | [?@ > `-1`] | [?@ > `-1`]", big, Deadline(0.0001))
