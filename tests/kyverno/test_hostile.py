"""Hostile input for Kyverno evaluation: values and policies from the repository under review that
would take unbounded time or memory in a single operation. Each run is a real process with a
guard timeout, so a regression fails instead of hanging the suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT, run_subprocess
from tests.kyverno.helpers import rule_policy, write_tree

GUARD = 60.0  # far above what any of these runs needs once bounded (each takes a second or two)


def run(tmp_path: Path, policy: str, resources: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    write_tree(tmp_path, policy, resources)
    proc = run_subprocess("check", "apps", "--policy", "policies", "--checks", "kyverno", "--format", "json",
                          *args, cwd=tmp_path, timeout=GUARD)
    return proc.returncode, json.loads(proc.stdout)


def found(report: dict[str, Any]) -> list[tuple[str, int, str, str]]:
    return sorted((Path(f["path"]).stem, f["line"], f["rule"], f["field"]) for f in report["findings"])


def test_quantity_exponents_beyond_the_cel_range_are_not_quantities(tmp_path: Path) -> None:
    policy = rule_policy("""
        - name: mem-limit
          match: {any: [{resources: {kinds: [Pod]}}]}
          validate:
            message: memory limit too high
            pattern: {spec: {containers: [{resources: {limits: {memory: "<=2Gi"}}}]}}
        """, name="mem")
    pods = {name: f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: {name}, namespace: shop}}
        spec:
          containers:
            - name: c
              image: busybox:1.36
              resources:
                limits: {{memory: "{memory}"}}
        """ for name, memory in (("huge", "1e999999999"), ("tiny", "1e-999999999"), ("long", "1" * 5000),
                                 ("fine", "1e9"), ("edge", "1e-400"))}
    code, report = run(tmp_path, policy, pods)
    assert code == 1
    field = "spec.containers[0].resources.limits.memory"
    assert found(report) == [(name, 9, "kyverno/mem/mem-limit", field) for name in ("huge", "long", "tiny")]


def test_wildcards_match_in_linear_time_wherever_they_are_used(tmp_path: Path) -> None:
    wild = "*a" * 16 + "*b"
    policy = rule_policy(f"""
        - name: pattern
          match: {{any: [{{resources: {{kinds: [ConfigMap]}}}}]}}
          validate:
            message: bad name
            pattern: {{metadata: {{name: "{wild}"}}}}
        - name: names
          match: {{any: [{{resources: {{kinds: [ConfigMap], names: ["{wild}", "a?a*"]}}}}]}}
          exclude: {{any: [{{resources: {{namespaces: ["{wild}"], annotations: {{note: "{wild}"}}}}}}]}}
          validate:
            message: no ConfigMaps named like this
            deny: {{conditions: {{any: [{{key: "{{{{ request.object.metadata.name }}}}", operator: AnyIn,
                                        value: ["{wild}", "a*"]}}]}}}}
        """, name="names")
    long_name = "a" * 63
    resources = {"long": f"""
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {long_name}
          namespace: {"a" * 63}
          annotations: {{note: "{"a" * 20000}"}}
        data: {{a: b}}
        """, "good": """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: xab, namespace: shop}
        data: {a: b}
        """}
    code, report = run(tmp_path, policy, resources)
    assert code == 1
    assert found(report) == [("good", 3, "kyverno/names/pattern", "metadata.name"),
                             ("long", 1, "kyverno/names/names", ""),
                             ("long", 4, "kyverno/names/pattern", "metadata.name")]


def test_substituted_values_are_data_never_variables(tmp_path: Path) -> None:
    """A name holding ``{{ }}`` is printed as written (it used to be substituted again, doubling
    every round), and a message quoting an annotation does not evaluate the annotation."""
    library = PROJECT / "gatekeeper" / "library" / "policies" / "kyverno" / "best-practices"
    policy = (library / "restrict-loadbalancer" / "restrict-loadbalancer.yaml").read_text(encoding="utf-8")
    quoting = rule_policy("""
        - name: note
          match: {any: [{resources: {kinds: [ConfigMap]}}]}
          validate:
            message: "note {{ request.object.metadata.annotations.note }} is not allowed"
            deny: {conditions: {any: [{key: "{{ request.object.metadata.annotations.note || '' }}",
                                       operator: NotEquals, value: ""}]}}
        """, name="quote")
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "quote.yaml").write_text(quoting, encoding="utf-8")
    name = "lb{{ request.object.metadata.name }}{{ request.object.metadata.name }}"
    code, report = run(tmp_path, policy, {"svc": f"""
        apiVersion: v1
        kind: Service
        metadata:
          name: "{name}"
          namespace: shop
        spec:
          type: LoadBalancer
          selector: {{app: web}}
          ports: [{{port: 80}}]
        """, "cm": """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: c
          namespace: shop
          annotations: {note: "{{ request.object.data.pw }}"}
        data: {pw: hunter2-but-longer}
        """})
    assert code == 1
    messages = {Path(f["path"]).stem: (f["line"], f["rule"], f["message"]) for f in report["findings"]}
    assert messages == {
        "svc": (1, "kyverno/restrict-loadbalancer/no-loadbalancer", f"Service {name} may not be of type LoadBalancer."),
        "cm": (1, "kyverno/quote/note", "note {{ request.object.data.pw }} is not allowed"),
    }


def test_substitution_is_bounded_in_length(tmp_path: Path) -> None:
    big = "x" * 300_000
    v = "{{ request.object.data.v }}"
    policy = rule_policy(f"""
        - name: big
          match: {{any: [{{resources: {{kinds: [ConfigMap]}}}}]}}
          validate:
            message: "{v}{v}{v}"
            deny: {{conditions: {{any: [{{key: "{v}{v}{v}-{v}", operator: NotEquals, value: ""}}]}}}}
        """, name="big")
    code, report = run(tmp_path, policy, {"cm": f"""
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: c, namespace: shop}}
        data: {{v: "{big}"}}
        """})
    assert code == 1
    [finding] = report["findings"]
    assert (finding["line"], finding["rule"]) == (1, "kyverno-rule-error")
    assert "longer than 1048576 characters" in finding["message"]


def test_parse_yaml_has_the_loaders_alias_and_depth_bounds(tmp_path: Path) -> None:
    lol = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i in range(1, 9):
        lol += f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]\n"
    policy = rule_policy("""
        - name: r
          match: {any: [{resources: {kinds: [ConfigMap]}}]}
          validate:
            message: "config {{ parse_yaml(request.object.data.config) }} is not allowed"
            deny: {conditions: {any: [{key: "{{ parse_yaml(request.object.data.config).enabled || `false` }}",
                                       operator: Equals, value: false}]}}
        """, name="cfg")
    docs = {"bomb": lol, "deep": "[" * 500 + "]" * 500, "fine": "enabled: true\nat: 2024-01-01\n"}
    resources = {name: ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\ndata:\n"
                        f"  config: {json.dumps(text)}\n") for name, text in docs.items()}
    code, report = run(tmp_path, policy, resources)
    assert code == 1
    assert [(f["line"], f["rule"]) for f in report["findings"]] == [(1, "kyverno-rule-error")] * 2
    by_file = {Path(f["path"]).stem: f["message"] for f in report["findings"]}
    assert "more than 100000 nodes through aliases" in by_file["bomb"]
    assert "more than 100 levels deep" in by_file["deep"]


BURN = """
- name: nested
  match: {any: [{resources: {kinds: [Widget]}}]}
  validate:
    message: no
    foreach:
      - list: request.object.spec.items
        foreach:
          - list: request.object.spec.items
            deny: {conditions: {any: [{key: "{{ element }}", operator: Equals, value: -1}]}}
"""
WIDGET = ("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: shop}\nspec:\n"
          f"  items: {json.dumps(list(range(500)))}\n")
NAMED = """
- name: named
  match: {any: [{resources: {kinds: [Widget]}}]}
  validate:
    message: widgets are named x-something
    pattern: {metadata: {name: "x-*"}}
"""


def test_a_blown_cpu_time_limit_is_an_error_on_the_rule_and_the_run_goes_on(tmp_path: Path) -> None:
    """Kyverno evaluation runs in workers with the policy check's limits: work the rule budget
    allows (raised here) but the CPU-time limit does not is an error finding on the rule (Kyverno
    reports an error result for it), naming the resource; the rule is not run again, the other
    rules still judge every resource, and the run fails (exit 1)."""
    (tmp_path / ".gatekeeper.yaml").write_text("checks:\n  kyverno:\n    budget: 600\n", encoding="utf-8")
    (tmp_path / "policies").mkdir()
    (tmp_path / "apps").mkdir()
    (tmp_path / "policies" / "pol.yaml").write_text(rule_policy(NAMED + BURN, name="burn"), encoding="utf-8")
    for name in ("w", "v"):
        (tmp_path / "apps" / f"{name}.yaml").write_text(WIDGET.replace("name: w,", f"name: {name},"), encoding="utf-8")
    proc = run_subprocess("check", "apps", "--policy", "policies", "--checks", "kyverno", "--policy-timeout", "0.3",
                          "--format", "json", cwd=tmp_path, timeout=GUARD)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert not report["errors"]
    rows = sorted((f["path"], f["line"], f["rule"], f["severity"], f["field"]) for f in report["findings"])
    assert rows == [("policies/pol.yaml", 14, "kyverno-rule-error", "error", "spec.rules[1]"),
                    ("v.yaml", 3, "kyverno/burn/named", "error", "metadata.name"),
                    ("w.yaml", 3, "kyverno/burn/named", "error", "metadata.name")]
    [blown] = [f for f in report["findings"] if f["rule"] == "kyverno-rule-error"]
    assert blown["message"].startswith("kyverno/burn/nested exceeded an evaluation limit on ")
    assert ("evaluation used more than 0.3 s of CPU time (the policy loops or does unbounded work); raise the limit "
            "with --policy-timeout or checks.policy.timeout if it is only slow; the rule is not evaluated for the rest "
            "of this run") in blown["message"]



@pytest.mark.parametrize("command", ["check", "sync", "verify"])
def test_the_timeout_help_says_what_a_blown_limit_does_for_each_engine(command: str) -> None:
    """A blown CPU-time limit fails the run for Rego policies and tests (exit 2), but is a
    kyverno-rule-error finding for a Kyverno rule (the test above): the option's help says both."""
    import re

    from tests.conftest import run_cli

    code, out = run_cli(command, "--help")
    assert code == 0
    text = " ".join(out.split())
    help_text = re.search(r"--policy-timeout SECONDS (.*?)\[x>0\]", text)
    assert help_text is not None, text
    assert "exit 2" in help_text.group(1) and "kyverno-rule-error" in help_text.group(1)
    assert "CPU seconds" in help_text.group(1)


GROW = """
- name: big
  match: {any: [{resources: {kinds: [ConfigMap]}}]}
  validate:
    message: no
    deny: {conditions: {any: [{key: "{{ length(replace_all(request.object.data.v, 'x', request.object.data.v)) }}",
                               operator: Equals, value: 0}]}}
"""
LONG_CM = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, namespace: shop}}\ndata:\n  v: {'x' * 20000}\n"


def test_evaluation_runs_behind_the_memory_limit_in_check_and_verify(tmp_path: Path) -> None:
    """One allocation of 400 MB (a single operation no budget interrupts) passes under the default
    limit; under a lower one it is an error on the rule in the check (exit 1) and ends a kyverno
    test file's run (exit 2: the test cannot be decided)."""
    write_tree(tmp_path, rule_policy(GROW, name="grow"), {"cm": LONG_CM})
    proc = run_subprocess("check", "apps", "--policy", "policies", "--checks", "kyverno", "--policy-memory", "256",
                          "--format", "json", cwd=tmp_path, timeout=GUARD)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [finding] = json.loads(proc.stdout)["findings"]
    assert (finding["path"], finding["line"], finding["rule"], finding["severity"]) == (
        "policies/pol.yaml", 8, "kyverno-rule-error", "error")
    assert finding["message"].startswith("kyverno/grow/big exceeded an evaluation limit on cm.yaml (ConfigMap/shop/c): "
                                         "ran out of memory (the policy memory limit was reached)")
    (tmp_path / "policies" / "kyverno-test.yaml").write_text(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: grow}\npolicies: [pol.yaml]\n"
        "resources: [../apps/cm.yaml]\nresults:\n  - {policy: grow, rule: big, resources: [c], kind: ConfigMap, "
        "result: pass}\n", encoding="utf-8")
    proc = run_subprocess("verify", "policies", cwd=tmp_path, timeout=GUARD)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run_subprocess("verify", "policies", "--policy-memory", "256", cwd=tmp_path, timeout=GUARD)
    assert proc.returncode == 2
    assert "kyverno-test.yaml: kyverno test: ran out of memory (the policy memory limit was reached)" in \
        proc.stdout + proc.stderr


def test_an_expression_node_the_evaluator_lacks_is_a_rule_error_not_a_crash(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A node type the parser produces but the closure compiler has no builder for (as with a newer
    jmespath release) is a typed RuleError: the rule becomes a kyverno-rule-error at the resource,
    even in preconditions (where unresolved variables read as ""), never a traceback or a pass."""
    from gatekeeper.kyverno import jmes, jmesc
    from tests.conftest import run_json

    monkeypatch.delitem(jmesc._BUILDERS, "not_expression")
    jmesc.compile_ast.cache_clear()
    jmes.compiled.cache_clear()
    try:
        write_tree(tmp_path, rule_policy("""
            - name: gated
              match: {any: [{resources: {kinds: [ConfigMap]}}]}
              preconditions: {all: [{key: "{{ !request.object.data.off }}", operator: Equals, value: true}]}
              validate: {message: never, pattern: {data: {on: "?*"}}}
            """, name="neg"), {"cm": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {on: x}\n"})
        code, report = run_json("apps", "--policy", "policies", "--checks", "kyverno", cwd=tmp_path)
    finally:
        jmesc.compile_ast.cache_clear()
        jmes.compiled.cache_clear()
    assert code == 1
    [finding] = report["findings"]
    assert (finding["path"], finding["line"], finding["rule"]) == ("cm.yaml", 1, "kyverno-rule-error")
    assert "JMESPath expression node 'not_expression' is not supported" in finding["message"]


TOKEN = "ghp_" + "Zq8r3NfX2kLw9PvT4mHs7YcB1dJe6GuA0xRo"


@pytest.mark.parametrize("message", [
    "token {{ truncate(request.object.data.api_token, `20`) }} is not allowed",  # a cut token
    "{{ request.object.data.api_token }} " + "x" * 1200,  # a message cut after masking
])
def test_a_cut_secret_in_a_message_is_masked(tmp_path: Path, message: str) -> None:
    """Messages are masked before they are shortened, and for every run of 8 or more characters
    of a detected value: a token cut by the policy (truncate) or by the message bound never
    shows."""
    from tests.conftest import run_json

    write_tree(tmp_path, rule_policy(f"""
        - name: no-token
          match: {{any: [{{resources: {{kinds: [ConfigMap]}}}}]}}
          validate:
            message: "{message}"
            deny: {{}}
        """, name="tok"), {"cm": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\ndata:\n"
                                 f"  api_token: {TOKEN}\n"})
    code, report = run_json("apps", "--policy", "policies", "--checks", "kyverno", cwd=tmp_path)
    assert code == 1
    text = json.dumps(report)
    assert not any(TOKEN[i:i + 8] in text for i in range(len(TOKEN) - 7)), text
    finding = next(f for f in report["findings"] if f["rule"] == "kyverno/tok/no-token")
    assert finding["line"] == 1 and len(finding["message"]) <= 1000


def test_a_value_cut_by_the_message_bound_is_marked_and_masked(tmp_path: Path) -> None:
    """A message longer than the bound is cut with the report's cut mark (``masking.CUT``): a value
    detected elsewhere in the run (a Secret's password, not a secret where the ConfigMap holds it)
    cut short at the bound is still masked by the report's masking."""
    from gatekeeper.checks.secrets.masking import CUT
    from gatekeeper.kyverno.shape import MAX_MESSAGE
    from tests.conftest import run_json

    value = "Qw7tZp2mVx9kLr4s"
    pad = "x" * (MAX_MESSAGE - 10)  # the value starts 10 characters before the bound
    write_tree(tmp_path, rule_policy("""
        - name: quote
          match: {any: [{resources: {kinds: [ConfigMap]}}]}
          validate:
            message: "{{ request.object.data.pad }}{{ request.object.data.greeting }}"
            deny: {}
        """, name="tok"), {
        "cm": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\ndata:\n  pad: {pad}\n  greeting: {value}\n",
        "secret": f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData:\n  password: {value}\n"})
    code, report = run_json("apps", "--policy", "policies", "--checks", "kyverno,secrets", cwd=tmp_path)
    assert code == 1
    finding = next(f for f in report["findings"] if f["rule"] == "kyverno/tok/quote")
    assert finding["message"] == pad + "<redacted>" + CUT  # the value's cut prefix masked before the mark
    assert value[:4] not in json.dumps(report), finding["message"][-40:]
