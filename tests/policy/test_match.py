"""Gatekeeper match semantics, unit by unit."""

from __future__ import annotations

from typing import Any

import pytest

from gatekeeper.checks.policy.match import MatchError, glob_match, matches, selector_matches


def _obj(kind: str = "Deployment", name: str = "web", ns: str | None = "shop", **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if ns is not None:
        meta["namespace"] = ns
    return {"kind": kind, "metadata": meta}


NAMESPACES = {"shop": {"kind": "Namespace", "metadata": {"name": "shop", "labels": {"tier": "prod"}}},
              "dev": {"kind": "Namespace", "metadata": {"name": "dev", "labels": {"tier": "dev"}}}}


def _m(match: dict[str, Any], obj: dict[str, Any] | None = None, group: str = "apps", kind: str = "Deployment",
       cluster: bool = False) -> bool:
    obj = obj or _obj(kind)
    ns = None if cluster else obj["metadata"].get("namespace")
    return matches(match, obj, group, kind, ns, cluster, NAMESPACES)


def test_empty_match_matches_everything() -> None:
    assert _m({})
    assert _m({}, _obj("ClusterRole", ns=None), "rbac.authorization.k8s.io", "ClusterRole", cluster=True)


@pytest.mark.parametrize(("kinds", "expected"), [
    ([{"apiGroups": ["apps"], "kinds": ["Deployment"]}], True),
    ([{"apiGroups": [""], "kinds": ["Deployment"]}], False),
    ([{"apiGroups": ["*"], "kinds": ["Deployment"]}], True),
    ([{"apiGroups": ["apps"], "kinds": ["*"]}], True),
    ([{"apiGroups": ["apps"], "kinds": []}], True),
    ([{"apiGroups": ["apps"], "kinds": ["StatefulSet"]}, {"kinds": ["Deployment"]}], True),
    ([{"apiGroups": ["batch"], "kinds": ["Job"]}], False),
])
def test_kinds(kinds: list[dict[str, Any]], expected: bool) -> None:
    assert _m({"kinds": kinds}) is expected


def test_scope() -> None:
    assert not _m({"scope": "Cluster"})
    assert _m({"scope": "Namespaced"})
    assert _m({"scope": "Cluster"}, _obj("ClusterRole", ns=None), "rbac.authorization.k8s.io", "ClusterRole",
              cluster=True)


def test_namespaces_and_globs() -> None:
    assert _m({"namespaces": ["shop"]})
    assert not _m({"namespaces": ["billing"]})
    assert _m({"namespaces": ["sh*"]})
    assert _m({"namespaces": ["*op"]})
    assert not _m({"excludedNamespaces": ["sh*"]})
    assert _m({"excludedNamespaces": ["kube-*"]})


def test_namespace_criteria_never_exclude_cluster_scoped_objects() -> None:
    role = _obj("ClusterRole", ns=None)
    assert _m({"namespaces": ["shop"]}, role, "rbac.authorization.k8s.io", "ClusterRole", cluster=True)
    assert _m({"namespaceSelector": {"matchLabels": {"tier": "prod"}}}, role, "rbac.authorization.k8s.io",
              "ClusterRole", cluster=True)


def test_namespace_object_is_matched_by_its_own_name_and_labels() -> None:
    ns = {"kind": "Namespace", "metadata": {"name": "kube-system", "labels": {"tier": "system"}}}
    assert not _m({"excludedNamespaces": ["kube-*"]}, ns, "", "Namespace", cluster=True)
    assert _m({"namespaceSelector": {"matchLabels": {"tier": "system"}}}, ns, "", "Namespace", cluster=True)


def test_namespace_selector_reads_namespace_objects_of_the_tree() -> None:
    assert _m({"namespaceSelector": {"matchLabels": {"tier": "prod"}}})
    assert not _m({"namespaceSelector": {"matchLabels": {"tier": "prod"}}}, _obj(ns="dev"))
    assert not _m({"namespaceSelector": {"matchLabels": {"tier": "prod"}}}, _obj(ns="unknown"))
    assert _m({"namespaceSelector": {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}},
              _obj(ns="unknown"))


def test_label_selector_and_name() -> None:
    obj = _obj(app="web", tier="front")
    assert _m({"labelSelector": {"matchLabels": {"app": "web"}}}, obj)
    assert not _m({"labelSelector": {"matchLabels": {"app": "api"}}}, obj)
    assert _m({"labelSelector": {"matchExpressions": [{"key": "tier", "operator": "In",
                                                       "values": ["front", "back"]}]}}, obj)
    assert not _m({"labelSelector": {"matchExpressions": [{"key": "tier", "operator": "NotIn",
                                                           "values": ["front"]}]}}, obj)
    assert _m({"labelSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}}, obj)
    assert _m({"name": "we*"}, obj)
    assert not _m({"name": "api"}, obj)


def test_selector_operator_typo_is_an_error() -> None:
    with pytest.raises(MatchError, match="unknown label selector operator 'in'"):
        selector_matches({"matchExpressions": [{"key": "a", "operator": "in", "values": ["x"]}]}, {"a": "x"})


def test_glob() -> None:
    assert glob_match("kube-*", "kube-system")
    assert glob_match("*-system", "kube-system")
    assert not glob_match("kube", "kube-system")
