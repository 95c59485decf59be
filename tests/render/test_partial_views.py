"""Patches checked as partial objects (a unit on a remote base) are no whole objects of the cluster:
they stay out of the lint inventory (and the other cross-object views: Gatekeeper's inventory and
namespaces, CRDs the schema check learns, policies and bindings found in the tree). A patch that
deletes a ServiceAccount made the inventory believe the account existed and hid a finding."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_json
from tests.render.conftest import needs_kustomize, put

pytestmark = needs_kustomize

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: app
      containers: [{name: web, image: "nginx:1.2.3"}]
"""
DROP_SA = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: app, namespace: shop}
automountServiceAccountToken: false
$patch: delete
"""
REMOTE = "resources:\n  - https://github.com/example/platform//apps/web?ref=v1.2.0\npatches:\n  - path: drop-sa.yaml\n"
CONFIG = "version: 1\nrules:\n  automount-service-account-token: {enabled: true}\n"


def test_a_partial_object_does_not_stand_in_for_an_object_in_cross_object_rules(tmp_path: Path) -> None:
    put(tmp_path, {".gatekeeper.yaml": CONFIG, "apps/web.yaml": DEPLOY, "remote/kustomization.yaml": REMOTE,
                   "remote/drop-sa.yaml": DROP_SA})
    _, report = run_json(str(tmp_path), "--checks", "lint")
    found = [(f["path"], f["line"]) for f in report["findings"] if f["rule"] == "automount-service-account-token"]
    assert found == [("apps/web.yaml", 9)]


def test_a_whole_service_account_still_counts(tmp_path: Path) -> None:
    put(tmp_path, {".gatekeeper.yaml": CONFIG, "apps/web.yaml": DEPLOY,
                   "apps/sa.yaml": DROP_SA.replace("$patch: delete\n", "")})
    _, report = run_json(str(tmp_path), "--checks", "lint")
    assert [f for f in report["findings"] if f["rule"] == "automount-service-account-token"] == []
