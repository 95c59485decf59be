"""A manifest is not hidden by its name or by a role another file gives it (found by an audit through
the real CLI): a Pod saved as a lock file or a kubeadm patch name, or a file a kustomization names
as a patch that a Flux Kustomization / Argo CD Application applies as it is, is checked as a Pod."""

from __future__ import annotations

import json

from tests.conftest import run_cli, run_json
from tests.pr.conftest import Repo

POD = """{{"apiVersion": "v1", "kind": "Pod", "metadata": {{"name": "{name}", "namespace": "prod"}},
 "spec": {{"hostPID": true, "containers": [{{"name": "c", "image": "busybox:1.36",
   "securityContext": {{"privileged": true}}}}]}}}}
"""
POD_YAML = """
apiVersion: v1
kind: Pod
metadata: {name: evil, namespace: prod}
spec:
  hostPID: true
  containers:
    - name: c
      image: busybox:1.36
      securityContext: {privileged: true}
"""
FLUX = """
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: prod, namespace: flux-system}
spec:
  interval: 10m
  path: ./deploy
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
"""


def _privileged(report: dict[str, object]) -> list[tuple[str, int]]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return sorted((f["path"], f["line"]) for f in findings if f["rule"] == "privileged-container")


def test_objects_named_like_lock_files_or_kubeadm_patches_are_manifests(repo: Repo) -> None:
    names = ["pnpm-lock.yaml", "package-lock.json", "kube-apiserver0+merge.yaml"]
    for i, name in enumerate(names):
        repo.write(f"clusters/prod/{name}", POD.format(name=f"evil-{i}"))
    repo.write("clusters/prod/ui/package-lock.json", '{"name": "ui", "lockfileVersion": 3, "packages": {}}\n')
    repo.write("clusters/prod/ui/pnpm-lock.yaml", "lockfileVersion: '9.0'\nimporters: {}\n")
    repo.commit("base")
    code, report = run_json(str(repo.path), "--explain-files")
    assert code == 1
    # the privileged flag sits on line 3 of each JSON-in-YAML document
    assert _privileged(report) == sorted((f"clusters/prod/{n}", 3) for n in names)
    classes = {c["path"]: (c["class"], c["reason"]) for c in report["files"]}
    assert classes["clusters/prod/pnpm-lock.yaml"][0] == "manifest"
    assert "named like a dependency lock file" in classes["clusters/prod/pnpm-lock.yaml"][1]
    # real lock files (their tool's shape, no objects) stay lock files
    assert classes["clusters/prod/ui/package-lock.json"][0] == "lock-file"
    assert classes["clusters/prod/ui/pnpm-lock.yaml"][0] == "lock-file"


def test_a_kubeadm_patch_in_a_patches_directory_stays_a_tool_config_unless_flux_applies_it(repo: Repo) -> None:
    repo.write("cluster/patches/kube-apiserver+merge.yaml", POD_YAML)
    repo.commit("base")
    code, report = run_json(str(repo.path), "--explain-files")
    assert code == 0 and _privileged(report) == []
    repo.write("clusters/flux.yaml", FLUX.replace("./deploy", "./cluster"))
    repo.commit("flux applies ./cluster and its subdirectories")
    code, report = run_json(str(repo.path), "--explain-files")
    assert code == 1 and _privileged(report) == [("cluster/patches/kube-apiserver+merge.yaml", 9)]


def _patch_repo(repo: Repo, target: str) -> None:
    repo.write("deploy/pod.yaml", POD_YAML)
    repo.write("kustomization.yaml", f"""
        resources: [tools/cm.yaml]
        patches:
          - path: deploy/pod.yaml
            target: {target}
        """)
    repo.write("tools/cm.yaml", """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: tools, namespace: prod, labels: {app: tools}}
        data: {a: b}
        """)


def test_a_patch_whose_target_selects_nothing_is_checked_as_an_object(repo: Repo) -> None:
    _patch_repo(repo, "{kind: NoSuchKind}")
    repo.commit("base")
    code, report = run_json(str(repo.path), "--explain-files")
    assert code == 1 and _privileged(report) == [("deploy/pod.yaml", 9)]
    reason = {c["path"]: c["reason"] for c in report["files"]}["deploy/pod.yaml"]
    assert "its patch target selects no object" in reason
    # a label selector no object meets selects nothing either
    _patch_repo(repo, "{kind: ConfigMap, labelSelector: 'app=nothing'}")
    code, report = run_json(str(repo.path))
    assert code == 1 and _privileged(report) == [("deploy/pod.yaml", 9)]


def test_a_patch_whose_target_selects_an_object_is_a_patch(repo: Repo) -> None:
    _patch_repo(repo, "{kind: ConfigMap, labelSelector: 'app in (tools, x)'}")
    repo.commit("base")
    _code, report = run_json(str(repo.path), "--explain-files")
    assert _privileged(report) == []
    classes = {c["path"]: c["class"] for c in report["files"]}
    assert classes["deploy/pod.yaml"] == "kustomize-patch"


def test_a_patch_file_that_flux_applies_directly_is_checked_in_every_mode(repo: Repo) -> None:
    _patch_repo(repo, "{kind: ConfigMap, name: tools}")  # a real target: kustomize consumes it
    repo.write("clusters/flux.yaml", FLUX)
    repo.commit("base")
    code, report = run_json(str(repo.path), "--explain-files")
    assert code == 1 and _privileged(report) == [("deploy/pod.yaml", 9)]
    reason = {c["path"]: c["reason"] for c in report["files"]}["deploy/pod.yaml"]
    assert "applied as a plain manifest by Kustomization prod (clusters/flux.yaml)" in reason
    # the pull-request gate: the same file added in a change
    repo.write("deploy/pod.yaml", POD_YAML.replace("hostPID: true", "hostPID: true\n  hostIPC: true"))
    repo.commit("pr")
    code, out = run_cli("check", "--base", "HEAD~1", "--format", "json", str(repo.path))
    assert code == 1 and _privileged(json.loads(out)) == [("deploy/pod.yaml", 10)]


def test_an_argo_directory_source_applies_only_its_own_directory_unless_recursive(repo: Repo) -> None:
    _patch_repo(repo, "{kind: ConfigMap, name: tools}")
    repo.write("apps/app.yaml", """
        apiVersion: argoproj.io/v1alpha1
        kind: Application
        metadata: {name: prod, namespace: argocd}
        spec:
          project: default
          source: {repoURL: https://example.com/r.git, path: ., targetRevision: main}
          destination: {server: https://kubernetes.default.svc, namespace: prod}
        """)
    repo.commit("base")
    # the root holds a kustomization: Argo CD builds it, which consumes deploy/pod.yaml as a patch
    code, report = run_json(str(repo.path))
    assert _privileged(report) == []
    repo.write("apps/app.yaml", (repo.path / "apps/app.yaml").read_text().replace("path: .,", "path: deploy,"))
    code, report = run_json(str(repo.path), "--explain-files")
    assert code == 1 and _privileged(report) == [("deploy/pod.yaml", 9)]
    reason = {c["path"]: c["reason"] for c in report["files"]}["deploy/pod.yaml"]
    assert "applied as a plain manifest by Application prod (apps/app.yaml)" in reason
