"""Kustomize references in all their forms, and the kustomization shapes kustomize rejects."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.sources import kustomize
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.yamlload import parse
from tests.conftest import run_json
from tests.render.conftest import at, put

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {a: b}\n"
PARTIAL = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 3\n"


def _kust(text: str, path: str = "app/kustomization.yaml") -> kustomize.Kustomization:
    doc = parse(SourceFile(path, text.encode())).documents[0]
    kust = kustomize.parse(doc, lambda p: "dir" if p in ("base", "comp") else "file")
    assert kust is not None
    return kust


def test_every_reference_form_gets_its_role() -> None:
    kust = _kust("""\
resources: [deploy.yaml, ../base, https://github.com/org/repo//deploy?ref=v1]
components: [../comp]
patches:
  - path: p1.yaml
  - patch: |
      - op: add
        path: /metadata/labels/x
        value: y
    target: {kind: Deployment}
patchesStrategicMerge: [p2.yaml, "apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: x}\\n"]
patchesJson6902: [{target: {kind: Deployment, name: web}, path: p3.yaml}]
replacements: [{path: repl.yaml}]
transformers: [labels.yaml]
generators: [gen.yaml]
configurations: [conf.yaml]
configMapGenerator: [{name: c, files: [key=app.properties], envs: [app.env]}]
""")
    roles = {(r.path or r.raw): r.role for r in kust.refs}
    assert roles == {
        "app/deploy.yaml": "resource", "base": "base", "https://github.com/org/repo//deploy?ref=v1": "resource",
        "comp": "component", "app/p1.yaml": "patch", "app/p2.yaml": "patch", "app/p3.yaml": "patch-json6902",
        "app/repl.yaml": "replacement", "app/labels.yaml": "transformer", "app/gen.yaml": "generator",
        "app/conf.yaml": "configuration", "app/app.properties": "generator-input", "app/app.env": "generator-input"}
    assert [r.remote for r in kust.refs if r.raw.startswith("https")] == [True]
    assert [i.key for i in kust.inline] == ["patches", "patchesStrategicMerge"]
    assert kust.findings == []


@pytest.mark.parametrize(("text", "line", "words"), [
    ("resources: [a.yaml]\npatches: [patch.yaml]\n", 2, "kustomize v5 rejects it"),
    ("patches: 5\n", 1, "patches must be a list, not a number"),
    ("patchesStrategicMerge: true\n", 1, "patchesStrategicMerge must be a list"),
    ("resources: deploy.yaml\n", 1, "resources must be a list of strings, not a string"),
    ("replacements: [repl.yaml]\n", 1, "replacements entries must be maps"),
    ("resources: []\nnamespce: prod\n", 2, "unknown field 'namespce'"),
    ("namespace: [prod]\n", 1, "namespace must be a string"),
    ("- a\n- b\n", 1, "a kustomization must be a map"),
])
def test_shapes_kustomize_rejects_are_findings_at_their_line(tmp_path: Path, text: str, line: int,
                                                             words: str) -> None:
    put(tmp_path, {"app/kustomization.yaml": text, "app/a.yaml": CM, "app/patch.yaml": PARTIAL})
    code, report = run_json(str(tmp_path))
    assert report["errors"] == []  # never an internal error
    found = [f for f in report["findings"] if f["rule"] == "kustomize-invalid"]
    assert [(f["path"], f["line"]) for f in found] == [("app/kustomization.yaml", line)], found
    assert words in found[0]["message"]
    assert code == 1


def test_string_form_patch_files_are_not_linted_as_objects(tmp_path: Path) -> None:
    put(tmp_path, {"app/kustomization.yaml": "resources: [cm.yaml]\npatches: [patch.yaml]\n",
                   "app/cm.yaml": CM, "app/patch.yaml": PARTIAL})
    _, report = run_json(str(tmp_path))
    assert {f["path"] for f in report["findings"]} == {"app/kustomization.yaml"}


def test_files_named_as_kustomize_configs_are_not_objects(tmp_path: Path) -> None:
    put(tmp_path, {
        "app/kustomization.yaml": "resources: [cm.yaml]\ntransformers: [labels.yaml]\ngenerators: [gen.yaml]\n"
                                  "replacements: [{path: repl.yaml}]\nconfigurations: [conf.yaml]\n"
                                  "components: [../comp]\n",
        "app/cm.yaml": CM,
        "app/labels.yaml": "apiVersion: builtin\nkind: LabelTransformer\nmetadata: {name: l}\nlabels: {a: b}\n"
                           "fieldSpecs: [{path: metadata/labels, create: true}]\n",
        "app/gen.yaml": "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: g}\nliterals: [a=b]\n",
        "app/repl.yaml": "source: {kind: ConfigMap, name: web, fieldPath: data.a}\n"
                         "targets: [{select: {kind: ConfigMap}, fieldPaths: [data.b]}]\n",
        "app/conf.yaml": "nameReference: []\n",
        "comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
                                   "patches: [{path: p.yaml}]\n",
        "comp/p.yaml": PARTIAL,
    })
    _, report = run_json(str(tmp_path), "--render", "none")
    assert report["findings"] == []
    assert report["summary"]["resources"] == 1  # cm.yaml only


def test_reference_roles_is_the_public_answer() -> None:
    docs = [parse(SourceFile(p, t.encode())).documents[0] for p, t in (
        ("o/kustomization.yaml", "resources: [../b]\npatches: [{path: p.yaml}]\ncomponents: [../c]\n"),
        ("b/kustomization.yaml", "resources: [d.yaml]\nconfigMapGenerator: [{name: x, envs: [x.env]}]\n"),
        ("o/other.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                         "patchesStrategicMerge: [pod.yaml]\n"))]
    roles = kustomize.reference_roles(docs, lambda p: "dir" if p in ("b", "c") else "file")
    assert roles == {"b": {"base"}, "o/p.yaml": {"patch"}, "c": {"component"}, "b/d.yaml": {"resource"},
                     "b/x.env": {"generator-input"}}  # o/other.yaml is no kustomization: it names nothing
    assert kustomize.patch_paths(docs) == {"o/p.yaml", "b/x.env"}


def test_a_patch_outside_the_kustomization_directory_is_rejected_and_linted(tmp_path: Path) -> None:
    put(tmp_path, {"app/kustomization.yaml": "resources: [cm.yaml]\npatches: [{path: ../shared/p.yaml}]\n",
                   "app/cm.yaml": CM, "shared/p.yaml": CM})
    _, report = run_json(str(tmp_path), "--render", "none")
    assert at(report, "kustomize-invalid") == [("app/kustomization.yaml", 2)]
    assert report["summary"]["resources"] == 2  # shared/p.yaml is not a patch kustomize would read
