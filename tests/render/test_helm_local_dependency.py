"""A chart that depends on another chart of the repository through ``file://`` without vendoring it
under ``charts/``: Argo CD and Flux build the dependency (``helm dependency build``) and deploy its
objects with the parent's values. The gate rendered the parent without it, silently (no object, no
finding); now the dependency is built into the render copy and its objects are located at the
dependency's own template lines."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_json
from tests.render.conftest import at, needs_helm, put

pytestmark = needs_helm

POD = """
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: x}
spec:
  containers:
    - name: c
      image: nginx:1.2.3
      securityContext: {privileged: {{ .Values.priv }}}
"""
APP = "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n  - name: lib\n    version: 0.1.0\n" \
      "    repository: file://../lib\n"


def _tree(root: Path, **extra: str) -> None:
    put(root, {"app/Chart.yaml": APP, "app/values.yaml": "lib:\n  priv: true\n",
               "lib/Chart.yaml": "apiVersion: v2\nname: lib\nversion: 0.1.0\n", "lib/values.yaml": "priv: false\n",
               "lib/templates/pod.yaml": POD, **extra})


def test_a_file_dependency_is_rendered_with_the_parents_values(tmp_path: Path) -> None:
    _tree(tmp_path)
    code, report = run_json(str(tmp_path), "--checks", "lint")
    assert at(report, "privileged-container") == [("lib/templates/pod.yaml", 8)]
    finding = next(f for f in report["findings"] if f["rule"] == "privileged-container")
    assert finding["unit"] == ["app"]
    assert code == 1


def test_a_vendored_dependency_is_used_as_it_is(tmp_path: Path) -> None:
    _tree(tmp_path, **{"app/charts/lib/Chart.yaml": "apiVersion: v2\nname: lib\nversion: 0.1.0\n",
                       "app/charts/lib/values.yaml": "priv: false\n",
                       "app/charts/lib/templates/pod.yaml": POD.replace("name: p,", "name: vendored,")})
    code, report = run_json(str(tmp_path), "--checks", "lint")
    assert at(report, "privileged-container") == [("app/charts/lib/templates/pod.yaml", 8)]
    assert code == 1
