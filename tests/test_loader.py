"""The YAML/JSON loader: positions, multi-document files, and every kind of bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gatekeeper.model import Document
from gatekeeper.sources.files import SourceFile, collect
from gatekeeper.sources.resources import extract
from gatekeeper.sources.yamlload import MAX_ALIAS_EXPANSION, parse


def load(text: str | bytes, path: str = "m.yaml") -> tuple[list[Document], list[tuple[str, int, int]]]:
    data = text.encode() if isinstance(text, str) else text
    parsed = parse(SourceFile(path, data))
    findings = [(f.rule, f.line, f.column) for f in parsed.findings]
    for doc in parsed.documents:
        findings.extend((f.rule, f.line, f.column) for f in extract(doc))
    return parsed.documents, findings


DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.25
          ports:
            - containerPort: 80
        - name: side
          image: busybox
"""


def test_positions_of_nested_fields_and_list_items() -> None:
    docs, findings = load(DEPLOY)
    assert findings == []
    doc = docs[0]
    assert doc.locate(()) == (1, 1)
    assert doc.locate(("metadata", "name")) == (4, 3)
    c = ("spec", "template", "spec", "containers")
    assert doc.locate((*c, 0)) == (10, 11)
    assert doc.locate((*c, 0, "image")) == (11, 11)
    assert doc.locate((*c, 0, "ports", 0, "containerPort")) == (13, 15)
    assert doc.locate((*c, 1, "image")) == (15, 11)


def test_flow_style_positions() -> None:
    docs, _ = load(DEPLOY)
    assert docs[0].locate(("metadata", "labels", "tier")) == (5, 22)


def test_missing_field_falls_back_to_nearest_ancestor() -> None:
    docs, _ = load(DEPLOY)
    assert docs[0].locate(("spec", "template", "spec", "containers", 1, "resources", "limits")) == (14, 11)
    assert docs[0].locate(("spec", "selector")) == (6, 1)


def test_multi_document_positions_and_indices() -> None:
    text = "# leading comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n" \
           "---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"
    docs, findings = load(text)
    assert findings == []
    assert [d.index for d in docs] == [0, 1]
    assert [d.line for d in docs] == [3, 11]
    assert docs[1].locate(("metadata", "name")) == (14, 3)
    assert [r.name for d in docs for r in d.resources] == ["a", "b"]


def test_anchors_and_merge_keys_resolve_positions() -> None:
    text = ("base: &base\n  image: app:1\n  pull: Always\napiVersion: v1\nkind: ConfigMap\n"
            "metadata: {name: x}\ndata:\n  <<: *base\n  pull: Never\n")
    docs, findings = load(text)
    assert findings == []
    assert docs[0].obj["data"] == {"image": "app:1", "pull": "Never"}
    assert docs[0].locate(("data", "pull")) == (9, 3)
    assert docs[0].locate(("data", "image")) == (2, 3)


def test_an_explicit_key_is_located_before_a_merged_one_written_after_it() -> None:
    text = ("base: &base\n  pull: Always\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
            "data:\n  pull: Never\n  <<: *base\n")
    docs, findings = load(text)
    assert findings == []
    assert docs[0].obj["data"] == {"pull": "Never"}
    assert docs[0].locate(("data", "pull")) == (7, 3)


def test_crlf_and_bom() -> None:
    text = "\ufeffapiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: crlf\r\n"
    docs, findings = load(text.encode("utf-8"))
    assert findings == []
    assert docs[0].obj["metadata"]["name"] == "crlf"
    assert docs[0].locate(("metadata", "name")) == (4, 3)


def test_timestamps_stay_strings_and_keys_become_strings() -> None:
    docs, _ = load("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: t}\ndata:\n  when: 2024-01-02\n  1: one\n")
    assert docs[0].obj["data"] == {"when": "2024-01-02", "1": "one"}


def test_kind_list_expands_items_with_their_positions() -> None:
    text = ("apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n"
            "    metadata: {name: one}\n  - apiVersion: v1\n    kind: Secret\n    metadata:\n      name: two\n")
    docs, _ = load(text)
    res = docs[0].resources
    assert [(r.kind, r.name) for r in res] == [("ConfigMap", "one"), ("Secret", "two")]
    assert res[1].locate(("metadata", "name")) == (10, 7)
    assert res[1].line == 7


def test_non_kubernetes_yaml_is_a_document_without_resources() -> None:
    docs, findings = load("replicaCount: 2\nimage:\n  repository: nginx\n", "values.yaml")
    assert findings == [] and len(docs) == 1 and docs[0].resources == []
    docs, findings = load("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n")
    assert findings == [] and docs[0].resources == []


def test_json_manifest() -> None:
    text = '{\n  "apiVersion": "v1",\n  "kind": "ConfigMap",\n  "metadata": {\n    "name": "j"\n  }\n}\n'
    docs, findings = load(text, "cm.json")
    assert findings == []
    assert docs[0].resources[0].name == "j"
    assert docs[0].locate(("metadata", "name")) == (5, 5)


def test_malformed_yaml_reports_line_and_column() -> None:
    docs, findings = load("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: indent\n")
    assert docs == []
    assert findings == [("parse-error", 5, 7)]


def test_documents_before_a_parse_error_are_kept() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\nkey: [unclosed\n"
    docs, findings = load(text)
    assert [d.resources[0].name for d in docs] == ["ok"]
    assert findings[0][0] == "parse-error" and findings[0][1] >= 5


def test_duplicate_keys_are_findings_at_the_second_key() -> None:
    _, findings = load("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n")
    assert findings == [("duplicate-key", 5, 3)]


def test_binary_and_non_utf8_files() -> None:
    _, findings = load(b"\x00\x01\x02binary", "blob.yaml")
    assert findings == [("binary-file", 1, 1)]
    _, findings = load(b"apiVersion: v1\nkind: ConfigMap\ndata:\n  k: \xff\xfe\n", "latin.yaml")
    assert findings == [("encoding-error", 4, 1)]


def test_alias_bomb_is_refused_without_expanding() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    docs, findings = load("\n".join(lines) + "\n")
    assert docs == []
    assert findings[0][0] == "alias-bomb"


def test_recursive_alias_is_refused() -> None:
    docs, findings = load("a: &x\n  - *x\n")
    assert docs == [] and findings[0][0] == "alias-bomb"


def test_modest_aliases_are_fine() -> None:
    docs, findings = load("x: &v [1, 2]\ny: *v\nz: *v\n")
    assert findings == [] and docs[0].obj["z"] == [1, 2]
    assert MAX_ALIAS_EXPANSION >= 10_000


def test_missing_kind_on_a_manifest_like_object() -> None:
    _, findings = load("kind: Deployment\nmetadata:\n  name: x\nspec: {}\n")
    assert findings == [("missing-kind", 1, 1)]
    _, findings = load("metadata:\n  name: x\nspec:\n  replicas: 1\n")
    assert findings == [("missing-kind", 1, 1)]
    _, findings = load("apiVersion: v2\nname: chart\nversion: 1.0.0\n", "Chart.yaml")
    assert findings == []


def test_walker_includes_excludes_and_skips_git(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.yaml").write_text("a: 1\n")
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "a.yaml").write_text("a: 1\n")
    (tmp_path / "apps" / "b.yml").write_text("a: 1\n")
    (tmp_path / "apps" / "notes.txt").write_text("a: 1\n")
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "c.yaml").write_text("a: 1\n")
    got = collect([tmp_path], tmp_path, exclude=["vendor/"])
    assert [f.path for f in got.files] == ["apps/a.yaml", "apps/b.yml"]


def test_helm_chart_templates_are_not_read_as_manifests(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 1.0.0\n")
    (chart / "templates" / "d.yaml").write_text("kind: {{ .Values.kind }}\n")
    got = collect([tmp_path], tmp_path)
    assert [f.path for f in got.files] == ["chart/Chart.yaml"]  # the chart is rendered as a unit instead
    assert got.notes == []


def test_symlink_out_of_tree_is_a_finding(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: secret-stuff}\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "link.yaml").symlink_to(outside)
    (tree / "linkdir").symlink_to(tmp_path)
    (tree / "ok.yaml").write_text("a: 1\n")
    (tree / "inside.yaml").symlink_to(tree / "ok.yaml")
    got = collect([tree], tree)
    assert sorted(f.path for f in got.files) == ["inside.yaml", "ok.yaml"]
    assert sorted((f.rule, f.path) for f in got.findings) == [
        ("symlink-outside-tree", "link.yaml"), ("symlink-outside-tree", "linkdir")]


def test_large_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * 2000 + "\n")
    got = collect([tmp_path], tmp_path, max_file_size=1000)
    assert got.files == []
    assert [f.rule for f in got.findings] == ["file-too-large"]


def test_unreadable_file_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "missing-target.yaml")
    got = collect([tmp_path], tmp_path)
    assert [f.rule for f in got.findings] == ["unreadable-file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files whatever their mode")
def test_permission_denied_is_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text("a: 1\n")
    path.chmod(0)
    got = collect([tmp_path], tmp_path)
    assert [f.rule for f in got.findings] == ["unreadable-file"]
