"""The rules users expected: cpu-limit, added-capabilities, rbac-escalation-verbs, no-network-policy,
image-pull-policy, and cluster-admin-binding telling a RoleBinding from a ClusterRoleBinding."""

from __future__ import annotations

from pathlib import Path

from gatekeeper.model import Severity
from tests.lint.helpers import line_of, of_rule, run
from tests.lint.helpers import workload as make_workload

ON = {r: {"enabled": True} for r in ("cpu-limit", "no-network-policy")}


def workload(name: str, container: str = "", namespace: str = "shop", image: str = "reg.example.com/web:1.2.3",
             labels: str = "app: web") -> str:
    return make_workload(name, labels, namespace, image, container)


def test_cpu_limit_is_opt_in(tmp_path: Path) -> None:
    text = workload("web", "resources: {limits: {memory: 1Gi}}")
    assert of_rule(run(tmp_path / "a", {"w.yaml": text}), "cpu-limit") == []
    [found] = of_rule(run(tmp_path / "b", {"w.yaml": text}, rules=ON), "cpu-limit")
    assert (found.line, found.field, found.message) == (
        line_of(text, "resources:"), "spec.template.spec.containers[0].resources.limits.cpu",
        "container 'web' has no cpu limit")
    fine = workload("web", "resources: {limits: {memory: 1Gi, cpu: '1'}}")
    assert of_rule(run(tmp_path / "c", {"w.yaml": fine}, rules=ON), "cpu-limit") == []


def test_added_capabilities_beyond_the_allow_list(tmp_path: Path) -> None:
    text = workload("web", "securityContext: {capabilities: {drop: [ALL], add: [NET_BIND_SERVICE, CAP_CHOWN, "
                           "SYS_ADMIN, SETUID]}}")
    report = run(tmp_path / "a", {"w.yaml": text})
    added = sorted((f.field, f.message) for f in of_rule(report, "added-capabilities"))
    base = "spec.template.spec.containers[0].securityContext.capabilities.add"
    assert added == [(f"{base}[1]", "container 'web' adds capability CAP_CHOWN, which is not in the allowed set"),
                     (f"{base}[3]", "container 'web' adds capability SETUID, which is not in the allowed set")]
    assert [f.field for f in of_rule(report, "dangerous-capabilities")] == [f"{base}[2]"]  # not both rules
    allowed = {"added-capabilities": {"options": {"allowed": ["NET_BIND_SERVICE", "CHOWN", "SETUID"]}}}
    assert of_rule(run(tmp_path / "b", {"w.yaml": text}, rules=allowed), "added-capabilities") == []


ROLE = """
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata:
      name: deployer
    rules:
      - apiGroups: [rbac.authorization.k8s.io]
        resources: [clusterroles]
        verbs: [bind]
        resourceNames: [view]
      - apiGroups: [""]
        resources: [users, serviceaccounts]
        verbs: [impersonate]
      - apiGroups: [rbac.authorization.k8s.io]
        resources: [roles]
        verbs: ["*"]
    """


def test_rbac_escalation_verbs(tmp_path: Path) -> None:
    report = run(tmp_path, {"role.yaml": ROLE})
    [found] = of_rule(report, "rbac-escalation-verbs")  # bind limited by resourceNames; '*' is rbac-wildcard's
    assert (found.line, found.field, found.message) == (line_of(ROLE, "verbs: [impersonate]"), "rules[1].verbs[0]",
                                                        "rules[1] grants impersonate")
    assert of_rule(report, "rbac-wildcard")


BINDING = """
    apiVersion: rbac.authorization.k8s.io/v1
    kind: {kind}
    metadata:
      name: admins
      {namespace}
    roleRef:
      apiGroup: rbac.authorization.k8s.io
      kind: ClusterRole
      name: cluster-admin
    subjects:
      - kind: Group
        name: team-shop
    """


def test_cluster_admin_through_a_role_binding_is_a_namespaced_warning(tmp_path: Path) -> None:
    rb = BINDING.format(kind="RoleBinding", namespace="namespace: shop")
    crb = BINDING.format(kind="ClusterRoleBinding", namespace="")
    report = run(tmp_path, {"rb.yaml": rb, "crb.yaml": crb})
    found = sorted((f.path, f.severity, f.message) for f in of_rule(report, "cluster-admin-binding"))
    assert found == [
        ("crb.yaml", Severity.ERROR, "ClusterRoleBinding grants ClusterRole cluster-admin in every namespace"),
        ("rb.yaml", Severity.WARNING, "RoleBinding grants ClusterRole cluster-admin within namespace shop: full "
                                      "control of that namespace")]


def test_image_pull_policy_for_moving_tags(tmp_path: Path) -> None:
    cases = {
        "main.yaml": ("reg.example.com/web:main", "IfNotPresent", True),
        "major.yaml": ("python:3", "Never", True),
        "untagged.yaml": ("reg.example.com/web", "IfNotPresent", True),
        "pinned.yaml": ("reg.example.com/web:1.2.3", "IfNotPresent", False),
        "digest.yaml": ("reg.example.com/web:main@sha256:" + "ab" * 32, "IfNotPresent", False),
        "always.yaml": ("reg.example.com/web:main", "Always", False),
    }
    files = {name: workload(name.split(".")[0], f"imagePullPolicy: {policy}", image=image)
             for name, (image, policy, _) in cases.items()}
    report = run(tmp_path, files)
    found = {f.path: f for f in of_rule(report, "image-pull-policy")}
    assert set(found) == {name for name, (_, _, bad) in cases.items() if bad}
    assert found["major.yaml"].line == line_of(files["major.yaml"], "imagePullPolicy")
    assert found["major.yaml"].message == "container 'major' pulls the moving tag :3 with imagePullPolicy Never"


NETPOL = """
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata:
      name: {name}
      namespace: {namespace}
    spec:
      podSelector: {selector}
      policyTypes: [Ingress]
    """


def test_no_network_policy_per_namespace(tmp_path: Path) -> None:
    files = {
        "shop/web.yaml": workload("web"),
        "shop/api.yaml": workload("api", labels="app: api"),
        "shop/policy.yaml": NETPOL.format(name="web", namespace="shop", selector="{matchLabels: {app: web}}"),
        "billing/pay.yaml": workload("pay", namespace="billing", labels="app: pay"),
        "billing/policy.yaml": NETPOL.format(name="deny-all", namespace="billing", selector="{}"),
        "other/policy.yaml": NETPOL.format(name="api", namespace="other", selector="{matchLabels: {app: api}}"),
    }
    [found] = of_rule(run(tmp_path, files, rules=ON), "no-network-policy")
    assert (found.path, found.line, found.field) == ("shop/api.yaml", line_of(files["shop/api.yaml"], "labels:"),
                                                     "spec.template.metadata.labels")
    assert found.message == "pods of Deployment/api (app=api) are selected by none of the 1 NetworkPolicy " \
                            "object(s) in namespace shop"


def test_cni_policies_count_as_coverage(tmp_path: Path) -> None:
    files = {"shop/web.yaml": workload("web"),
             "shop/cilium.yaml": "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n"
                                 "  name: web\n  namespace: shop\nspec:\n  endpointSelector: {}\n"}
    assert of_rule(run(tmp_path, files, rules=ON), "no-network-policy") == []
    del files["shop/cilium.yaml"]
    (tmp_path / "shop/cilium.yaml").unlink()
    assert len(of_rule(run(tmp_path, files, rules=ON), "no-network-policy")) == 1
