"""ValidatingPolicy auto-generation for Pod controllers and policies.kyverno.io PolicyExceptions,
through the CLI, with fixtures written from Kyverno's ValidatingPolicy and exception documentation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gatekeeper import cel
from tests.conftest import run_cli, run_json

pytestmark = pytest.mark.skipif(not cel.available(), reason="the CEL engine needs Python 3.11+")

# the documentation's check-labels policy, on Pods
CHECK_LABELS = """
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: check-labels
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
      - apiGroups: ['']
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [pods]
{autogen}  validations:
    - message: label 'environment' is required
      expression: "'environment' in object.metadata.?labels.orValue([])"
    - messageExpression: "'pod of ' + object.metadata.name + ' runs as root'"
      expression: "object.spec.?securityContext.?runAsNonRoot.orValue(false) == true"
"""
POD = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: shop
  labels: {{{labels}}}
spec:
  securityContext: {{runAsNonRoot: {nonroot}}}
  containers:
    - name: app
      image: nginx:1.27
"""
DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: shop
  labels: {{environment: prod}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata:
      labels: {{{labels}}}
    spec:
      securityContext: {{runAsNonRoot: {nonroot}}}
      containers:
        - name: app
          image: nginx:1.27
"""
CRONJOB = """
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {name}
  namespace: shop
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        metadata:
          labels: {{{labels}}}
        spec:
          securityContext: {{runAsNonRoot: {nonroot}}}
          containers:
            - name: app
              image: nginx:1.27
          restartPolicy: Never
"""


def _write(tmp_path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def _rows(report: dict[str, object]) -> list[tuple[str, int, str, str, str | None]]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return sorted((Path(f["path"]).stem, f["line"], f["rule"], f["message"],
                   f["waived"]["reason"] if f["waived"] else None) for f in findings)


def test_pod_policy_applies_to_controllers_and_cronjobs_by_default(tmp_path: Path) -> None:
    _write(tmp_path, {
        "policies/vpol.yaml": CHECK_LABELS.format(autogen=""),
        "apps/pod.yaml": POD.format(name="web", labels="environment: prod", nonroot="false"),
        "apps/deploy.yaml": DEPLOY.format(name="api", labels="app: api", nonroot="true"),
        "apps/good.yaml": DEPLOY.format(name="good", labels="app: good, environment: prod", nonroot="true"),
        "apps/cron.yaml": CRONJOB.format(name="nightly", labels="environment: prod", nonroot="false"),
    })
    code, report = run_json("apps", "--policy", "policies", "--checks", "kyverno", cwd=tmp_path)
    assert code == 1
    # the Deployment is judged by its pod template (its own metadata has the label), and
    # object.metadata.name stays the controller's name
    assert _rows(report) == [
        ("cron", 1, "kyverno/check-labels/autogen-cronjobs-validations", "pod of nightly runs as root", None),
        ("deploy", 1, "kyverno/check-labels/autogen-validations", "label 'environment' is required", None),
        ("pod", 1, "kyverno/check-labels/validations", "pod of web runs as root", None),
    ]


def test_autogen_controllers_list_and_what_blocks_autogen(tmp_path: Path) -> None:
    only_deployments = "  autogen:\n    podControllers:\n      controllers: [deployments]\n"
    _write(tmp_path, {
        "policies/vpol.yaml": CHECK_LABELS.format(autogen=only_deployments),
        "apps/deploy.yaml": DEPLOY.format(name="api", labels="app: api", nonroot="true"),
        "apps/cron.yaml": CRONJOB.format(name="nightly", labels="app: x", nonroot="true"),
    })
    code, report = run_json("apps", "--policy", "policies", "--checks", "kyverno", cwd=tmp_path)
    assert code == 1
    assert [r[:3] for r in _rows(report)] == [("deploy", 1, "kyverno/check-labels/autogen-validations")]
    _write(tmp_path, {"policies/vpol.yaml": CHECK_LABELS.format(
        autogen="  autogen:\n    podControllers:\n      controllers: []\n")})
    code, report = run_json("apps", "--policy", "policies", "--checks", "kyverno", cwd=tmp_path)
    assert (code, report["findings"]) == (0, [])
    # an object selector keeps Kyverno from generating controller rules
    selector = "        resources: [pods]\n    objectSelector:\n      matchLabels: {app: api}\n"
    _write(tmp_path, {"policies/vpol.yaml": CHECK_LABELS.format(autogen="").replace(
        "        resources: [pods]\n", selector)})
    code, report = run_json("apps", "--policy", "policies", "--checks", "kyverno", cwd=tmp_path)
    assert (code, report["findings"]) == (0, [])


# the documentation's exception shape: a ValidatingPolicy named by policyRefs, CEL matchConditions
CEL_EXCEPTION = """
apiVersion: policies.kyverno.io/v1alpha1
kind: PolicyException
metadata:
  name: skip-legacy
  namespace: {ns}
spec:
  policyRefs:
    - name: check-labels
      kind: ValidatingPolicy
  matchConditions:
    - name: legacy-only
      expression: "object.metadata.name == 'legacy'"
"""


def test_cel_policy_exception_waives_only_from_exception_namespaces(tmp_path: Path) -> None:
    _write(tmp_path, {
        "policies/vpol.yaml": CHECK_LABELS.format(autogen=""),
        "apps/legacy.yaml": POD.format(name="legacy", labels="app: x", nonroot="true"),
        "apps/other.yaml": POD.format(name="other", labels="app: x", nonroot="true"),
        "apps/exception.yaml": CEL_EXCEPTION.format(ns="kyverno"),
    })
    code, report = run_json("apps", "--policy", "policies", "--checks", "kyverno", cwd=tmp_path)
    assert code == 1
    assert [r[4] for r in _rows(report)] == [None, None]  # exceptions are off until configured
    assert any("1 PolicyException(s) not honoured (kyverno/skip-legacy)" in n for n in report["notes"])
    (tmp_path / ".gatekeeper.yaml").write_text("checks:\n  kyverno:\n    exception_namespaces: [kyverno]\n")
    code, report = run_json("apps", "--policy", "policies", "--checks", "kyverno", cwd=tmp_path)
    assert code == 1
    assert _rows(report) == [
        ("legacy", 1, "kyverno/check-labels/validations", "label 'environment' is required",
         "PolicyException kyverno/skip-legacy"),
        ("other", 1, "kyverno/check-labels/validations", "label 'environment' is required", None),
    ]
    # a policyRef of another kind, or a matchCondition that errs, exempts nothing
    _write(tmp_path, {"apps/exception.yaml": CEL_EXCEPTION.format(ns="kyverno").replace(
        "kind: ValidatingPolicy", "kind: ImageValidatingPolicy")})
    code, report = run_json("apps", "--policy", "policies", "--checks", "kyverno", cwd=tmp_path)
    assert [r[4] for r in _rows(report)] == [None, None]
    _write(tmp_path, {"apps/exception.yaml": CEL_EXCEPTION.format(ns="kyverno").replace(
        "object.metadata.name == 'legacy'", "object.spec.missing.field == 'x'")})
    code, report = run_json("apps", "--policy", "policies", "--checks", "kyverno", cwd=tmp_path)
    assert [r[4] for r in _rows(report)] == [None, None]


def test_cel_policy_exception_images_are_not_honoured_offline(tmp_path: Path) -> None:
    _write(tmp_path, {
        "policies/vpol.yaml": CHECK_LABELS.format(autogen=""),
        "apps/legacy.yaml": POD.format(name="legacy", labels="app: x", nonroot="true"),
        "apps/exception.yaml": CEL_EXCEPTION.format(ns="kyverno") + "  images: ['nginx:*']\n",
        ".gatekeeper.yaml": "checks:\n  kyverno:\n    exception_namespaces: [kyverno]\n",
    })
    code, report = run_json("apps", "--policy", "policies", "--checks", "kyverno", cwd=tmp_path)
    assert code == 1
    assert [r[4] for r in _rows(report)] == [None]
    assert any("PolicyException(s) not honoured offline: kyverno/skip-legacy (images)" in n for n in report["notes"])


@pytest.mark.parametrize(("edit", "line", "message"), [
    (("  policyRefs:\n    - name: check-labels\n      kind: ValidatingPolicy\n", "  policyRefs: []\n"), 7,
     "spec.policyRefs must name at least one policy"),
    (("      kind: ValidatingPolicy\n", ""), 8, "each policyRef needs a name and a kind"),
    (("== 'legacy'", "== "), 12, "CEL expression does not compile"),
])
def test_bad_cel_policy_exception_is_a_load_error(tmp_path: Path, edit: tuple[str, str], line: int,
                                                  message: str) -> None:
    _write(tmp_path, {
        "policies/vpol.yaml": CHECK_LABELS.format(autogen=""),
        "policies/exception.yaml": CEL_EXCEPTION.format(ns="kyverno").replace(*edit),
        "apps/legacy.yaml": POD.format(name="legacy", labels="app: x", nonroot="true"),
    })
    code, out = run_cli("check", "apps", "--policy", "policies", "--checks", "kyverno", cwd=tmp_path)
    assert code == 2
    assert f"policies/exception.yaml:{line}: PolicyException skip-legacy: " in out and message in out
