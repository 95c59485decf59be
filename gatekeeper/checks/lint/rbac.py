"""RBAC rules: wildcards, cluster-admin bindings, secret reads and pod exec."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gatekeeper.checks.lint.examples import doc
from gatekeeper.checks.lint.pods import as_dict, as_list
from gatekeeper.checks.lint.registry import Hit, RuleContext, rule
from gatekeeper.model import Resource, Severity

_E, _W = Severity.ERROR, Severity.WARNING
ROLE_KINDS = ("Role", "ClusterRole")
_ROLE = doc("""
    apiVersion: rbac.authorization.k8s.io/v1
    kind: Role
    metadata:
      name: reader
      namespace: shop
    rules:
      - apiGroups: ["{group}"]
        resources: [{resources}]
        verbs: [{verbs}]
    """)
_BINDING = doc("""
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRoleBinding
    metadata:
      name: deployer
    roleRef:
      apiGroup: rbac.authorization.k8s.io
      kind: ClusterRole
      name: {role}
    subjects:
      - kind: ServiceAccount
        name: deployer
        namespace: ci
    """)


def _rules(res: Resource) -> Iterator[tuple[int, dict[str, Any]]]:
    for i, item in enumerate(as_list(res.obj.get("rules"))):
        if isinstance(item, dict):
            yield i, item


def _strings(value: Any) -> list[str]:
    return [str(v) for v in as_list(value)]


@rule("rbac-wildcard", _E, "A Role or ClusterRole grants '*' verbs or resources.", kinds=ROLE_KINDS,
      rationale="A wildcard grants everything, including verbs and resources added in future versions and by "
                "CRDs: it cannot be reviewed.",
      hint="List the exact verbs and resources the subject needs.",
      bad=_ROLE.format(group="apps", resources='"*"', verbs='"*"'),
      good=_ROLE.format(group="apps", resources="deployments", verbs="get, list, watch"))
def rbac_wildcard(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    for i, item in _rules(res):
        for key in ("verbs", "resources"):
            values = _strings(item.get(key))
            if "*" in values:
                yield Hit(res, f"rules[{i}] grants '*' {key}", ("rules", i, key), evidence=key)


@rule("cluster-admin-binding", _E, "A binding grants the cluster-admin role (a RoleBinding: within its "
      "namespace, a warning).",
      kinds=("RoleBinding", "ClusterRoleBinding"), options={"roles": ["cluster-admin"]},
      option_docs={"roles": "ClusterRole names treated as cluster-admin"},
      rationale="Through a ClusterRoleBinding, cluster-admin can do anything in every namespace; a leaked token "
                "of a bound subject is a cluster takeover (error). Through a RoleBinding it is full control of "
                "that one namespace, its Secrets, RBAC and workloads included (warning).",
      hint="Bind a role with only the permissions the subject needs.",
      bad=_BINDING.format(role="cluster-admin"), good=_BINDING.format(role="deployer"))
def cluster_admin_binding(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    ref = as_dict(res.obj.get("roleRef"))
    if ref.get("kind") != "ClusterRole" or ref.get("name") not in ctx.options["roles"]:
        return
    if res.kind == "RoleBinding":
        where = f"namespace {res.namespace}" if res.namespace else "the namespace it is applied to"
        yield Hit(res, f"RoleBinding grants ClusterRole {ref.get('name')} within {where}: full control of that "
                       "namespace", ("roleRef", "name"), severity=_W)
    else:
        yield Hit(res, f"ClusterRoleBinding grants ClusterRole {ref.get('name')} in every namespace",
                  ("roleRef", "name"))


ESCALATION_VERBS = ("bind", "escalate", "impersonate")


@rule("rbac-escalation-verbs", _W, "A role grants bind, escalate or impersonate.", kinds=ROLE_KINDS,
      rationale="escalate lets a subject create or edit roles with permissions it does not have, bind lets it "
                "bind any role to itself, impersonate lets it act as any user, group or service account: each "
                "is a way around RBAC itself.",
      hint="Remove the verb, or limit it with resourceNames to the exact roles or identities needed.",
      bad=_ROLE.format(group="rbac.authorization.k8s.io", resources="roles, rolebindings",
                       verbs="get, create, bind, escalate"),
      good=_ROLE.format(group="rbac.authorization.k8s.io", resources="roles, rolebindings", verbs="get, create"))
def rbac_escalation_verbs(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    for i, item in _rules(res):
        if item.get("resourceNames"):
            continue  # limited to named roles or identities
        for j, verb in enumerate(_strings(item.get("verbs"))):
            if verb in ESCALATION_VERBS:
                yield Hit(res, f"rules[{i}] grants {verb}", ("rules", i, "verbs", j), evidence=verb)


def _grants(item: dict[str, Any], resource: str, verbs: set[str]) -> int | None:
    """Index of ``resource`` in a rule's resources when the rule grants one of ``verbs`` (core group)."""
    groups = _strings(item.get("apiGroups"))
    if groups and not {"", "*"} & set(groups):
        return None
    if not verbs & set(_strings(item.get("verbs"))):
        return None
    names = _strings(item.get("resources"))
    return names.index(resource) if resource in names else None


@rule("rbac-secrets-read", _W, "A role can read Secrets.", kinds=ROLE_KINDS,
      rationale="get/list/watch on secrets reads every credential in scope (list returns the values too).",
      hint="Grant access to named secrets only (resourceNames), or mount the secret instead of reading it.",
      bad=_ROLE.format(group="", resources="secrets", verbs="get, list"),
      good=_ROLE.format(group="", resources="configmaps", verbs="get, list"))
def rbac_secrets_read(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    for i, item in _rules(res):
        if item.get("resourceNames"):
            continue
        j = _grants(item, "secrets", {"get", "list", "watch", "*"})
        if j is not None:
            yield Hit(res, f"rules[{i}] can read secrets", ("rules", i, "resources", j))


@rule("rbac-pods-exec", _W, "A role can exec or attach into pods.", kinds=ROLE_KINDS,
      rationale="pods/exec and pods/attach run commands inside any pod in scope, with its credentials.",
      hint="Remove pods/exec and pods/attach; use ephemeral debug access granted on demand.",
      bad=_ROLE.format(group="", resources="pods, pods/exec", verbs="get, create"),
      good=_ROLE.format(group="", resources="pods, pods/log", verbs="get"))
def rbac_pods_exec(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    for i, item in _rules(res):
        for sub in ("pods/exec", "pods/attach"):
            j = _grants(item, sub, {"create", "get", "*"})
            if j is not None:
                yield Hit(res, f"rules[{i}] grants {sub}", ("rules", i, "resources", j), evidence=sub)
