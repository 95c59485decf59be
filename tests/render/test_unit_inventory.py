"""Cross-object rules over rendered units: one unit is one apply, so overlays for two clusters do not
conflict with each other, while the same host twice inside one unit does."""

from __future__ import annotations

import shutil
from pathlib import Path

from gatekeeper.rego.library import library_path
from tests.conftest import run_json
from tests.render.conftest import at, needs_kustomize, put

INGRESS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
spec:
  rules:
    - host: shop.example.com
"""


def _repo(root: Path, second_in_eu: bool) -> None:
    files = {
        "base/ingress.yaml": INGRESS.format(name="web"),
        "base/kustomization.yaml": "resources: [ingress.yaml]\n",
        "clusters/eu/kustomization.yaml": "resources: [../../base]\nnamespace: shop-eu\n",
        "clusters/us/kustomization.yaml": "resources: [../../base]\nnamespace: shop-us\n",
    }
    if second_in_eu:
        files["clusters/eu/kustomization.yaml"] = "resources: [../../base, admin.yaml]\nnamespace: shop-eu\n"
        files["clusters/eu/admin.yaml"] = INGRESS.format(name="admin")
    put(root, files)
    (root / "policy").mkdir()
    for name in ("template.yaml", "constraint.yaml"):
        shutil.copy(library_path() / "gatekeeper" / "unique-ingress-host" / name, root / "policy" / name)


@needs_kustomize
def test_two_clusters_defining_one_host_are_no_conflict(tmp_path: Path) -> None:
    _repo(tmp_path, second_in_eu=False)
    code, report = run_json(str(tmp_path), "--checks", "policy,lint")
    assert not [f for f in report["findings"] if f["check"] == "policy"]
    assert not at(report, "duplicate-object")
    assert code == 0


@needs_kustomize
def test_one_host_twice_inside_one_unit_conflicts(tmp_path: Path) -> None:
    _repo(tmp_path, second_in_eu=True)
    code, report = run_json(str(tmp_path), "--checks", "policy")
    assert code == 1
    found = [f for f in report["findings"] if f["check"] == "policy"]
    # both Ingresses of the eu unit, at the host line of each source file; the us unit is not involved
    assert sorted((f["path"], f["line"]) for f in found) == [("base/ingress.yaml", 7), ("clusters/eu/admin.yaml", 7)]
    assert all(f["unit"] == ["clusters/eu"] for f in found)
