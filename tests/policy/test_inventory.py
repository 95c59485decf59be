"""Inventory shape, kind pruning, and where the starter library ships."""

from __future__ import annotations

from gatekeeper.checks.policy.inventory import build, cluster_scoped_kinds, prune, referenced_kinds
from gatekeeper.rego.library import library_path

OBJECTS = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
    {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop"}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}},
    {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "w.x"},
     "spec": {"scope": "Cluster", "names": {"kind": "Widget"}}},
    {"apiVersion": "x/v1", "kind": "Widget", "metadata": {"name": "w"}},
    {"kind": "NoApiVersion", "metadata": {"name": "skip"}},
]


def test_inventory_shape() -> None:
    kinds = cluster_scoped_kinds(OBJECTS)
    assert "Widget" in kinds and "Namespace" in kinds
    inv = build(OBJECTS, kinds)
    assert set(inv["cluster"]) == {"v1", "apiextensions.k8s.io/v1", "x/v1"}
    assert inv["cluster"]["x/v1"]["Widget"]["w"]["metadata"]["name"] == "w"
    assert inv["namespace"]["shop"]["networking.k8s.io/v1"]["Ingress"]["web"]["kind"] == "Ingress"
    assert inv["namespace"][""]["v1"]["ConfigMap"]["cfg"]["metadata"]["name"] == "cfg"


def test_referenced_kinds() -> None:
    assert referenced_kinds(['x := data.inventory.namespace[ns][gv]["Ingress"][name]',
                             'y := data.inventory.cluster["v1"].Namespace[n]']) == {"Ingress", "Namespace"}
    assert referenced_kinds(["x := data.inventory.namespace[ns][gv][kind][name]"]) is None
    assert referenced_kinds(["inv := data.inventory"]) is None
    assert referenced_kinds(["x := 1"]) == set()


def test_prune_keeps_only_named_kinds() -> None:
    inv = build(OBJECTS, cluster_scoped_kinds(OBJECTS))
    assert prune(inv, {"Ingress"}) == {
        "cluster": {},
        "namespace": {"shop": {"networking.k8s.io/v1": {"Ingress": {"web": OBJECTS[1]}}}},
    }


def test_library_path_holds_both_dialects() -> None:
    root = library_path()
    assert (root / "conftest" / "main.rego").is_file()
    templates = sorted(p.parent.name for p in root.glob("gatekeeper/*/template.yaml"))
    assert templates == ["allowed-repos", "container-limits", "loadbalancer-annotation", "no-default-namespace",
                         "required-labels", "unique-ingress-host"]
    assert all((root / "gatekeeper" / t / "suite.yaml").is_file() for t in templates)
