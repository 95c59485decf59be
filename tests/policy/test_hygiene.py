"""Policy-side hygiene through the CLI: what is printed, what is read, what is refused, where."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_json, run_subprocess

Write = Callable[[str, str], Path]
SVC = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: LoadBalancer\n"
TEMPLATE = """apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8secho
spec:
  crd:
    spec:
      names:
        kind: K8sEcho
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8secho
{rego}
"""
CONSTRAINT = """apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sEcho
metadata:
  name: echo
spec:
  match:
    kinds: [{apiGroups: [""], kinds: ["ConfigMap", "Pod"]}]
"""


def _template(rego: str) -> str:
    return TEMPLATE.format(rego="\n".join(f"        {line}" for line in rego.strip().splitlines()))


def test_opa_url_credentials_are_never_printed(write: Write, tmp_path: Path) -> None:
    write("repo/svc.yaml", SVC)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://admin:hunter2secret@127.0.0.1:{port}/?token=tok3nvalue99"
    for fmt in ("json", "text"):
        proc = run_subprocess("check", str(tmp_path / "repo"), "--opa-url", url, "--checks", "policy",
                              "--format", fmt, cwd=tmp_path)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 2, out
        assert "hunter2secret" not in out and "tok3nvalue99" not in out and "admin" not in out
        assert f"http://127.0.0.1:{port}" in out
    bad = "ftp://admin:hunter2secret@host/?token=tok3nvalue99"
    proc = run_subprocess("check", str(tmp_path / "repo"), "--opa-url", bad, "--checks", "policy", cwd=tmp_path)
    assert proc.returncode == 2
    assert "hunter2secret" not in proc.stdout + proc.stderr and "ftp://host" in proc.stdout + proc.stderr


def test_mistyped_metadata_is_read_defensively(write: Write, tmp_path: Path) -> None:
    """``metadata: x`` on a Namespace crashed the policy loader with no file named."""
    write("repo/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: x\n")
    write("repo/crd.yaml", "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
                           "metadata: {name: a.b}\nspec: [x]\n")
    write("repo/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: [a]\ndata: {k: v}\n")
    write("pol/t.yaml", _template('violation[{"msg": "seen"}] { input.review.object.kind == "ConfigMap" }')
          + "---\n" + CONSTRAINT)
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert report["errors"] == []
    assert code == 1
    assert [(f["path"], f["rule"]) for f in report["findings"]] == [("cm.yaml", "policy/K8sEcho/echo")]


def test_secret_values_are_masked_from_other_objects_substrings_base64_and_print(write: Write,
                                                                                 tmp_path: Path) -> None:
    """A value the secrets check finds in one object leaked when another object's policy printed
    it: read from data.inventory, as a substring, base64-encoded, or through print()."""
    secret = "Zq8vN3xW2mK7pL9rT4yB6cD1"
    write("repo/app.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: shop}\nspec:\n"
                           "  containers:\n  - name: c\n    image: nginx:1\n"
                           f"    env: [{{name: DB_PASSWORD, value: {secret}}}]\n")
    write("repo/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: shop}\ndata: {k: v}\n")
    rego = """
violation[{"msg": msg, "details": {"b64": base64.encode(v)}}] {
  input.review.object.kind == "ConfigMap"
  pod := data.inventory.namespace[ns][_]["Pod"][_]
  v := pod.spec.containers[_].env[_].value
  print("value", v)
  msg := sprintf("seen %v, part %v", [v, substring(v, 3, 10)])
}
"""
    write("pol/t.yaml", _template(rego) + "---\n" + CONSTRAINT.replace('"ConfigMap", "Pod"', '"ConfigMap"'))
    proc = run_subprocess("check", str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks",
                          "policy", "--format", "json", cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    encoded = base64.b64encode(secret.encode()).decode()
    for leaked in (secret, secret[3:13], encoded, encoded[:12]):
        assert leaked not in out, leaked
    report = json.loads(proc.stdout)
    [finding] = [f for f in report["findings"] if f["check"] == "policy"]
    # the policy read the value already replaced (from another object, through the inventory)
    assert finding["message"] == "seen <redacted: 24 characters>, part dacted: 24 [K8sEcho/echo]"
    assert base64.b64encode(b"<redacted: 24 characters>").decode() in finding["hint"]
    assert "value <redacted: 24 characters>" in proc.stderr


SECRET = "Xk9qW2eR7tY5uI3oP1aS"
# ways a policy can transform a value before printing it: (Rego expression, the same in Python)
TRANSFORMS: list[tuple[str, Callable[[str], str]]] = [
    ("strings.reverse(v)", lambda v: v[::-1]),
    ("hex.encode(v)", lambda v: v.encode().hex()),
    ("upper(v)", str.upper),
    ("lower(v)", str.lower),
    ("base64.encode(base64.encode(v))", lambda v: base64.b64encode(base64.b64encode(v.encode())).decode()),
    ("base64url.encode(v)", lambda v: base64.urlsafe_b64encode(v.encode()).decode()),
    ("concat(\" \", [substring(v, 0, 7), substring(v, 7, 7), substring(v, 14, 7)])",
     lambda v: f"{v[:7]} {v[7:14]} {v[14:]}"),
    ("concat(\"-\", split(v, \"\"))", lambda v: "-".join(v)),
    ("replace(v, \"q\", \"Q\")", lambda v: v.replace("q", "Q")),
    ("urlquery.encode(concat(\"%\", [v]))", lambda v: "%25" + v),
    ("json.marshal([v, v])", lambda v: json.dumps([v, v])),
    ("sprintf(\"%x\", [v])", lambda v: v.encode().hex()),
]


def test_policies_see_detected_values_already_redacted_so_no_transformation_recovers_them(
        write: Write, tmp_path: Path) -> None:
    """Masking output by pattern was bypassed by any transformation (reverse, hex, upper, base64 of
    base64, 7-character pieces): policies now receive detected values replaced, in their own
    object, inside a longer string, and as copies in other objects."""
    write("repo/dep.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
          "spec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
          "    spec:\n      containers:\n        - name: web\n          image: nginx:1.2.3\n          env:\n"
          f"            - {{name: DB_PASSWORD, value: \"{SECRET}\"}}\n"
          f"            - {{name: DB_URL, value: \"postgres://app:{SECRET}@db:5432/shop\"}}\n")
    write("repo/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: copy, namespace: shop}\n"
          f"data: {{note: \"{SECRET}\"}}\n")
    rules = "\n".join(f'deny contains msg if {{ some v in values; msg := sprintf("t{i} %v", [{expr}]) }}'
                      for i, (expr, _) in enumerate(TRANSFORMS))
    write("repo/policies/main.rego", f"""package main
import rego.v1
values contains v if {{ input.kind == "Deployment"; v := input.spec.template.spec.containers[_].env[_].value }}
values contains v if {{ input.kind == "ConfigMap"; v := input.data.note }}
{rules}
deny contains msg if {{
  some e in input.spec.template.spec.containers[_].env
  contains(upper(e.name), "PASSWORD")
  is_string(e.value)
  msg := sprintf("%v is a literal; use secretKeyRef", [e.name])
}}
""")
    proc = run_subprocess("check", "repo", "--checks", "policy", "--format", "json", cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    for expr, transform in TRANSFORMS:
        for part in transform(SECRET).split():
            assert part not in out, expr
    assert SECRET[:4] not in out and SECRET[-4:] not in out
    messages = {f["message"] for f in json.loads(proc.stdout)["findings"]}
    marker = "<redacted: 20 characters>"
    # what the policies received: the marker, in every object, and inside the connection string
    assert "t0 " + marker[::-1] in messages and "t2 " + marker.upper() in messages
    assert f"t2 POSTGRES://APP:{marker.upper()}@DB:5432/SHOP" in messages
    assert sum(m == "t3 " + marker for m in messages) == 1  # Deployment and ConfigMap alike
    # a policy that forbids credential literals still sees a literal
    assert "DB_PASSWORD is a literal; use secretKeyRef" in messages


def test_integer_beyond_64_bits_is_a_finding_on_its_field(write: Write, tmp_path: Path) -> None:
    write("repo/big.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big, namespace: a}\n"
                           "binaryData: {}\nextra:\n  count: 123456789012345678901234567890\n")
    write("pol/t.yaml", _template('violation[{"msg": "seen"}] { true }') + "---\n" + CONSTRAINT)
    write("pol/main.rego", "package main\nimport rego.v1\ndeny contains \"x\" if input.nothing\n")
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert report["errors"] == [], report["errors"]
    assert code == 1
    [finding] = report["findings"]
    assert (finding["rule"], finding["path"], finding["line"], finding["field"]) == \
        ("policy-input", "big.yaml", 6, "extra.count")
    assert "integer beyond 64 bits" in finding["message"]


def test_discovered_directory_without_policies_is_a_note_not_an_error(write: Write, tmp_path: Path) -> None:
    """A top-level policies/ folder holding another tool's YAML made every run exit 2."""
    write("repo/policies/opa-config.yaml", "services: {bundle: {url: https://example.test}}\n")
    write("repo/app.yaml", SVC)
    code, report = run_json(str(tmp_path / "repo"), "--checks", "schema,policy", cwd=tmp_path / "repo")
    assert code == 0, report
    assert "policy: inactive (policies/ holds no Rego module and no ConstraintTemplate, so it is not used as a " \
           "policy directory)" in report["notes"]
    code, report = run_json(str(tmp_path / "repo"), "--checks", "policy", "--policy",
                            str(tmp_path / "repo" / "policies"), cwd=tmp_path / "repo")
    assert code == 2 and "loads no rules" in report["errors"][0]["message"]
    write("repo/.gatekeeper.yaml", "checks:\n  policy:\n    paths: [policies]\n")
    code, report = run_json(str(tmp_path / "repo"), "--checks", "policy", cwd=tmp_path / "repo")
    assert code == 2 and "loads no rules" in report["errors"][0]["message"]


def test_discovered_directory_with_rego_is_used(write: Write, tmp_path: Path) -> None:
    write("repo/policy/main.rego", 'package main\nimport rego.v1\ndeny contains "svc" if input.kind == "Service"\n')
    write("repo/app.yaml", SVC)
    code, report = run_json(str(tmp_path / "repo"), "--checks", "policy", cwd=tmp_path / "repo")
    assert code == 1 and [f["rule"] for f in report["findings"]] == ["policy/main/deny"]


@pytest.mark.parametrize(("api", "said"), [
    ("constraint.gatekeeper.sh/v1beta1", "apiVersion group is 'constraint.gatekeeper.sh', not "
                                         "'constraints.gatekeeper.sh'; it would never be enforced"),
    ("constraints.gatekeeper.sh/v2", "constraint K8sEcho has unknown version 'v2'"),
])
def test_misspelt_constraint_group_is_an_error(write: Write, tmp_path: Path, api: str, said: str) -> None:
    write("repo/svc.yaml", SVC)
    write("pol/t.yaml", _template('violation[{"msg": "x"}] { true }'))
    write("pol/c.yaml", CONSTRAINT.replace("constraints.gatekeeper.sh/v1beta1", api))
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert code == 2
    assert report["errors"][0]["message"].startswith("pol/c.yaml:1: ") or "c.yaml:1: " in report["errors"][0]["message"]
    assert said in report["errors"][0]["message"]


@pytest.mark.parametrize(("mutate", "said"), [
    (lambda t: t.replace("  crd:\n    spec:\n      names:\n        kind: K8sEcho",
                         "  crd:\n    - spec: {names: {kind: K8sEcho}}"),
     "t.yaml:6: ConstraintTemplate spec.crd must be a mapping, not a list"),
    (lambda t: t.replace("        kind: K8sEcho", "        kind: K8sEcho\n      validation:\n        openAPIV3Schema:\n"
                         "          properties:\n            a: {$ref: '#/properties/a'}"),
     "t.yaml:13: the parameters schema uses $ref"),
    (lambda t: t.replace("  targets:\n", "  targets: x\n  ignored:\n"), "t.yaml:10: ConstraintTemplate spec.targets "
                                                                       "must be a list, not a string"),
])
def test_malformed_templates_are_load_errors_with_file_and_line(write: Write, tmp_path: Path,
                                                                mutate: Callable[[str], str], said: str) -> None:
    write("repo/svc.yaml", SVC)
    write("pol/t.yaml", mutate(_template('violation[{"msg": "x"}] { true }')))
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert code == 2, report
    assert said in report["errors"][0]["message"], report["errors"]


def test_bad_match_scope_is_a_load_error_at_its_line(write: Write, tmp_path: Path) -> None:
    write("repo/svc.yaml", SVC)
    write("pol/t.yaml", _template('violation[{"msg": "x"}] { true }'))
    write("pol/c.yaml", CONSTRAINT + "    scope: Everywhere\n")
    code, report = run_json(str(tmp_path / "repo"), "--policy", str(tmp_path / "pol"), "--checks", "policy")
    assert code == 2
    assert "c.yaml:8: constraint K8sEcho/echo: spec.match.scope: 'Everywhere' is not one of" in \
        report["errors"][0]["message"]
