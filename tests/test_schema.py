"""The schema check: every error, at the right line; CRDs; schema dirs; versions; API lifecycle."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from gatekeeper.checks.schema.bundled import bundled_versions, resolve_version
from tests.conftest import run_cli, run_json

Write = Callable[[str, str], Path]


def schema_findings(report: dict) -> list[tuple[str, int, str]]:
    return [(f["rule"], f["line"], f["field"]) for f in report["findings"] if f["check"] == "schema"]


def test_all_errors_of_a_document_are_reported_at_their_lines(write: Write, tmp_path: Path) -> None:
    write("d.yaml", """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          labelz: {}
        spec:
          replicas: "2"
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
                - name: web
                  image: nginx:1.25
                  ports:
                    - containerPort: http
                - image: side:1
        """)
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 1
    assert sorted(schema_findings(report)) == sorted([
        ("schema-unknown-field", 5, "metadata.labelz"),
        ("schema-type", 7, "spec.replicas"),
        ("schema-type", 18, "spec.template.spec.containers[0].ports[0].containerPort"),
        ("schema-required", 19, "spec.template.spec.containers[1].name"),
    ])
    f = report["findings"][0]
    assert f["resource"] == {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": None,
                             "name": "web", "document": 0}


def test_missing_required_top_level_field_points_at_parent(write: Write, tmp_path: Path) -> None:
    write("svc.yaml", """
        apiVersion: v1
        kind: Service
        metadata:
          name: web
        spec:
          ports:
            - name: http
        """)
    _, report = run_json(str(tmp_path), "--checks", "schema")
    assert schema_findings(report) == [("schema-required", 7, "spec.ports[0].port")]


def test_messages_never_echo_values(write: Write, tmp_path: Path) -> None:
    write("s.yaml", """
        apiVersion: v1
        kind: Secret
        metadata: {name: s}
        stringData:
          password: 123456789012
        """)
    _, report = run_json(str(tmp_path), "--checks", "schema")
    text = json.dumps(report)
    assert "123456789012" not in text
    assert schema_findings(report) == [("schema-type", 5, "stringData.password")]


def test_non_strict_mode_ignores_unknown_fields(write: Write, tmp_path: Path) -> None:
    write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  label: {}\n")
    code, report = run_json(str(tmp_path), "--checks", "schema", "--no-strict")
    assert code == 0 and schema_findings(report) == []
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 1 and schema_findings(report) == [("schema-unknown-field", 5, "metadata.label")]


CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Gadget, plural: gadgets}
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
              required: [size]
              properties:
                size: {type: integer, minimum: 1}
                port: {x-kubernetes-int-or-string: true}
                note: {type: string, nullable: true}
                extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
    - name: v0
      served: false
      storage: false
"""


def test_crd_in_tree_validates_its_custom_resources(write: Write, tmp_path: Path) -> None:
    write("crd.yaml", CRD)
    write("g.yaml", """
        apiVersion: example.com/v1
        kind: Gadget
        metadata: {name: ok}
        spec: {size: 2, port: http, note: null, extra: {anything: [1]}}
        ---
        apiVersion: example.com/v1
        kind: Gadget
        metadata: {name: bad}
        spec:
          port: 8080
          colour: red
        ---
        apiVersion: example.com/v0
        kind: Gadget
        metadata: {name: unserved}
        """)
    _, report = run_json(str(tmp_path), "--checks", "schema")
    got = sorted((f["resource"]["name"], f["rule"], f["line"]) for f in report["findings"])
    assert got == [("bad", "schema-required", 9), ("bad", "schema-unknown-field", 11),
                   ("unserved", "schema-missing", 13)]


def test_schema_dir_in_crds_catalog_layout(write: Write, tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"spec": {"type": "object", "additionalProperties": False,
                                                        "properties": {"url": {"type": "string"}}}}}
    (tmp_path / "schemas" / "acme.io").mkdir(parents=True)
    (tmp_path / "schemas" / "acme.io" / "hook_v1.json").write_text(json.dumps(schema))
    write("m/h.yaml", "apiVersion: acme.io/v1\nkind: Hook\nmetadata: {name: h}\nspec:\n  urll: x\n")
    _, report = run_json(str(tmp_path / "m"), "--checks", "schema", "--schema-dir", str(tmp_path / "schemas"))
    assert schema_findings(report) == [("schema-unknown-field", 5, "spec.urll")]
    _, report = run_json(str(tmp_path / "m"), "--checks", "schema")
    assert [(f["rule"], f["severity"]) for f in report["findings"]] == [("schema-missing", "warning")]


def test_missing_schema_severity_is_configurable(write: Write, tmp_path: Path) -> None:
    write("x.yaml", "apiVersion: acme.io/v1\nkind: Thing\nmetadata: {name: t}\n")
    write(".gatekeeper.yaml", "version: 1\nchecks:\n  schema:\n    missing_schema: error\n")
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 1 and [(f["rule"], f["severity"], f["line"]) for f in report["findings"]] == [
        ("schema-missing", "error", 1)]
    write(".gatekeeper.yaml", "version: 1\nchecks:\n  schema:\n    missing_schema: ignore\n")
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 0 and report["findings"] == []


def test_removed_and_deprecated_api_versions_depend_on_target(write: Write, tmp_path: Path) -> None:
    write("cj.yaml", "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: c}\nspec: {}\n")
    write("ep.yaml", "apiVersion: v1\nkind: Endpoints\nmetadata: {name: e}\n")
    _, report = run_json(str(tmp_path), "--checks", "schema", "-k", "1.33")
    got = {(f["path"], f["rule"], f["severity"], f["line"]) for f in report["findings"]}
    assert got == {("cj.yaml", "removed-api", "error", 1), ("ep.yaml", "deprecated-api", "warning", 1)}
    removed = next(f for f in report["findings"] if f["rule"] == "removed-api")
    assert "batch/v1" in removed["hint"]
    _, report = run_json(str(tmp_path), "--checks", "schema", "-k", "1.25")
    assert {f["rule"] for f in report["findings"]} == {"removed-api"}


def test_version_selection() -> None:
    versions = bundled_versions()
    assert versions[-1] == resolve_version(None)
    assert resolve_version("v" + versions[0] + ".3") == versions[0]


def test_unbundled_or_invalid_version_is_a_usage_error(tmp_path: Path) -> None:
    code, out = run_cli("check", str(tmp_path), "-k", "1.99")
    assert code == 2 and "no bundled schemas" in out
    code, out = run_cli("check", str(tmp_path), "-k", "1.2")
    assert code == 2
    code, out = run_cli("check", str(tmp_path), "-k", "latest")
    assert code == 2 and "invalid Kubernetes version" in out


def test_sops_metadata_is_not_an_unknown_field(write: Write, tmp_path: Path) -> None:
    write("s.yaml", """
        apiVersion: v1
        kind: Secret
        metadata: {name: db}
        stringData:
          password: ENC[AES256_GCM,data:abc,iv:def,tag:ghi,type:str]
        sops:
          mac: ENC[AES256_GCM,data:xyz,type:str]
          version: 3.8.1
        """)
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert code == 0 and schema_findings(report) == []


def test_kustomize_patches_are_not_validated_as_objects(write: Write, tmp_path: Path) -> None:
    write("overlay/kustomization.yaml", "resources: [../base]\npatches:\n  - path: replicas.yaml\n"
                                        "patchesStrategicMerge: [delete.yaml]\n")
    write("overlay/replicas.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
                                   "spec: {replicas: 3}\n")
    write("overlay/delete.yaml", "$patch: delete\napiVersion: v1\nkind: Service\nmetadata: {name: x}\n")
    code, report = run_json(str(tmp_path), "--checks", "schema", "--render", "none")
    assert code == 0 and report["summary"]["resources"] == 0
