"""Service and Ingress rules: selectors and backends that meet nothing, exposure without TLS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gatekeeper.checks.lint.examples import deployment, doc
from gatekeeper.checks.lint.inventory import Inventory, same_namespace, selector_matches
from gatekeeper.checks.lint.pods import as_dict, as_list, template_metadata_path
from gatekeeper.checks.lint.registry import Hit, RuleContext, rule
from gatekeeper.model import FieldPath, Resource, Severity

_W = Severity.WARNING
_SERVICE = doc("""
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: web
    spec:
      type: {type}
      selector:
        app: {app}
      ports:
        - port: 80
          targetPort: 8080
    """)
_INGRESS = doc("""
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: web
    spec:
      {tls}rules:
        - host: shop.example.com
          http:
            paths:
              - path: /
                pathType: Prefix
                backend:
                  service:
                    name: {backend}
                    port:
                      number: 80
    """)
_TLS = "tls:\n    - hosts: [shop.example.com]\n      secretName: shop-tls\n  "
_WEB_SERVICE = _SERVICE.format(type="ClusterIP", app="web")


@rule("dangling-service", _W, "A Service's selector matches no pods, and a workload's labels nearly match it.",
      cross=True,
      rationale="A Service that selects no pods has no endpoints: every request to it fails. A typo in a "
                "label is the usual cause. Pods that an operator creates from a custom resource (Prometheus, "
                "Alertmanager, a database cluster), that a HelmRelease or another repository deploys, or that "
                "live in a namespace this tree does not populate are not in the scanned set, so by default the "
                "rule reports a Service only when a workload it could select has labels that nearly match the "
                "selector (one label differs by a typo or is missing).",
      hint="Make spec.selector match the labels of the pods the Service fronts (the pod template's labels).",
      options={"report": "near-miss"},
      option_docs={"report": "'near-miss' (default): only when a workload's labels nearly match the selector; "
                             "'any': every Service whose selector matches no pod template, custom resource "
                             "or other pod source in a populated namespace"},
      choices={"report": ("near-miss", "any")},
      bad=deployment() + _SERVICE.format(type="ClusterIP", app="webb"), good=deployment() + _WEB_SERVICE)
def dangling_service(inv: Inventory, ctx: RuleContext) -> Iterator[Hit]:
    near_only = ctx.options["report"] == "near-miss"
    for svc in inv.kind("Service"):
        spec = as_dict(svc.obj.get("spec"))
        selector = as_dict(spec.get("selector"))
        if not selector or spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None":
            continue  # headless Services are often filled by hand-written or operator-managed endpoints
        if inv.templates_for_map(selector, svc.namespace) or inv.pod_creators.for_selector(selector, svc.namespace):
            continue
        considered = inv.neighbours(svc)
        if not considered:
            continue  # nothing in the tree deploys pods to this namespace: they come from elsewhere
        text = ",".join(f"{k}={v}" for k, v in selector.items())
        near = [(r, hint) for r, labels in considered if (hint := near_miss(selector, labels)) is not None]
        if near:
            workload, differs = near[0]
            yield Hit(svc, f"selector {text} matches no pods in the scanned set; {_name(workload)} has {differs} "
                           "(a typo?)", ("spec", "selector"), evidence=text)
        elif not near_only:
            names = ", ".join(_name(r) for r, _ in considered[:5])
            more = f" and {len(considered) - 5} more" if len(considered) > 5 else ""
            yield Hit(svc, f"selector {text} matches none of the {len(considered)} workload(s) considered "
                           f"({names}{more})", ("spec", "selector"), evidence=text)


def _name(resource: Resource) -> str:
    return f"{resource.kind}/{resource.name or '?'}"


def near_miss(selector: dict[str, Any], labels: dict[str, Any]) -> str | None:
    """How a pod template's labels nearly match a Service selector (every pair but one equal, and that
    one a typo of a label the pods carry, or missing while others match), or None."""
    wrong = [(str(k), str(v)) for k, v in selector.items() if str(labels.get(k)) != str(v) or k not in labels]
    if len(wrong) != 1:
        return None
    key, value = wrong[0]
    if key in labels:
        have = str(labels[key])
        return f"{key}={have}" if similar(have, value) else None
    for other, have in labels.items():
        if str(have) == value and similar(str(other), key):
            return f"{other}={have}"
    return f"no {key} label" if len(selector) > 1 else None


def similar(a: str, b: str) -> bool:
    """Two names one slip apart: equal ignoring case and separators, or at most 2 edits (1 for
    short names)."""
    if a.lower().replace("-", "").replace("_", "") == b.lower().replace("-", "").replace("_", ""):
        return True
    limit = 1 if min(len(a), len(b)) <= 4 else 2
    return abs(len(a) - len(b)) <= limit and _distance(a, b, limit) <= limit


def _distance(a: str, b: str, limit: int) -> int:
    """Edit distance counting a swap of two neighbouring characters as one edit (optimal string
    alignment), stopping once every path exceeds ``limit``."""
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, rows[-2][j - 2] + 1)
            row.append(cost)
        if min(row) > limit:
            return limit + 1
        rows.append(row)
    return rows[-1][-1]


# Policy kinds of CNI plugins and the AdminNetworkPolicy API: their selectors are not read; one in
# a namespace (or a cluster-wide one anywhere) counts as covering every pod it could select.
_OTHER_POLICIES = {("cilium.io", "CiliumNetworkPolicy"): False, ("cilium.io", "CiliumClusterwideNetworkPolicy"): True,
                   ("crd.projectcalico.org", "NetworkPolicy"): False, ("projectcalico.org", "NetworkPolicy"): False,
                   ("crd.projectcalico.org", "GlobalNetworkPolicy"): True,
                   ("projectcalico.org", "GlobalNetworkPolicy"): True,
                   ("policy.networking.k8s.io", "AdminNetworkPolicy"): True,
                   ("policy.networking.k8s.io", "BaselineAdminNetworkPolicy"): True}
_NETPOL = doc("""
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata:
      name: web
    spec:
      podSelector:
        matchLabels:
          app: {app}
      policyTypes: [Ingress]
      ingress:
        - from:
            - podSelector: {{matchLabels: {{app: frontend}}}}
    """)


@rule("no-network-policy", _W, "A workload's pods are selected by no NetworkPolicy in their namespace.",
      cross=True, enabled=False,
      rationale="Pods no NetworkPolicy selects accept traffic from every pod in the cluster and may connect "
                "anywhere: one compromised pod reaches them all. Off by default, because clusters often "
                "isolate traffic in ways the repository does not show (policies managed elsewhere, a mesh).",
      hint="Add a NetworkPolicy whose podSelector selects these pods (a default-deny policy with an empty "
           "podSelector covers the whole namespace), then allow the traffic they need.",
      bad=deployment() + _NETPOL.format(app="api"), good=deployment() + _NETPOL.format(app="web"))
def no_network_policy(inv: Inventory, ctx: RuleContext) -> Iterator[Hit]:
    policies = [(np, as_dict(np.obj.get("spec")).get("podSelector")) for np in inv.kind("NetworkPolicy")]
    others = [r for r in inv.resources if (r.group, r.kind) in _OTHER_POLICIES]
    wide = any(_OTHER_POLICIES[(r.group, r.kind)] for r in others)
    for workload, labels in inv.pod_templates:
        if workload.kind == "PodTemplate" or wide:
            continue
        namespace = workload.namespace
        if any(same_namespace(r.namespace, namespace) for r in others):
            continue
        considered = [np for np, _ in policies if same_namespace(np.namespace, namespace)]
        if any(same_namespace(np.namespace, namespace) and _selects(selector, labels) for np, selector in policies):
            continue
        where = f"namespace {namespace}" if namespace else "its namespace"
        text = ",".join(f"{k}={v}" for k, v in labels.items()) or "no labels"
        yield Hit(workload, f"pods of {workload.kind}/{workload.name or '?'} ({text}) are selected by none of the "
                            f"{len(considered)} NetworkPolicy object(s) in {where}",
                  template_labels_path(workload.kind), evidence=text)


def template_labels_path(kind: str) -> FieldPath:
    """Where a workload keeps its pods' labels (a Pod: its own)."""
    meta = template_metadata_path(kind)
    return ("metadata", "labels") if meta is None else (*meta, "labels")


def _selects(selector: Any, labels: dict[str, Any]) -> bool:
    """A NetworkPolicy podSelector: an empty one selects every pod of the namespace."""
    sel = as_dict(selector)
    if not as_dict(sel.get("matchLabels")) and not as_list(sel.get("matchExpressions")):
        return isinstance(selector, dict)
    return selector_matches(sel, labels)


def _backends(ingress: Resource) -> Iterator[tuple[str, FieldPath]]:
    """Every backend Service name of an Ingress (networking/v1 and the old v1beta1 shape)."""
    spec = as_dict(ingress.obj.get("spec"))

    def names(backend: object, base: FieldPath) -> Iterator[tuple[str, FieldPath]]:
        b = as_dict(backend)
        name = as_dict(b.get("service")).get("name")
        if isinstance(name, str):
            yield name, (*base, "service", "name")
        elif isinstance(b.get("serviceName"), str):
            yield b["serviceName"], (*base, "serviceName")

    for key in ("defaultBackend", "backend"):
        yield from names(spec.get(key), ("spec", key))
    for i, entry in enumerate(as_list(spec.get("rules"))):
        for j, path in enumerate(as_list(as_dict(as_dict(entry).get("http")).get("paths"))):
            base: FieldPath = ("spec", "rules", i, "http", "paths", j, "backend")
            yield from names(as_dict(path).get("backend"), base)


@rule("ingress-backend-missing", _W, "An Ingress routes to a Service that is not in the scanned set.",
      cross=True,
      rationale="Traffic to a missing backend Service gets 503s from the ingress controller.",
      hint="Fix the backend service name, or add the Service to the repository.",
      bad=deployment() + _WEB_SERVICE + "---\n" + _INGRESS.format(tls="", backend="web-svc"),
      good=deployment() + _WEB_SERVICE + "---\n" + _INGRESS.format(tls="", backend="web"))
def ingress_backend_missing(inv: Inventory, ctx: RuleContext) -> Iterator[Hit]:
    for ing in inv.kind("Ingress"):
        for name, path in _backends(ing):
            if not inv.service_exists(name, ing.namespace):
                yield Hit(ing, f"backend Service {name} is not defined in the scanned set", path,
                          evidence=name)


@rule("nodeport-service", _W, "A Service is of type NodePort.", kinds=("Service",), enabled=False,
      rationale="A NodePort opens the port on every node of the cluster, outside any ingress or load "
                "balancer policy.",
      hint="Use a ClusterIP Service behind an Ingress or a LoadBalancer Service.",
      bad=_SERVICE.format(type="NodePort", app="web").removeprefix("---\n"),
      good=_WEB_SERVICE.removeprefix("---\n"))
def nodeport_service(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if as_dict(res.obj.get("spec")).get("type") == "NodePort":
        yield Hit(res, "Service is of type NodePort", ("spec", "type"))


@rule("ingress-tls", _W, "An Ingress serves without TLS.", kinds=("Ingress",), enabled=False,
      rationale="Without spec.tls the ingress serves plain HTTP: credentials and cookies cross the network "
                "in clear.",
      hint="Add spec.tls with the hosts and a certificate Secret (e.g. issued by cert-manager).",
      bad=_INGRESS.format(tls="", backend="web"), good=_INGRESS.format(tls=_TLS, backend="web"))
def ingress_tls(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if not as_list(as_dict(res.obj.get("spec")).get("tls")):
        yield Hit(res, "Ingress has no tls section", ("spec", "tls"))
