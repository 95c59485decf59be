"""An index of the whole scanned set, built once per run, for cross-object rules.

Objects without ``metadata.namespace`` are often given one later (kustomize, Argo CD's
destination), so an unset namespace matches any namespace here: cross-object rules then
err towards "found" and do not report objects that may well meet at deploy time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cached_property
from typing import Any

from gatekeeper.checks.lint.pods import as_dict, as_list, template_labels
from gatekeeper.model import Resource


def same_namespace(a: str | None, b: str | None) -> bool:
    """True when two objects can be in one namespace (an unset namespace matches any)."""
    return a is None or b is None or a == b


def selector_matches(selector: Any, labels: dict[str, Any]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against a label map; empty selects nothing."""
    sel = as_dict(selector)
    match_labels = as_dict(sel.get("matchLabels"))
    expressions = [e for e in as_list(sel.get("matchExpressions")) if isinstance(e, dict)]
    if not match_labels and not expressions:
        return False
    if any(str(labels.get(k)) != str(v) for k, v in match_labels.items()):
        return False
    return all(_expression_matches(e, labels) for e in expressions)


def _expression_matches(expr: dict[str, Any], labels: dict[str, Any]) -> bool:
    key, op = str(expr.get("key")), expr.get("operator")
    values = {str(v) for v in as_list(expr.get("values"))}
    present = key in labels
    if op == "In":
        return present and str(labels[key]) in values
    if op == "NotIn":
        return not present or str(labels[key]) not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    return False


def map_selector_matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    """A plain equality selector (Service, ReplicationController); empty selects nothing."""
    return bool(selector) and all(str(labels.get(k)) == str(v) for k, v in selector.items())


class Inventory:
    """The scanned set, indexed lazily by what cross-object rules ask."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self.resources = list(resources)

    @cached_property
    def _by_kind(self) -> dict[str, list[Resource]]:
        out: dict[str, list[Resource]] = defaultdict(list)
        for r in self.resources:
            out[r.kind].append(r)
        return out

    def kind(self, kind: str) -> list[Resource]:
        return self._by_kind.get(kind, [])

    @cached_property
    def pod_templates(self) -> list[tuple[Resource, dict[str, Any]]]:
        """Every workload (or Pod) with the labels of the pods it creates."""
        out = []
        for r in self.resources:
            labels = template_labels(r)
            if labels is not None:
                out.append((r, labels))
        return out

    @cached_property
    def _services(self) -> dict[str, list[Resource]]:
        out: dict[str, list[Resource]] = defaultdict(list)
        for r in self.kind("Service"):
            if r.name:
                out[r.name].append(r)
        return out

    def service_exists(self, name: str, namespace: str | None) -> bool:
        return any(same_namespace(s.namespace, namespace) for s in self._services.get(name, []))

    @cached_property
    def _hpa_targets(self) -> set[tuple[str, str]]:
        out = set()
        for hpa in self.kind("HorizontalPodAutoscaler"):
            target = as_dict(as_dict(hpa.obj.get("spec")).get("scaleTargetRef"))
            if isinstance(target.get("kind"), str) and isinstance(target.get("name"), str):
                out.add((target["kind"], target["name"]))
        for so in self.kind("ScaledObject"):  # KEDA scales workloads through an HPA it owns
            target = as_dict(as_dict(so.obj.get("spec")).get("scaleTargetRef"))
            if isinstance(target.get("name"), str):
                out.add((str(target.get("kind") or "Deployment"), target["name"]))
        return out

    def has_autoscaler(self, resource: Resource) -> bool:
        return (resource.kind, resource.name or "") in self._hpa_targets

    def pdbs_for(self, resource: Resource, labels: dict[str, Any]) -> list[Resource]:
        """PodDisruptionBudgets whose selector matches a workload's pod labels."""
        return [p for p in self.kind("PodDisruptionBudget")
                if same_namespace(p.namespace, resource.namespace)
                and selector_matches(as_dict(p.obj.get("spec")).get("selector"), labels)]

    @cached_property
    def service_accounts(self) -> dict[str, list[Resource]]:
        out: dict[str, list[Resource]] = defaultdict(list)
        for r in self.kind("ServiceAccount"):
            if r.name:
                out[r.name].append(r)
        return out

    @cached_property
    def cluster_scoped_custom_kinds(self) -> set[str]:
        """Kinds that CustomResourceDefinitions in the set declare as cluster-scoped."""
        out = set()
        for crd in self.kind("CustomResourceDefinition"):
            spec = as_dict(crd.obj.get("spec"))
            kind = as_dict(spec.get("names")).get("kind")
            if spec.get("scope") == "Cluster" and isinstance(kind, str):
                out.add(kind)
        return out
