"""A Flux Kustomization whose path has no kustomization: built as kustomize-controller builds it
(every YAML file below, subdirectories with a kustomization as a whole), with the Kustomization's
overrides applied, checked at the source lines; real kubectl kustomize, real git repositories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import run_cli, run_json
from tests.pr.conftest import Repo
from tests.render.conftest import CLEAN_DEPLOY, at, needs_kustomize, put

pytestmark = needs_kustomize

FLUX = """
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  targetNamespace: prod
  postBuild:
    substitute:
      replicas: "3"
      tag: "1.2.3"
"""
SUBSTITUTED = CLEAN_DEPLOY.replace("replicas: 2", "replicas: ${replicas}").replace("nginx:1.2.3", "nginx:${tag}")
PRIVILEGED = SUBSTITUTED.replace("runAsNonRoot: true", "runAsNonRoot: true\n            privileged: true")
FILES = {
    "clusters/prod/apps.yaml": FLUX,
    "apps/web/deploy.yaml": SUBSTITUTED,
    # a subdirectory with a kustomization is built as a whole: its namePrefix applies to its objects only
    "apps/extra/kustomization.yaml": "namePrefix: extra-\nresources: [cm.yaml]\n",
    "apps/extra/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {tag: '${tag}'}\n",
    "apps/.github/ci.yaml": "on: push\n",  # dot-directories are not part of the build
}


def resources(report: dict[str, Any]) -> set[tuple[str, str | None, str]]:
    return {(f["resource"]["kind"], f["resource"]["namespace"], f["resource"]["name"])
            for f in report["findings"] if f.get("resource")}


def test_a_flux_path_without_a_kustomization_is_built_with_the_overrides(tmp_path: Path) -> None:
    put(tmp_path, {**FILES, "apps/web/deploy.yaml": PRIVILEGED})
    code, report = run_json(str(tmp_path), "--checks", "schema,lint", "--fail-on", "error")
    assert code == 1
    # substituted: no "${replicas}" string where an integer belongs; the one error is at its line
    assert at(report, "schema-type") == []
    line = PRIVILEGED.lstrip("\n").splitlines().index("            privileged: true") + 1
    assert at(report, "privileged-container") == [("apps/web/deploy.yaml", line)]
    assert ("Deployment", "prod", "web") in resources(report)
    assert at(report, "render-unapplied") == []
    assert "rendered 1 of 1 deployment unit(s) into 2 object(s)" in " ".join(report["notes"])
    paths = {f["path"] for f in report["findings"]} | {o["path"] for f in report["findings"]
                                                      for o in f.get("origin", [])}
    assert all((tmp_path / p).is_file() for p in paths), paths  # every location is a file in the repository


def test_the_generated_build_names_subdirectory_kustomizations_as_wholes(tmp_path: Path) -> None:
    # the ConfigMap's integer value is a schema error on the rendered object: its name shows the
    # subdirectory's own namePrefix, its namespace the Kustomization's targetNamespace
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {tag: '${tag}', count: 3}\n"
    put(tmp_path, {**FILES, "apps/extra/cm.yaml": cm})
    listed_code, listed = run_cli("units", str(tmp_path), "--format", "json")
    assert listed_code == 0
    units = json.loads(listed)["units"]
    assert [(u["path"], u["found_by"]) for u in units] == [
        ("apps", ["Flux Kustomization at clusters/prod/apps.yaml:6"])]
    assert units[0]["inputs"] == ["apps/extra/cm.yaml", "apps/extra/kustomization.yaml", "apps/web/deploy.yaml",
                                  "clusters/prod/apps.yaml"]
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 1
    assert [(f["path"], f["line"], f["resource"]["namespace"], f["resource"]["name"]) for f in report["findings"]
            if f["rule"] == "schema-type"] == [("apps/extra/cm.yaml", 4, "prod", "extra-settings")]


def test_a_build_error_points_at_the_flux_path_line_not_at_a_file_git_does_not_have(tmp_path: Path) -> None:
    put(tmp_path, {**FILES, "apps/notes.yaml": "foo: bar\n"})  # Flux's build fails on it too
    code, report = run_json(str(tmp_path), "--checks", "schema")
    errors = [(f["path"], f["line"]) for f in report["findings"] if f["rule"] == "render-error"]
    assert code == 1
    assert errors == [("clusters/prod/apps.yaml", 6)]


def test_a_directory_another_kustomization_names_is_not_generated(tmp_path: Path) -> None:
    # kustomize refuses a base directory without a kustomization; a generated one must not hide that
    put(tmp_path, {**FILES, "overlays/prod/kustomization.yaml": "resources: [../../apps]\n"})
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 1
    assert ("overlays/prod/kustomization.yaml", 1) in at(report, "render-error")


def test_a_pull_request_changing_a_file_of_the_path_reports_the_rendered_unit(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    for rel, text in FILES.items():
        repo.write(rel, text)
    repo.commit("base")
    repo.write("apps/web/deploy.yaml", PRIVILEGED)
    repo.commit("privileged")
    code, report = run_json("--base", "HEAD~1", "--checks", "schema,lint", cwd=repo.path)
    line = PRIVILEGED.lstrip("\n").splitlines().index("            privileged: true") + 1
    assert code == 1
    assert at(report, "privileged-container") == [("apps/web/deploy.yaml", line)]
    assert at(report, "schema-type") == []
    assert ("Deployment", "prod", "web") in resources(report)


def test_a_path_in_another_source_is_not_generated(tmp_path: Path) -> None:
    # an OCI artifact holds its own tree at that path: the repository's directory is no build of it
    flux = FLUX.replace("sourceRef: {kind: GitRepository, name: flux-system}", "sourceRef: {kind: OCIRepository, "
                        "name: apps}")
    put(tmp_path, {**FILES, "clusters/prod/apps.yaml": flux})
    listed_code, listed = run_cli("units", str(tmp_path), "--format", "json")
    assert listed_code == 0 and json.loads(listed)["units"] == [
        {"name": "apps/extra", "kind": "kustomize", "path": "apps/extra", "found_by": ["root kustomization"],
         "values": [], "release": None, "namespace": None,
         "inputs": ["apps/extra/cm.yaml", "apps/extra/kustomization.yaml"]}]
