"""Units rendered in one kustomize process render exactly as each renders alone: no name reference,
variable or name-reference rule resolves across units (real kubectl kustomize)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from gatekeeper.sources import kustomize as kz
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.render import Renderer, batch, kustomize_executable
from gatekeeper.sources.render import kustomize as kz_render
from gatekeeper.sources.tree import DiskTree
from gatekeeper.sources.units import KUSTOMIZE, Unit
from gatekeeper.sources.yamlload import parse
from tests.conftest import run_json
from tests.render.conftest import at, needs_kustomize, put
from tests.sync.gitrepo import BRANCH, commit, init, show, sync

pytestmark = needs_kustomize

USER = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: default
      containers:
        - name: web
          image: nginx:latest
          envFrom:
            - configMapRef: {name: cfg}
          env:
            - {name: HOST, value: $(HOST)}
"""
# Unit "gen" generates ConfigMap cfg (renamed with a hash) and prefixes a ServiceAccount "default";
# unit "vars" declares a variable HOST; unit "user" refers to all three names without defining any.
UNITS = {
    "gen/kustomization.yaml": "namespace: shop\nnamePrefix: app-\nresources: [sa.yaml]\n"
                              "configMapGenerator:\n  - name: cfg\n    literals: [k=v]\n",
    "gen/sa.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default}\n",
    "vars/kustomization.yaml": "namespace: shop\nresources: [svc.yaml]\n"
                               "vars:\n  - name: HOST\n    objref: {kind: Service, name: db, apiVersion: v1}\n",
    "vars/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec: {ports: [{port: 5432}]}\n",
    "user/kustomization.yaml": "namespace: shop\nresources: [deploy.yaml]\n",
    "user/deploy.yaml": USER,
}


def _alone(repo: Path, unit: str) -> str:
    exe = kustomize_executable()
    assert exe is not None
    return subprocess.run([exe, "kustomize", unit], cwd=repo, check=True, capture_output=True, text=True).stdout


def test_a_batch_gives_each_unit_its_own_render(tmp_path: Path) -> None:
    put(tmp_path, UNITS)
    tree = DiskTree(tmp_path)
    docs = [d for rel in UNITS for d in parse(SourceFile(rel, (tmp_path / rel).read_bytes())).documents]
    units = [Unit(KUSTOMIZE, p) for p in ("gen", "vars", "user")]
    renderer = Renderer(tree, docs, kz.find(docs, tree.kind))
    try:
        plans = [renderer._plan(u) for u in units]
        assert [batch.can_batch(p) for p in plans] == [True, False, True]  # vars reach every unit
        assert len(batch.group([p for p in plans if batch.can_batch(p)])) == 1  # gen and user share a process
        together = renderer.render_many(units)
    finally:
        renderer.close()
    user = next(obj for obj, _ in together[2].objects)
    container = user["spec"]["template"]["spec"]["containers"][0]
    assert user["spec"]["template"]["spec"]["serviceAccountName"] == "default"
    assert container["envFrom"] == [{"configMapRef": {"name": "cfg"}}]
    assert container["env"] == [{"name": "HOST", "value": "$(HOST)"}]
    for unit, rendered in zip(("gen", "vars", "user"), together, strict=True):
        alone = [d.obj for d in parse(SourceFile("alone.yaml", _alone(tmp_path, unit).encode())).documents]
        assert [obj for obj, _ in rendered.objects] == alone, unit


def test_crossed_names_a_unit_that_holds_another_units_object_name() -> None:
    parts = {
        "a": b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg-5t6b8\n  namespace: shop\n",
        "b": b"apiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n    x: |\n      name: y\n  name: p\n"
             b"spec:\n  volumes:\n  - configMap:\n      name: cfg-5t6b8\n    name: v\n",
        "c": b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: q\nspec:\n  image: cfg-5t6b8x\n",
    }
    assert batch.crossed(parts) == {"b"}
    assert batch.crossed({**parts, "d": b"kind: Pod\nmetadata:\n  name: \"a\\tb\"\n"}) == {"a", "b", "c", "d"}
    assert batch.crossed({**parts, "d": b"kind: Pod\nmetadata: {}\n"}) == {"a", "b", "c", "d"}
    # the next run renders alone only the unit that caused it, not its whole batch
    assert batch.unreadable({**parts, "d": b"kind: Pod\nmetadata:\n  name: \"a\\tb\"\n"}) == {"d"}
    assert batch.unreadable(parts) == set()


def test_check_locates_the_unit_findings_in_its_own_files(tmp_path: Path) -> None:
    put(tmp_path, UNITS)
    code, report = run_json(str(tmp_path))
    assert code == 1
    assert at(report, "image-latest") == [("user/deploy.yaml", 12)]


def test_sync_publishes_each_unit_as_kustomize_renders_it_alone(tmp_path: Path) -> None:
    repo = init(tmp_path / "src")
    commit(repo, {**UNITS, "user/deploy.yaml": USER.replace("nginx:latest", "nginx:1.2.3")}, "units")
    code, out = sync(repo, "--path", "gen", "--path", "vars", "--path", "user", "--render", "kustomize",
                     "--format", "json")
    assert code == 0, out
    report = json.loads(out[:out.rindex("}") + 1])
    assert report["summary"]["errors"] == 0, report["findings"]
    for unit in ("gen", "vars", "user"):
        published = [d.obj for d in parse(SourceFile("p.yaml", show(repo, BRANCH, f"{unit}/manifest.yaml")
                                                     .encode())).documents]
        alone = [d.obj for d in parse(SourceFile("a.yaml", _alone(repo, unit).encode())).documents]
        assert sorted(published, key=repr) == sorted(alone, key=repr), unit  # the manifest sorts its objects


def test_the_unit_plan_lists_what_keeps_a_unit_alone(tmp_path: Path) -> None:
    put(tmp_path, {"a/kustomization.yaml": "resources: [../b]\n",
                   "b/kustomization.yaml": "configurations: [conf.yaml]\nresources: []\n", "b/conf.yaml": "{}\n"})
    tree = DiskTree(tmp_path)
    docs = [d for rel in ("a/kustomization.yaml", "b/kustomization.yaml")
            for d in parse(SourceFile(rel, (tmp_path / rel).read_bytes())).documents]
    kusts = kz.find(docs, tree.kind)
    assert not batch.can_batch(kz_render.plan("a", lambda d: kusts.get(d), tree))  # set in a base
