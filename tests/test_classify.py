"""The file classifier: lock files, tool configs, kustomize inputs, Helm files and manifests each
get only the checks that fit them, through the real CLI on trees shaped like real repositories."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import run_cli, run_json

Write = Callable[[str, str], Path]

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
"""


def _sri(i: int, algo: str = "sha512") -> str:
    digest = hashlib.new(algo, str(i).encode()).digest()
    return f"{algo}-{base64.b64encode(digest).decode()}"


def npm_lock(entries: int = 120, registry: str = "https://registry.npmjs.org") -> str:
    """A package-lock.json v3 in npm's own shape (integrity values are sha512 SRI hashes)."""
    packages: dict[str, object] = {"": {"name": "web", "version": "1.0.0", "dependencies": {"left-pad": "^1.3.0"}}}
    for i in range(entries):
        packages[f"node_modules/pkg-{i}"] = {
            "version": f"1.{i}.0", "resolved": f"{registry}/pkg-{i}/-/pkg-{i}-1.{i}.0.tgz",
            "integrity": _sri(i) if i % 7 else f"{_sri(i, 'sha1')} {_sri(i)}", "dev": i % 2 == 0}
    return json.dumps({"name": "web", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
                       "packages": packages}, indent=2)


def jsonnet_lock() -> str:
    """A jsonnetfile.lock.json as jsonnet-bundler writes it (``sum`` is base64 of a sha256)."""
    deps = [{"source": {"git": {"remote": f"https://github.com/example/lib-{i}.git", "subdir": "jsonnet"}},
             "version": hashlib.sha1(str(i).encode()).hexdigest(),
             "sum": base64.b64encode(hashlib.sha256(str(i).encode()).digest()).decode()} for i in range(21)]
    return json.dumps({"version": 1, "dependencies": deps, "legacyImports": False}, indent=2)


def _classes(report: dict[str, object]) -> dict[str, str]:
    files = report["files"]
    assert isinstance(files, list)
    return {f["path"]: f["class"] for f in files}


def test_npm_and_jsonnet_lock_files_give_no_finding(write: Write, tmp_path: Path) -> None:
    write("web/package-lock.json", npm_lock())
    write("jsonnet/jsonnetfile.lock.json", jsonnet_lock())
    write("jsonnet/jsonnetfile.json", '{"version": 1, "dependencies": []}')
    write("deploy.yaml", DEPLOYMENT)
    _code, report = run_json(str(tmp_path), "--checks", "secrets,schema,lint", "--explain-files")
    assert [f for f in report["findings"] if f["path"] != "deploy.yaml"] == []
    classes = _classes(report)
    assert classes["web/package-lock.json"] == "lock-file"
    assert classes["jsonnet/jsonnetfile.lock.json"] == "lock-file"
    assert classes["jsonnet/jsonnetfile.json"] == "tool-config"
    assert classes["deploy.yaml"] == "manifest"
    assert report["summary"]["classes"] == {"lock-file": 2, "manifest": 1, "tool-config": 1}


def test_lock_file_still_reports_token_families(write: Write, tmp_path: Path) -> None:
    """A private registry URL with a password, or a provider token, cannot be a hash."""
    lock = npm_lock(10, registry="https://ci-bot:Zq8vN3xR7pL2wK9m@npm.example.com/repository")
    write("package-lock.json", lock)
    code, report = run_json(str(tmp_path), "--checks", "secrets")
    rules = {(f["rule"], f["line"]) for f in report["findings"]}
    lines = lock.splitlines()
    expected = {i + 1 for i, line in enumerate(lines) if "ci-bot:" in line}
    assert rules == {("secret-url-password", n) for n in expected} and code == 1
    assert "Zq8vN3xR7pL2wK9m" not in json.dumps(report)


def test_sri_and_checksum_values_are_safe_in_any_file(write: Write, tmp_path: Path) -> None:
    """The same hashes in a plain data file or a ConfigMap are no finding either."""
    write("cm.yaml", f"""
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: assets}}
        data:
          integrity: {_sri(1)}
          script-hash: "{_sri(2, 'sha384')}"
          sum: {base64.b64encode(hashlib.sha256(b'x').digest()).decode()}
        """)
    write("data/assets.yaml", f"bundle:\n  integrity: {_sri(3)}\n  checksum: "
                              f"{base64.b64encode(hashlib.sha256(b'y').digest()).decode()}\n")
    code, report = run_json(str(tmp_path), "--checks", "secrets")
    assert report["findings"] == [] and code == 0


def test_a_random_value_under_a_checksum_key_that_is_not_a_hash_length_is_still_reported(
        write: Write, tmp_path: Path) -> None:
    value = "Vq3Rb8nK2xZ7pL0wT5yH9cJ4mF6gD1sA8eU"  # 35 characters: no digest has this length
    write("data/app.yaml", f"app:\n  sum: {value}\n")
    _code, report = run_json(str(tmp_path), "--checks", "secrets")
    assert [(f["rule"], f["line"]) for f in report["findings"]] == [("secret-high-entropy", 2)]


def test_transformer_configs_named_by_a_kustomization_are_not_objects(write: Write, tmp_path: Path) -> None:
    write("app/kustomization.yaml", """
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        resources: [deploy.yaml]
        transformers: [labels.yaml, prefix.yaml]
        generators: [gen.yaml]
        configurations: [crd-fields.yaml]
        """)
    write("app/deploy.yaml", DEPLOYMENT)
    write("app/labels.yaml", """
        apiVersion: builtin
        kind: LabelTransformer
        metadata:
          name: team-labels
        labels:
          team: shop
        fieldSpecs:
          - path: metadata/labels
            create: true
        """)
    write("app/prefix.yaml", """
        apiVersion: example.com/v1
        kind: PrefixSuffixTransformer
        metadata:
          name: prefix
        prefix: shop-
        fieldSpecs:
          - path: metadata/name
        """)
    write("app/gen.yaml", """
        apiVersion: builtin
        kind: ConfigMapGenerator
        metadata:
          name: settings
        literals: [LOG_LEVEL=info]
        """)
    write("app/crd-fields.yaml", "namePrefix:\n  - path: spec/target\n    kind: Widget\n")
    # as files (rendering would refuse the non-builtin transformer: plugins never run)
    _code, report = run_json(str(tmp_path), "--checks", "schema,lint,secrets", "--explain-files", "--render", "none")
    assert {f["path"] for f in report["findings"]} == {"app/deploy.yaml"}  # only the real object
    classes = _classes(report)
    assert {p: classes[p] for p in ("app/labels.yaml", "app/prefix.yaml", "app/gen.yaml",
                                     "app/crd-fields.yaml")} == dict.fromkeys(
        ("app/labels.yaml", "app/prefix.yaml", "app/gen.yaml", "app/crd-fields.yaml"), "kustomize-config")
    assert classes["app/kustomization.yaml"] == "kustomization"
    assert report["summary"]["resources"] == 1


def test_a_builtin_transformer_config_is_recognised_without_a_reference(write: Write, tmp_path: Path) -> None:
    write("transformers/labels.yaml", "apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n"
                                      "  name: x\nlabels: {a: b}\n")
    _code, report = run_json(str(tmp_path), "--explain-files")
    assert report["findings"] == [] and _classes(report) == {"transformers/labels.yaml": "kustomize-config"}


def test_kind_kubeadm_and_kubeadm_patches_are_tool_configs(write: Write, tmp_path: Path) -> None:
    write("cluster/kind.yaml", """
        kind: Cluster
        apiVersion: kind.x-k8s.io/v1alpha4
        nodes:
          - role: control-plane
            kubeadmConfigPatches:
              - |
                kind: InitConfiguration
                nodeRegistration:
                  kubeletExtraArgs:
                    node-labels: "ingress-ready=true"
          - role: worker
        """)
    write("cluster/kubeadm.yaml", """
        apiVersion: kubeadm.k8s.io/v1beta3
        kind: InitConfiguration
        patches:
          directory: tweaks
        ---
        apiVersion: kubeadm.k8s.io/v1beta3
        kind: ClusterConfiguration
        kubernetesVersion: v1.30.0
        """)
    pod_patch = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: kube-apiserver
          namespace: kube-system
        spec:
          containers:
            - name: kube-apiserver
              resources:
                requests:
                  cpu: 300m
        """
    write("cluster/tweaks/kube-apiserver.yaml", pod_patch)  # named by patches.directory
    write("cluster/patches/etcd+merge.yaml", pod_patch.replace("kube-apiserver", "etcd"))
    write("cluster/kube-scheduler0+json.json", '[{"op": "add", "path": "/spec/priority", "value": 1}]')
    code, report = run_json(str(tmp_path), "--explain-files")
    assert report["findings"] == [] and code == 0
    assert set(_classes(report).values()) == {"tool-config"}
    assert report["summary"]["resources"] == 0
    assert any("5 object(s) in files that are not manifests" in n and "5 in tool config files" in n
               for n in report["notes"])


def test_an_etcd_statefulset_named_etcd_yaml_stays_a_manifest(write: Write, tmp_path: Path) -> None:
    """Only a patch-type suffix, a patches directory or a kubeadm reference makes a kubeadm patch."""
    write("db/etcd.yaml", DEPLOYMENT.replace("web", "etcd"))
    _code, report = run_json(str(tmp_path), "--checks", "lint", "--explain-files")
    assert _classes(report) == {"db/etcd.yaml": "manifest"} and report["findings"]


def test_ci_and_tool_configs_get_only_the_secrets_check(write: Write, tmp_path: Path) -> None:
    write(".github/workflows/ci.yml", """
        name: ci
        on: [push]
        jobs:
          deploy:
            runs-on: ubuntu-latest
            env:
              DEPLOY_TOKEN: ghp_R4nd0mT0k3nV4lu3F0rT3st1ngOnly123456
            steps:
              - uses: actions/checkout@v4
        """)
    write(".fluxschema.yml", "schemas:\n  - kind: HelmRelease\n    url: https://example.com/helmrelease.json\n")
    write(".pre-commit-config.yaml", "repos:\n  - repo: https://github.com/adrienverge/yamllint\n"
                                     "    rev: v1.35.1\n    hooks:\n      - id: yamllint\n")
    write("renovate.json", '{"extends": ["config:recommended"], "kubernetes": {"fileMatch": ["\\\\.yaml$"]}}')
    write("skaffold.yaml", "apiVersion: skaffold/v4beta6\nkind: Config\nmetadata:\n  name: web\n"
                           "build:\n  artifacts:\n    - image: web\n")
    write("policies/conftest.rego", "package main\n\ndeny contains msg if {\n  input.name\n  msg := \"x\"\n}\n")
    write("settings.yaml", "name: plain data\n")  # data files still reach conftest rules
    _code, report = run_json(str(tmp_path), "--policy", str(tmp_path / "policies"), "--explain-files")
    assert sorted((f["path"], f["rule"], f["line"]) for f in report["findings"]) == [
        (".github/workflows/ci.yml", "secret-github-token", 7), ("settings.yaml", "policy/main/deny", 1)]
    classes = _classes(report)
    assert {classes[p] for p in (".github/workflows/ci.yml", ".fluxschema.yml", ".pre-commit-config.yaml",
                                 "renovate.json", "skaffold.yaml")} == {"tool-config"}


def test_a_tool_config_with_a_custom_tag_is_a_warning_not_a_failed_run(write: Write, tmp_path: Path) -> None:
    write(".gitlab-ci.yml", ".base:\n  script: [make]\njob:\n  script:\n    - !reference [.base, script]\n")
    write(".github/workflows/release.yml", "name: release\n{% if publish %}\non: [push]\n{% endif %}\n")
    code, report = run_json(str(tmp_path))
    [finding] = report["findings"]
    assert (finding["path"], finding["rule"], finding["severity"], finding["line"]) == (
        ".github/workflows/release.yml", "parse-error", "warning", 2)
    assert "GitHub configuration" in finding["message"] and "secrets were not checked" in finding["message"]
    assert code == 0


def test_helm_chart_files_and_values(write: Write, tmp_path: Path) -> None:
    write("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n")
    write("charts/web/values.yaml", "image:\n  repository: nginx\n  tag: latest\nmetadata:\n  name: x\n"
                                    "spec:\n  replicas: 2\n")
    write("charts/web/values.schema.json", '{"$schema": "https://json-schema.org/draft-07/schema#", '
                                           '"type": "object"}')
    write("envs/prod-values.yaml", "replicaCount: 3\n")
    code, report = run_json(str(tmp_path), "--explain-files")
    assert report["findings"] == [] and code == 0  # no missing-kind for a values file that has metadata/spec
    assert _classes(report) == {"charts/web/Chart.yaml": "helm-chart", "charts/web/values.yaml": "helm-values",
                                "charts/web/values.schema.json": "helm-chart",
                                "envs/prod-values.yaml": "helm-values"}


def test_explain_files_in_text_output(write: Write, tmp_path: Path) -> None:
    write("package-lock.json", npm_lock(3))
    write("deploy.yaml", DEPLOYMENT)
    _code, out = run_cli("check", str(tmp_path), "--checks", "secrets", "--explain-files")
    assert "  package-lock.json: lock-file: dependency lock file (package-lock.json) -> secrets" in out
    assert "  deploy.yaml: manifest: holds Kubernetes objects (apiVersion and kind) -> every check" in out


def test_upper_case_extensions_are_noted_unless_a_kustomization_names_them(write: Write, tmp_path: Path) -> None:
    """Argo CD and Flux match .yaml/.yml case-sensitively; kustomize reads any file it is given."""
    write("app/kustomization.yaml", "resources: [deploy.YAML]\n")
    write("app/deploy.YAML", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: 1}\n")
    write("app/stray.YML", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {x: 1}\n")
    write("other/Legacy.Yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert [(f["path"], f["line"], f["rule"]) for f in report["findings"]] == [("app/deploy.YAML", 4, "schema-type")]
    assert report["summary"]["files"] == 2 and code == 1
    [note] = [n for n in report["notes"] if "upper-case extension" in n]
    assert note.startswith("2 file(s) with an upper-case extension were not checked as manifests, only searched "
                           "for credentials as text (app/stray.YML, other/Legacy.Yaml): Argo CD reads "
                           ".yaml/.yml/.json and Flux .yaml/.yml, both case-sensitively")


def test_a_conventional_tool_name_holding_kubernetes_objects_is_a_manifest(write: Write, tmp_path: Path) -> None:
    """Only lock files, .github/ and kubeadm patch names decide on their own: a Deployment in a file
    that happens to be called ct.yaml is still checked."""
    write("deploy/ct.yaml", DEPLOYMENT)
    write("ci/ct.yaml", "chart-dirs: [charts]\ntarget-branch: main\n")
    write(".github/deploy.yaml", DEPLOYMENT)
    _code, report = run_json(str(tmp_path), "--checks", "lint", "--explain-files")
    assert _classes(report) == {"deploy/ct.yaml": "manifest", "ci/ct.yaml": "tool-config",
                                ".github/deploy.yaml": "tool-config"}
    assert {f["path"] for f in report["findings"]} == {"deploy/ct.yaml"}


def test_every_tool_directory_name_starts_with_a_dot() -> None:
    # by_name looks for a tool directory only in paths whose directories hold a dot
    from gatekeeper.sources.classify import _TOOL_DIRS, by_name

    assert _TOOL_DIRS and all(prefix.startswith(".") and prefix.endswith("/") for prefix in _TOOL_DIRS)
    assert by_name(".github/workflows/ci.yaml") is not None
    assert by_name("apps/.vscode/settings.yaml") is not None
    assert by_name("apps/github/ci.yaml") is None
