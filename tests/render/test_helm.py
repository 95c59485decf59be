"""Helm charts rendered for real (the Helm SDK, or helm): findings at values and template lines."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_json
from tests.render.conftest import FIXTURES, at, copy_fixture, needs_helm, put

pytestmark = needs_helm
FIXTURE = FIXTURES / "chart"

APP = """
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web-prod, namespace: argocd}
spec:
  project: default
  source:
    repoURL: https://git.example.com/platform/gitops.git
    path: web
    helm:
      releaseName: web
      valueFiles: [values-prod.yaml]
  destination: {server: https://kubernetes.default.svc, namespace: prod}
"""


def test_a_chart_of_the_usual_shape_renders_and_is_clean(tmp_path: Path) -> None:
    copy_fixture("chart", tmp_path)
    code, report = run_json(str(tmp_path))
    assert code == 0, report["findings"]
    assert report["errors"] == []
    kinds = sorted(s for s in report.get("subjects", []))  # not in every format; count instead
    assert report["summary"]["resources"] == 3 or kinds  # Deployment, Service, ServiceAccount
    assert any("rendered 1 of 1 deployment unit(s) into 3 object(s)" in n for n in report["notes"])


def test_values_that_set_privileged_fail_at_the_values_line_and_the_template_line(tmp_path: Path) -> None:
    copy_fixture("chart", tmp_path)
    put(tmp_path, {"apps/web-prod.yaml": APP})
    code, report = run_json(str(tmp_path))
    assert code == 1
    found = [f for f in report["findings"] if f["rule"] == "privileged-container"]
    assert len(found) == 1
    f = found[0]
    assert (f["path"], f["line"]) == ("web/values-prod.yaml", 7)  # privileged: true
    assert {"path": "web/templates/deployment.yaml", "line": 25, "role": "template"} in f["origin"]
    assert f["unit"] == ["web (Argo CD Application at apps/web-prod.yaml:6)"]
    # values-prod turns the HPA and the Ingress on: their conditionals render and are checked
    assert report["summary"]["resources"] >= 3 + 5


def test_a_template_value_without_values_points_at_the_template(tmp_path: Path) -> None:
    copy_fixture("chart", tmp_path)
    template = tmp_path / "web/templates/deployment.yaml"
    template.write_text(template.read_text().replace("automountServiceAccountToken: false",
                                                     "automountServiceAccountToken: false\n      hostPID: true"))
    code, report = run_json(str(tmp_path))
    assert code == 1
    assert at(report, "host-pid") == [("web/templates/deployment.yaml", 21)]


def test_a_template_error_is_a_finding_at_the_template_line(tmp_path: Path) -> None:
    copy_fixture("chart", tmp_path)
    (tmp_path / "web/templates/service.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Values.missing.deeper }}\n")
    code, report = run_json(str(tmp_path))
    assert code == 1
    errors = [f for f in report["findings"] if f["rule"] == "render-error"]
    assert [(f["path"], f["line"]) for f in errors] == [("web/templates/service.yaml", 4)]
    assert "nil pointer" in errors[0]["message"] or "missing" in errors[0]["message"]
    # the chart's files are then checked as files: the values file, nothing hidden
    assert report["errors"] == []


def test_lookup_renders_offline(tmp_path: Path) -> None:
    copy_fixture("chart", tmp_path)
    (tmp_path / "web/templates/cm.yaml").write_text(
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: found\n'
        'data:\n  found: {{ (lookup "v1" "Namespace" "" "kube-system") | len | quote }}\n')
    code, report = run_json(str(tmp_path))
    assert code == 0, report["findings"]
    assert any("into 4 object(s)" in n for n in report["notes"])


def test_sync_publishes_a_chart_as_it_renders(tmp_path: Path) -> None:
    from tests.sync.gitrepo import BRANCH, commit, init, rev, show, sync

    repo = init(tmp_path / "src")
    files = {str(p.relative_to(FIXTURE)): p.read_text() for p in FIXTURE.rglob("*") if p.is_file()}
    commit(repo, files, "chart")
    code, out = sync(repo, "--path", "web")
    assert code == 0, out
    manifest = show(repo, BRANCH, "web/manifest.yaml")
    assert "kind: Deployment" in manifest and "{{" not in manifest and "config.kubernetes.io/origin" not in manifest
    files["web/values.yaml"] = files["web/values.yaml"].replace("allowPrivilegeEscalation: false",
                                                                "allowPrivilegeEscalation: false\n  privileged: true")
    before = rev(repo, BRANCH)
    commit(repo, files, "privileged")
    code, out = sync(repo, "--path", "web")
    assert code == 1 and "web/values.yaml:" in out and "privileged-container" in out
    assert rev(repo, BRANCH) == before
