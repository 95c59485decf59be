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

from gatekeeper.checks.lint.operators import PodCreators
from gatekeeper.checks.lint.pods import WORKLOAD_KINDS, as_dict, as_list, template_labels
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
            if r.kind in WORKLOAD_KINDS:
                labels = template_labels(r)
                if labels is not None:
                    out.append((r, labels))
        return out

    @cached_property
    def _label_index(self) -> dict[tuple[str, str], list[int]]:
        """(label key, value) -> positions in ``pod_templates`` of the templates carrying it."""
        index: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, (_, labels) in enumerate(self.pod_templates):
            for key, value in labels.items():
                index[(str(key), str(value))].append(i)
        return index

    def _candidates(self, required: dict[str, Any]) -> Iterable[tuple[Resource, dict[str, Any]]]:
        """Templates carrying every label of ``required`` (through the rarest one); all when empty."""
        if not required:
            return self.pod_templates
        postings = [self._label_index.get((str(k), str(v)), []) for k, v in required.items()]
        rarest = min(postings, key=len)
        return (self.pod_templates[i] for i in rarest)

    def templates_for_map(self, selector: dict[str, Any],
                          namespace: str | None) -> list[tuple[Resource, dict[str, Any]]]:
        """Workloads whose pods a plain equality selector (a Service's) selects in a namespace."""
        if not selector:
            return []
        return [(r, labels) for r, labels in self._candidates(selector)
                if same_namespace(r.namespace, namespace) and map_selector_matches(selector, labels)]

    def templates_for_selector(self, selector: Any,
                               namespace: str | None) -> list[tuple[Resource, dict[str, Any]]]:
        """Workloads whose pods a LabelSelector (a PodDisruptionBudget's) selects in a namespace."""
        required = as_dict(as_dict(selector).get("matchLabels"))
        return [(r, labels) for r, labels in self._candidates(required)
                if same_namespace(r.namespace, namespace) and selector_matches(selector, labels)]

    @cached_property
    def pod_creators(self) -> PodCreators:
        """Custom resources that create pods (operators), for selector questions."""
        return PodCreators(self.resources)

    def neighbours(self, resource: Resource) -> list[tuple[Resource, dict[str, Any]]]:
        """The pod templates that share ``resource``'s namespace: the same namespace, or (where either
        leaves it unset, so a deploy tool decides it) the same directory."""
        directory = resource.path.rpartition("/")[0]
        out = []
        for r, labels in self.pod_templates:
            same = resource.namespace is not None and r.namespace == resource.namespace
            unset = r.namespace is None or resource.namespace is None
            if same or (unset and r.path.rpartition("/")[0] == directory):
                out.append((r, labels))
        return out

    @cached_property
    def _pdb_covered(self) -> set[int]:
        """ids of workloads some PodDisruptionBudget selects."""
        covered: set[int] = set()
        for pdb in self.kind("PodDisruptionBudget"):
            selector = as_dict(pdb.obj.get("spec")).get("selector")
            covered.update(id(r) for r, _ in self.templates_for_selector(selector, pdb.namespace))
        return covered

    def has_pdb(self, resource: Resource) -> bool:
        return id(resource) in self._pdb_covered

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
