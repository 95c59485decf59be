"""Seed manifests for the fuzzers and planted credentials: every documented example of every rule
(good and bad), plus the shapes that hold secrets (Secrets, env, embedded config, kubeconfigs,
Helm values, generators)."""

from __future__ import annotations

import random
import string
from functools import cache

from gatekeeper.checks import catalogue

EXTRA = (
    "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: Opaque\nstringData:\n  password: hunter2hunter2\n"
    "data:\n  token: aGVsbG8gd29ybGQ=\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\ndata:\n  app.properties: |\n"
    "    db.url=${DB_URL}\n    db.user=app\n  config.json: '{\"region\": \"eu\"}'\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: shop}\nspec:\n  replicas: 2\n"
    "  selector: {matchLabels: {app: d}}\n  template:\n    metadata: {labels: {app: d}}\n    spec:\n"
    "      containers:\n      - name: c\n        image: nginx:1.25\n        env:\n        - {name: MODE, value: fast}\n"
    "        ports: [{containerPort: 80, name: http}]\n        readinessProbe: {httpGet: {port: http, path: /}}\n",
    "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://k8s.example.com'}}]\n"
    "users: [{name: u, user: {token: abc}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n",
    "replicaCount: 2\nimage: {repository: nginx, tag: '1.25'}\nauth: {adminPassword: changeme}\n",
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [app.yaml]\n"
    "secretGenerator:\n- name: s\n  literals: [password=changeme]\n",
    "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: l}, data: {a: b}}\n",
)


@cache
def seeds() -> tuple[str, ...]:
    """Every seed document stream, in a stable order."""
    found = [text for rule in catalogue().rules for text in (rule.bad_example, rule.good_example) if text]
    return tuple(dict.fromkeys([*found, *EXTRA]))


def planted(seed: int) -> str:
    """A credential every output must keep out: a GitHub token shape, unique per seed."""
    pick = random.Random(seed)
    return "ghp_" + "".join(pick.choice(string.ascii_letters + string.digits) for _ in range(36))
