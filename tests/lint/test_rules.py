"""Rule details beyond the documented examples: edge cases, negatives, options and configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.checks.lint.images import split_image
from gatekeeper.model import Severity
from tests.lint.helpers import line_of, of_rule, run


def _pod(body: str, name: str = "web", extra_meta: str = "") -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n{extra_meta}spec:\n" + body)


@pytest.mark.parametrize(("ref", "expected"), [
    ("nginx", ("nginx", None, None)),
    ("registry:5000/team/app", ("registry:5000/team/app", None, None)),
    ("registry:5000/team/app:1.2", ("registry:5000/team/app", "1.2", None)),
    ("app:latest@sha256:abc", ("app", "latest", "sha256:abc")),
    ("app@sha256:abc", ("app", None, "sha256:abc")),
])
def test_split_image(ref: str, expected: tuple[str, str | None, str | None]) -> None:
    assert split_image(ref) == expected


def test_image_rules_respect_digests_and_registry_ports(tmp_path: Path) -> None:
    text = _pod("""  containers:
    - name: a
      image: registry:5000/team/app
    - name: b
      image: registry:5000/team/app:1.2
    - name: c
      image: app:latest@sha256:0123
    - name: d
      image: app@sha256:0123
""")
    report = run(tmp_path, {"p.yaml": text})
    expected = [line_of(text, "image: registry:5000/team/app")]
    assert [f.line for f in of_rule(report, "image-untagged")] == expected
    assert of_rule(report, "image-latest") == []


def test_host_path_severity_follows_sensitivity_and_option(tmp_path: Path) -> None:
    text = _pod("""  containers:
    - name: a
      image: a:1
  volumes:
    - name: logs
      hostPath: {path: /var/log}
    - name: certs
      hostPath:
        path: /etc/ssl/certs/
""")
    report = run(tmp_path / "default", {"p.yaml": text})
    got = {(f.line, f.severity) for f in of_rule(report, "host-path")}
    assert got == {(line_of(text, "hostPath: {path: /var/log}"), Severity.WARNING),
                   (line_of(text, "hostPath:", 2), Severity.ERROR)}
    options = {"host-path": {"options": {"sensitive_paths": ["/var"]}}}
    tuned = run(tmp_path / "tuned", {"p.yaml": text}, rules=options)
    assert {(f.line, f.severity) for f in of_rule(tuned, "host-path")} == {
        (line_of(text, "hostPath: {path: /var/log}"), Severity.ERROR),
        (line_of(text, "hostPath:", 2), Severity.WARNING)}


def test_probe_ports_named_numeric_and_undeclared(tmp_path: Path) -> None:
    text = _pod("""  containers:
    - name: a
      image: a:1
      ports:
        - {name: http, containerPort: 8080}
      livenessProbe:
        httpGet: {path: /, port: http}
      readinessProbe:
        tcpSocket: {port: 9090}
      startupProbe:
        grpc: {port: 8080}
    - name: b
      image: b:1
      livenessProbe:
        httpGet: {path: /, port: 8080}
      readinessProbe:
        httpGet: {path: /, port: metrics}
""")
    found = of_rule(run(tmp_path, {"p.yaml": text}), "probe-port")
    assert {(f.line, f.severity) for f in found} == {
        (line_of(text, "tcpSocket: {port: 9090}"), Severity.WARNING),
        (line_of(text, "httpGet: {path: /, port: metrics}"), Severity.ERROR)}


def test_limits_imply_requests_and_probes_skip_run_to_completion(tmp_path: Path) -> None:
    text = _pod("""  restartPolicy: Never
  containers:
    - name: a
      image: a:1
      resources:
        limits: {cpu: "1", memory: 1Gi}
""")
    report = run(tmp_path, {"p.yaml": text})
    assert not {f.rule for f in report.findings} & {"cpu-requests", "memory-requests", "memory-limit",
                                                     "liveness-probe", "readiness-probe"}


def test_selector_with_match_expressions(tmp_path: Path) -> None:
    def deployment(op: str) -> str:
        return f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: web}}
        spec:
          selector:
            matchExpressions:
              - {{key: tier, operator: {op}, values: [front]}}
          template:
            metadata:
              labels: {{tier: front}}
            spec:
              containers: [{{name: a, image: "a:1"}}]
        """
    assert of_rule(run(tmp_path / "in", {"d.yaml": deployment("In")}), "selector-mismatch") == []
    [bad] = of_rule(run(tmp_path / "notin", {"d.yaml": deployment("NotIn")}), "selector-mismatch")
    assert bad.line == 5


DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: api}}
  template:
    metadata:
      labels: {{app: api, tier: back}}
    spec:
      containers: [{{name: api, image: "api:1"}}]
"""
HPA = """
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  minReplicas: 2
  maxReplicas: 5
"""
PDB = """
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: api, namespace: shop}}
spec:
  {budget}
  selector:
    matchLabels: {{app: api}}
"""


def test_single_replica_threshold_and_autoscaler(tmp_path: Path) -> None:
    on = {"single-replica": {"enabled": True}}
    one = DEPLOY.format(replicas=1)
    [finding] = of_rule(run(tmp_path / "a", {"d.yaml": one}, rules=on), "single-replica")
    assert finding.line == line_of(one, "replicas: 1")
    assert of_rule(run(tmp_path / "b", {"d.yaml": one, "hpa.yaml": HPA}, rules=on), "single-replica") == []
    two = DEPLOY.format(replicas=2)
    assert of_rule(run(tmp_path / "c", {"d.yaml": two}, rules=on), "single-replica") == []
    three = {"single-replica": {"enabled": True, "options": {"min_replicas": 3}}}
    assert len(of_rule(run(tmp_path / "d", {"d.yaml": DEPLOY.format(replicas=2)}, rules=three),
                       "single-replica")) == 1
    assert of_rule(run(tmp_path / "e", {"d.yaml": one}), "single-replica") == []  # opt-in


def test_pdb_rules_across_files(tmp_path: Path) -> None:
    on = {"missing-pdb": {"enabled": True}}
    deploy = DEPLOY.format(replicas=3)
    [missing] = of_rule(run(tmp_path / "a", {"apps/d.yaml": deploy}, rules=on), "missing-pdb")
    assert missing.line == line_of(deploy, "replicas: 3")
    one = PDB.format(budget="maxUnavailable: 1")
    ok = run(tmp_path / "b", {"apps/d.yaml": deploy, "policy/pdb.yaml": one}, rules=on)
    assert of_rule(ok, "missing-pdb") == [] and of_rule(ok, "pdb-blocks-eviction") == []
    zero = PDB.format(budget='maxUnavailable: "0%"')
    [blocked] = of_rule(run(tmp_path / "c", {"apps/d.yaml": deploy, "pdb.yaml": zero}), "pdb-blocks-eviction")
    assert (blocked.path, blocked.line) == ("pdb.yaml", line_of(zero, "maxUnavailable"))
    full = PDB.format(budget="minAvailable: 3")
    [blocked] = of_rule(run(tmp_path / "d", {"apps/d.yaml": deploy, "pdb.yaml": full}), "pdb-blocks-eviction")
    assert "3 replica(s) of Deployment api" in blocked.message
    other_ns = full.replace("namespace: shop", "namespace: other")
    elsewhere = run(tmp_path / "e", {"apps/d.yaml": deploy, "pdb.yaml": other_ns})
    assert of_rule(elsewhere, "pdb-blocks-eviction") == []


SERVICE = """
apiVersion: v1
kind: Service
metadata:
  name: api
  {namespace}
spec:
  selector:
    app: {app}
  ports: [{{port: 80}}]
"""


def test_dangling_service_across_files_and_namespaces(tmp_path: Path) -> None:
    deploy = DEPLOY.format(replicas=2)
    same = SERVICE.format(namespace="namespace: shop", app="api")
    fine = run(tmp_path / "a", {"d.yaml": deploy, "svc.yaml": same})
    assert of_rule(fine, "dangling-service") == []
    no_ns = run(tmp_path / "b", {"d.yaml": deploy, "svc.yaml": SERVICE.format(namespace="", app="api")})
    assert of_rule(no_ns, "dangling-service") == []  # a namespace set later may match
    other = SERVICE.format(namespace="namespace: other", app="api")
    # nothing in the tree deploys to namespace "other": its pods come from elsewhere
    assert of_rule(run(tmp_path / "c", {"d.yaml": deploy, "svc.yaml": other}), "dangling-service") == []
    typo = SERVICE.format(namespace="namespace: shop", app="apii")
    [found] = of_rule(run(tmp_path / "d", {"d.yaml": deploy, "svc.yaml": typo}), "dangling-service")
    assert (found.path, found.line) == ("svc.yaml", line_of(typo, "selector:"))


def test_ingress_backends_old_and_new_shapes(tmp_path: Path) -> None:
    ingress = """
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: web, namespace: shop}
    spec:
      defaultBackend:
        service: {name: api, port: {number: 80}}
      rules:
        - http:
            paths:
              - path: /
                pathType: Prefix
                backend:
                  serviceName: legacy
                  servicePort: 80
    """
    svc = SERVICE.format(namespace="namespace: shop", app="api")
    report = run(tmp_path, {"ing.yaml": ingress, "svc.yaml": svc, "d.yaml": DEPLOY.format(replicas=2)})
    [missing] = of_rule(report, "ingress-backend-missing")
    assert missing.line == line_of(ingress, "serviceName: legacy") and "legacy" in missing.message


CM = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data: {a: b}
"""


def test_duplicate_objects_by_directory_and_whole_set(tmp_path: Path) -> None:
    same_dir = run(tmp_path / "a", {"app/one.yaml": CM, "app/two.yaml": CM})
    [dup] = of_rule(same_dir, "duplicate-object")
    assert (dup.path, dup.line) == ("app/two.yaml", line_of(CM, "name: settings"))
    assert "already defined in app/one.yaml:1" in dup.message
    envs = {"clusters/dev/cm.yaml": CM, "clusters/prod/cm.yaml": CM}
    assert of_rule(run(tmp_path / "b", envs), "duplicate-object") == []
    everywhere = run(tmp_path / "c", envs, rules={"duplicate-object": {"options": {"scope": "all"}}})
    assert len(of_rule(everywhere, "duplicate-object")) == 1
    other_ns = CM.replace("namespace: shop", "namespace: web")
    apart = run(tmp_path / "d", {"app/one.yaml": CM, "app/two.yaml": other_ns})
    assert of_rule(apart, "duplicate-object") == []


def test_namespace_required_knows_cluster_scoped_kinds(tmp_path: Path) -> None:
    crd = """
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: widgets.example.com}
    spec:
      group: example.com
      scope: Cluster
      names: {kind: Widget, plural: widgets}
      versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
    """
    files = {"crd.yaml": crd,
             "w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
             "role.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
                          "metadata:\n  name: r\n",
             "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"}
    report = run(tmp_path, files, rules={"namespace-required": {"enabled": True}})
    assert [(f.path, f.line) for f in of_rule(report, "namespace-required")] == [("cm.yaml", 3)]


def test_rbac_secret_reads_need_the_core_group_and_no_resource_names(tmp_path: Path) -> None:
    role = """
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata: {name: r}
    rules:
      - apiGroups: [""]
        resources: [secrets]
        resourceNames: [one]
        verbs: [get]
      - apiGroups: [apps]
        resources: [secrets]
        verbs: [list]
      - apiGroups: ["*"]
        resources: [configmaps, secrets]
        verbs: [watch]
    """
    [found] = of_rule(run(tmp_path, {"r.yaml": role}), "rbac-secrets-read")
    assert found.line == line_of(role, "resources: [configmaps, secrets]")
    assert found.field == "rules[2].resources[1]"


def test_automount_uses_the_service_account_in_the_set(tmp_path: Path) -> None:
    on = {"automount-service-account-token": {"enabled": True}}
    pod = _pod("  serviceAccountName: quiet\n  containers: [{name: a, image: 'a:1'}]\n")
    sa = ("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: quiet\n"
          "automountServiceAccountToken: false\n")
    alone = run(tmp_path / "a", {"p.yaml": pod}, rules=on)
    assert len(of_rule(alone, "automount-service-account-token")) == 1
    assert of_rule(run(tmp_path / "b", {"p.yaml": pod, "sa.yaml": sa}, rules=on),
                   "automount-service-account-token") == []


def test_config_disables_overrides_and_rejects_unknown_options(tmp_path: Path) -> None:
    text = _pod("  containers: [{name: a, image: 'a:latest'}]\n")
    report = run(tmp_path / "a", {"p.yaml": text},
                 rules={"image-latest": {"severity": "info"}, "cpu-requests": {"enabled": False}})
    assert [f.severity for f in of_rule(report, "image-latest")] == [Severity.INFO]
    assert of_rule(report, "cpu-requests") == []
    bad = run(tmp_path / "b", {"p.yaml": text}, rules={"host-path": {"options": {"sensitive": ["/"]}}})
    assert bad.exit_code == 2 and "rules.host-path.options.sensitive: unknown option" in bad.errors[0].message
    mistyped = {"single-replica": {"options": {"min_replicas": "3"}}}
    wrong = run(tmp_path / "c", {"p.yaml": text}, rules=mistyped)
    assert wrong.exit_code == 2 and "expected int" in wrong.errors[0].message
    unknown = run(tmp_path / "d", {"p.yaml": text}, rules={"duplicate-object": {"options": {"scope": "repo"}}})
    assert unknown.exit_code == 2 and "must be one of directory, all" in unknown.errors[0].message


def test_sysctls_allow_list_option(tmp_path: Path) -> None:
    text = _pod("""  securityContext:
    sysctls:
      - {name: net.core.somaxconn, value: "1024"}
  containers: [{name: a, image: "a:1"}]
""")
    assert len(of_rule(run(tmp_path / "a", {"p.yaml": text}), "unsafe-sysctls")) == 1
    allowed = {"unsafe-sysctls": {"options": {"allowed": ["net.core.somaxconn"]}}}
    assert of_rule(run(tmp_path / "b", {"p.yaml": text}, rules=allowed), "unsafe-sysctls") == []
