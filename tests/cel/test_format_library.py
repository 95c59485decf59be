"""Kubernetes' CEL format library, evaluated for real: every named format with Kubernetes' error texts,
``format.named``, the optional results, and the library in a CRD rule and an admission policy
through the CLI, at the object's line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gatekeeper import cel
from tests.conftest import run_json

pytestmark = pytest.mark.skipif(not cel.available(), reason="cel-expr-python needs Python 3.11+")

LABEL_ERROR = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
               "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
               "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
SUBDOMAIN_ERROR = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                   "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                   "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
QNAME_ERROR = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
               "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
               "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def errors(fmt: str, value: str) -> list[str]:
    """What ``format.<fmt>().validate(value)`` holds: [] for optional.none."""
    env = cel.environment(("self",))
    return list(env.compile(f"format.{fmt}().validate(self).orValue([])").evaluate({"self": value}))


@pytest.mark.parametrize(("fmt", "valid", "invalid"), [
    ("dns1123Label", ["my-name", "123-abc", "a"], ["My-Name", "-a", "a-", "a_b", "", "a" * 64]),
    ("dns1123Subdomain", ["apiextensions.k8s.io", "a", "a-b.c"], ["a..b", ".a", "A.b", "a" * 254]),
    ("dns1035Label", ["my-name", "abc-123"], ["1abc", "a.b", "a-"]),
    ("qualifiedName", ["MyName", "my.name", "example.com/MyName", "a_b"], ["/x", "a/b/c", "-a", "x/", "A.com/b"]),
    ("dns1123LabelPrefix", ["my-label-prefix-", "abc"], ["-", "My-"]),
    ("dns1123SubdomainPrefix", ["mysubdomain.prefix.-", "a.b-"], ["A.b-"]),
    ("dns1035LabelPrefix", ["my-label-prefix-"], ["1abc-"]),
    ("labelValue", ["", "MyValue", "my_value", "12345"], ["-a", "a b", "a" * 64]),
    ("uri", ["http://example.com", "/absolute/path", "https://h:8080/p?q=1"], ["", "example", "http://h:x/"]),
    ("uuid", ["123e4567-e89b-12d3-a456-426614174000", "123E4567E89B12D3A456426614174000"], ["nope", "123e4567"]),
    ("byte", ["aGVsbG8=", "", "aGVs\nbG8="], ["aGVsbG8", "a*b="]),
    ("date", ["2021-01-01", "2024-02-29"], ["2021-02-29", "2021-1-01", "2021-01-01T00:00:00Z"]),
    ("datetime", ["2021-01-01T00:00:00Z", "2021-01-01t10:20:30.5+02:00"], ["2021-01-01 00:00:00Z", "2021-01-01",
                                                                          "2021-01-01T24:00:00Z"]),
])
def test_each_format_accepts_and_refuses_as_kubernetes_does(fmt: str, valid: list[str], invalid: list[str]) -> None:
    for value in valid:
        assert errors(fmt, value) == [], (fmt, value)
    for value in invalid:
        assert errors(fmt, value), (fmt, value)


def test_error_texts_are_kubernetes_own() -> None:
    assert errors("dns1123Label", "My_Name") == [LABEL_ERROR]
    assert errors("dns1123Label", "a.b") == ["must not contain dots"]
    assert errors("dns1123Label", "a" * 64) == ["must be no more than 63 characters"]
    assert errors("dns1123Subdomain", "a..b") == [SUBDOMAIN_ERROR]
    assert errors("qualifiedName", "/x") == ["prefix part must be non-empty"]
    assert errors("qualifiedName", "x/") == ["name part must be non-empty", QNAME_ERROR]
    assert errors("qualifiedName", "a/b/c")[0].startswith("a qualified name must consist of alphanumeric")
    assert errors("uuid", "nope") == ["does not match the UUID format"]
    assert errors("byte", "aGVsbG8") == ["invalid base64"]
    assert errors("date", "2021-02-29") == ["invalid date"]
    assert errors("datetime", "x") == ["invalid datetime"]
    assert errors("uri", "") == ['parse "": empty url']
    assert errors("uri", "example") == ['parse "example": invalid URI for request']


def test_named_formats_and_optional_results() -> None:
    env = cel.environment(("self",))

    def run(expr: str, value: Any = "x") -> Any:
        return env.compile(expr).evaluate({"self": value})

    assert run("format.named('dns1123Label').hasValue() && !format.named('dns1123label').hasValue()") is True
    assert run("format.named('uuid').value().validate(self).hasValue()", "nope") is True
    assert run("format.named('uuid').value().validate(self).hasValue()", "123e4567-e89b-12d3-a456-426614174000") \
        is False
    assert run("format.named(self).hasValue()", "labelValue") is True
    # the rewrite leaves string literals alone and nests
    assert run("format.dns1123Label().validate('.validate(').value().size() == 1") is True
    assert run("format.named('uri').value().validate(format.named('x').hasValue() ? 'a' : '/b').hasValue()") \
        is False
    assert run("format.dns1123Label().validate(self).value().join('\\n')", "Bad") == LABEL_ERROR


def test_validate_on_what_is_not_a_format_does_not_compile() -> None:
    with pytest.raises(cel.CompileError) as err:
        cel.environment(("self",)).compile("'abc'.validate('x').hasValue()")
    assert "validate" in err.value.message and (err.value.line, err.value.column) == (1, 15)


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gateways.example.com
spec:
  group: example.com
  names: {kind: Gateway, plural: gateways}
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
                hostname:
                  type: string
                  x-kubernetes-validations:
                    - rule: "!format.dns1123Subdomain().validate(self).hasValue()"
                      messageExpression: "format.dns1123Subdomain().validate(self).value().join('; ')"
"""


def gateway(name: str, hostname: str) -> str:
    return f"---\napiVersion: example.com/v1\nkind: Gateway\nmetadata:\n  name: {name}\nspec:\n  hostname: {hostname}\n"


def test_a_crd_rule_with_the_format_library_flags_only_the_bad_value_at_its_line(tmp_path: Path) -> None:
    text = CRD + gateway("good", "api.example.com") + gateway("bad", "Api_Example")
    (tmp_path / "gw.yaml").write_text(text)
    code, report = run_json(str(tmp_path), "--checks", "schema")
    line = text.splitlines().index("  hostname: Api_Example") + 1
    found = [(f["line"], f["resource"]["name"], f["message"]) for f in report["findings"] if f["rule"] == "schema-cel"]
    assert code == 1
    assert found == [(line, "bad", SUBDOMAIN_ERROR)]


POLICY = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: label-values
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["configmaps"]
  validations:
    - expression: >-
        !has(object.metadata.labels) || object.metadata.labels.all(k,
        !format.labelValue().validate(object.metadata.labels[k]).hasValue())
      messageExpression: >-
        'label values must be valid: ' + object.metadata.labels.map(k,
        format.labelValue().validate(object.metadata.labels[k]).orValue([]))
        .filter(e, e.size() > 0).map(e, e[0]).join('; ')
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: label-values
spec:
  policyName: label-values
  validationActions: [Deny]
"""


def test_an_admission_policy_with_the_format_library_denies_at_the_object(tmp_path: Path) -> None:
    apps = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n  labels: {team: web}\n---\n"
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\n  labels: {team: -web}\n")
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "apps.yaml").write_text(apps)
    code, report = run_json(str(tmp_path), "--checks", "admission")
    found = [(f["path"], f["line"], f["resource"]["name"], f["message"]) for f in report["findings"]
             if f["check"] == "admission"]
    assert code == 1
    assert len(found) == 1
    path, line, name, message = found[0]
    assert (path, line, name) == ("apps.yaml", 11, "broken")  # the labels the expression reads
    assert message.startswith("label values must be valid: a valid label must be an empty string or consist of")
