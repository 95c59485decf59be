"""Service and Ingress rules: selectors and backends that meet nothing, exposure without TLS."""

from __future__ import annotations

from collections.abc import Iterator

from gatekeeper.checks.lint.examples import deployment, doc
from gatekeeper.checks.lint.inventory import Inventory
from gatekeeper.checks.lint.pods import as_dict, as_list
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


@rule("dangling-service", _W, "A Service's selector matches no workload in the scanned set.", cross=True,
      rationale="A Service that selects no pods has no endpoints: every request to it fails. A typo in a "
                "label is the usual cause.",
      hint="Make spec.selector match the labels of the pods the Service fronts (the pod template's labels).",
      bad=deployment() + _SERVICE.format(type="ClusterIP", app="webb"), good=deployment() + _WEB_SERVICE)
def dangling_service(inv: Inventory, ctx: RuleContext) -> Iterator[Hit]:
    for svc in inv.kind("Service"):
        spec = as_dict(svc.obj.get("spec"))
        selector = as_dict(spec.get("selector"))
        if not selector or spec.get("type") == "ExternalName":
            continue
        if not inv.templates_for_map(selector, svc.namespace):
            text = ",".join(f"{k}={v}" for k, v in selector.items())
            yield Hit(svc, f"selector {text} matches no workload's pods in the scanned set",
                      ("spec", "selector"), evidence=text)


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
