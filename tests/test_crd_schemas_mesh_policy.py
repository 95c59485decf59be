"""The shipped schemas for Gateway API, Kyverno and Istio's common kinds (and Flux's
ArtifactGenerator): objects written as the projects document them validate with no finding; a
misspelt field or a wrong value is reported at its line; nested blocks whose field sets vary by
release stay open."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_json

Write = Callable[[str, str], Path]

VALID = {
    "gateway": """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata:
          name: envoy
        spec:
          controllerName: gateway.envoyproxy.io/gatewayclass-controller
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata:
          name: shop
          namespace: infra
        spec:
          gatewayClassName: envoy
          listeners:
            - name: https
              hostname: "*.example.com"
              port: 443
              protocol: HTTPS
              tls:
                mode: Terminate
                certificateRefs:
                  - kind: Secret
                    name: wildcard-tls
              allowedRoutes:
                namespaces:
                  from: Selector
                  selector:
                    matchLabels:
                      shared-gateway-access: "true"
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata:
          name: web
          namespace: shop
        spec:
          parentRefs:
            - name: shop
              namespace: infra
              sectionName: https
          hostnames: ["shop.example.com"]
          rules:
            - matches:
                - path:
                    type: PathPrefix
                    value: /api
                  headers:
                    - name: x-canary
                      value: "true"
              filters:
                - type: RequestHeaderModifier
                  requestHeaderModifier:
                    add:
                      - name: x-route
                        value: api
              backendRefs:
                - name: api
                  port: 8080
                  weight: 90
              timeouts:
                request: 10s
        ---
        apiVersion: gateway.networking.k8s.io/v1beta1
        kind: ReferenceGrant
        metadata:
          name: allow-shop-routes
          namespace: infra
        spec:
          from:
            - group: gateway.networking.k8s.io
              kind: HTTPRoute
              namespace: shop
          to:
            - group: ""
              kind: Service
        """,
    "kyverno": """
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: require-labels
          annotations:
            policies.kyverno.io/title: Require Labels
        spec:
          validationFailureAction: Enforce
          background: true
          rules:
            - name: check-for-labels
              match:
                any:
                  - resources:
                      kinds: [Pod]
              validate:
                message: "The label `app.kubernetes.io/name` is required."
                pattern:
                  metadata:
                    labels:
                      app.kubernetes.io/name: "?*"
        ---
        apiVersion: kyverno.io/v2
        kind: PolicyException
        metadata:
          name: legacy-web
          namespace: shop
        spec:
          exceptions:
            - policyName: require-labels
              ruleNames: [check-for-labels]
          match:
            any:
              - resources:
                  kinds: [Pod]
                  names: ["legacy-*"]
        """,
    "flux-artifactgenerator": """
        apiVersion: source.extensions.fluxcd.io/v1beta1
        kind: ArtifactGenerator
        metadata:
          name: flux-system
          namespace: flux-system
        spec:
          sources:
            - alias: monorepo
              kind: GitRepository
              name: flux-system
          artifacts:
            - name: apps
              originRevision: "@monorepo"
              copy:
                - from: "@monorepo/apps/base/**"
                  to: "@artifact/base/"
        """,
    "istio": """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: reviews
        spec:
          hosts: [reviews]
          http:
            - match:
                - headers:
                    end-user:
                      exact: jason
              route:
                - destination:
                    host: reviews
                    subset: v2
            - route:
                - destination:
                    host: reviews
                    subset: v1
        ---
        apiVersion: networking.istio.io/v1beta1
        kind: DestinationRule
        metadata:
          name: reviews
        spec:
          host: reviews
          trafficPolicy:
            loadBalancer:
              simple: LEAST_REQUEST
          subsets:
            - name: v1
              labels:
                version: v1
            - name: v2
              labels:
                version: v2
        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata:
          name: default
          namespace: istio-system
        spec:
          mtls:
            mode: STRICT
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata:
          name: httpbin
          namespace: foo
        spec:
          selector:
            matchLabels:
              app: httpbin
          action: ALLOW
          rules:
            - from:
                - source:
                    principals: ["cluster.local/ns/default/sa/sleep"]
              to:
                - operation:
                    methods: ["GET"]
        """,
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_documented_objects_validate_with_no_finding(write: Write, tmp_path: Path, name: str) -> None:
    write(f"{name}.yaml", VALID[name])
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert report["findings"] == [] and code == 0


BAD = [
    ("gateway", "gateway.networking.k8s.io/v1", "Gateway",
     "spec:\n  gatewayClass: envoy\n  listeners:\n    - name: http\n      port: 80\n      protocol: HTTP\n",
     {("schema-unknown-field", 7), ("schema-required", 6)}),
    ("route", "gateway.networking.k8s.io/v1", "HTTPRoute",
     "spec:\n  rules:\n    - matches:\n        - path:\n            type: Prefix\n            value: /\n",
     {("schema-value", 10)}),
    ("kyverno", "kyverno.io/v1", "ClusterPolicy",
     "spec:\n  validationFailureAction: Block\n  rules:\n    - name: r\n      validation:\n        message: x\n",
     {("schema-value", 7), ("schema-unknown-field", 10)}),
    ("istio", "security.istio.io/v1", "PeerAuthentication",
     "spec:\n  mtls:\n    mode: strict\n", {("schema-value", 8)}),
]


@pytest.mark.parametrize("name,api,kind,spec,expected", BAD, ids=[b[0] for b in BAD])
def test_mistakes_are_reported_at_their_line(write: Write, tmp_path: Path, name: str, api: str, kind: str,
                                             spec: str, expected: set[tuple[str, int]]) -> None:
    write(f"{name}.yaml", f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: x\n  namespace: y\n{spec}")
    code, report = run_json(str(tmp_path), "--checks", "schema")
    assert {(f["rule"], f["line"]) for f in report["findings"]} == expected and code == 1
