"""ValidatingAdmissionPolicies see detected secret values redacted, as Rego and Kyverno policies do: a
messageExpression that transformed a Secret's value (a substring, split and joined) printed it past
the output masking, which only knows the value as written; with the secrets check not selected the
value was printed as is."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper import cel
from tests.conftest import run_cli
from tests.secrets.fakes import password

pytestmark = pytest.mark.skipif(not cel.available(), reason="cel-expr-python needs Python 3.11+")

VAP = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: show}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["secrets"]}]
  validations:
    - expression: "false"
      messageExpression: "'sd=' + object.stringData.password.substring(1)"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: show}
spec: {policyName: show, validationActions: [Deny]}
"""


@pytest.mark.parametrize("checks", ["admission", "admission,secrets"])
def test_a_message_expression_cannot_print_a_secret(tmp_path: Path, checks: str) -> None:
    secret = password()
    (tmp_path / "vap.yaml").write_text(VAP)
    (tmp_path / "s.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: x}\n"
                                     f"stringData: {{password: \"{secret}\"}}\n")
    code, out = run_cli("check", "--checks", checks, str(tmp_path))
    assert "admission-denied" in out
    assert secret[1:] not in out and secret[1:8] not in out
    assert code == 1


CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: creds.example.com}
spec:
  group: example.com
  names: {kind: Cred, plural: creds, singular: cred, listKind: CredList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                password: {type: string}
              x-kubernetes-validations:
                - rule: "false"
                  messageExpression: "'pw=' + self.password.substring(1)"
"""


def test_a_crd_rule_message_cannot_print_a_secret(tmp_path: Path) -> None:
    secret = password()
    (tmp_path / "crd.yaml").write_text(CRD)
    (tmp_path / "c.yaml").write_text(f"apiVersion: example.com/v1\nkind: Cred\nmetadata: {{name: c, namespace: x}}\n"
                                     f"spec:\n  password: \"{secret}\"\n")
    code, out = run_cli("check", "--checks", "schema,secrets", str(tmp_path))
    assert "schema-cel" in out
    assert secret[1:] not in out and secret[1:8] not in out
    assert code == 1


def test_one_run_scans_for_redaction_once_and_every_check_still_redacts(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The schema check's CRD rules and the admission check share the run's redaction scan (the
    first that needs it does it); each still sees the detected values redacted."""
    import importlib

    redact = importlib.import_module("gatekeeper.checks.policy.redact")  # (the package exports a function "redact")
    calls: list[int] = []
    real = redact.scan

    def counted(documents: object) -> redact.Scanned:
        calls.append(1)
        return real(documents)  # type: ignore[arg-type]

    monkeypatch.setattr(redact, "scan", counted)
    secret, other = password(), password()
    (tmp_path / "crd.yaml").write_text(CRD)
    (tmp_path / "vap.yaml").write_text(VAP)
    (tmp_path / "c.yaml").write_text(f"apiVersion: example.com/v1\nkind: Cred\nmetadata: {{name: c, namespace: x}}\n"
                                     f"spec:\n  password: \"{secret}\"\n")
    (tmp_path / "s.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: x}\n"
                                     f"stringData: {{password: \"{other}\"}}\n")
    code, out = run_cli("check", "--checks", "schema,admission", str(tmp_path))
    assert "schema-cel" in out and "admission-denied" in out
    for value in (secret, other):
        assert value[1:] not in out and value[1:8] not in out
    assert code == 1
    assert calls == [1]
