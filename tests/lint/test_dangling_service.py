"""``dangling-service`` without false alarms: Services in front of pods an operator creates, static
pods, unpopulated namespaces, headless and ExternalName Services are not reported; a selector that a
workload's labels nearly match is, and the message names that workload."""

from __future__ import annotations

from pathlib import Path

from tests.lint.helpers import line_of, of_rule, run, workload

ANY = {"dangling-service": {"options": {"report": "any"}}}


def service(name: str, selector: str, namespace: str = "monitoring", extra: str = "") -> str:
    return f"""
        apiVersion: v1
        kind: Service
        metadata:
          name: {name}
          namespace: {namespace}
        spec:
          {extra}selector:
            {selector}
          ports:
            - port: 9090
        """


def deployment(name: str, labels: str, namespace: str = "monitoring") -> str:
    return workload(name, labels, namespace)


# kube-prometheus: Services in front of the pods the Prometheus Operator creates from the custom
# resources, next to the operator's own Deployment (so the namespace is populated).
PROMETHEUS = """
    apiVersion: monitoring.coreos.com/v1
    kind: Prometheus
    metadata:
      name: k8s
      namespace: monitoring
      labels:
        app.kubernetes.io/name: prometheus
    spec:
      replicas: 2
      serviceAccountName: prometheus-k8s
    """
ALERTMANAGER = """
    apiVersion: monitoring.coreos.com/v1
    kind: Alertmanager
    metadata:
      name: main
      namespace: monitoring
    spec:
      replicas: 3
    """


def test_services_in_front_of_operator_managed_pods_are_not_dangling(tmp_path: Path) -> None:
    files = {
        "manifests/operator.yaml": deployment("prometheus-operator", "app.kubernetes.io/name: prometheus-operator"),
        "manifests/prometheus.yaml": PROMETHEUS,
        "manifests/alertmanager.yaml": ALERTMANAGER,
        "manifests/prometheus-service.yaml": service(
            "prometheus-k8s", "app.kubernetes.io/name: prometheus\n            prometheus: k8s"),
        "manifests/alertmanager-service.yaml": service(
            "alertmanager-main", "app.kubernetes.io/name: alertmanager\n            alertmanager: main"),
    }
    assert of_rule(run(tmp_path, files, rules=ANY), "dangling-service") == []
    assert of_rule(run(tmp_path, files), "dangling-service") == []
    # control: without the custom resources the same Services are reported (report: any)
    (tmp_path / "manifests/prometheus.yaml").unlink()
    (tmp_path / "manifests/alertmanager.yaml").unlink()
    del files["manifests/prometheus.yaml"], files["manifests/alertmanager.yaml"]
    assert len(of_rule(run(tmp_path, files, rules=ANY), "dangling-service")) == 2


def test_a_custom_resource_whose_pod_template_carries_the_labels_counts(tmp_path: Path) -> None:
    """An operator the gate does not know (here an Argo Rollout-like kind) with the labels in its spec."""
    files = {
        "app/other.yaml": deployment("worker", "app: worker", "shop"),
        "app/rollout.yaml": """
            apiVersion: rollouts.example.com/v1
            kind: CanaryRelease
            metadata: {name: web, namespace: shop}
            spec:
              template:
                metadata:
                  labels: {app: web}
            """,
        "app/service.yaml": service("web", "app: web", "shop"),
    }
    assert of_rule(run(tmp_path, files, rules=ANY), "dangling-service") == []
    files["app/rollout.yaml"] = files["app/rollout.yaml"].replace("{app: web}", "{app: other}")
    assert len(of_rule(run(tmp_path, files, rules=ANY), "dangling-service")) == 1  # control


def test_static_pods_and_gpu_operator_pods_in_namespaces_the_tree_does_not_populate(tmp_path: Path) -> None:
    files = {
        "manifests/kube-scheduler-service.yaml": service(
            "kube-scheduler", "component: kube-scheduler", "kube-system"),
        "gpu/dcgm-exporter-service.yaml": service("dcgm", "app.kubernetes.io/name: gpu-dcgm-exporter", "gpu-operator"),
        "apps/web.yaml": deployment("web", "app: web", "shop"),
    }
    assert of_rule(run(tmp_path, files, rules=ANY), "dangling-service") == []


def test_headless_and_external_name_services_are_not_reported(tmp_path: Path) -> None:
    files = {
        "apps/web.yaml": deployment("web", "app: web", "shop"),
        "apps/headless.yaml": service("peers", "app: wbe", "shop", extra="clusterIP: None\n          "),
        "apps/external.yaml": service("db", "app: wbe", "shop", extra="type: ExternalName\n          "
                                                                        "externalName: db.example.com\n          "),
    }
    assert of_rule(run(tmp_path, files, rules=ANY), "dangling-service") == []
    files["apps/headless.yaml"] = service("peers", "app: wbe", "shop")  # control: an ordinary Service
    assert len(of_rule(run(tmp_path, files), "dangling-service")) == 1


def test_a_typo_in_the_selector_is_reported_with_the_workload_it_nearly_matches(tmp_path: Path) -> None:
    text = service("web", "app: wbe\n            tier: frontend", "shop")
    files = {"apps/web.yaml": deployment("web", "app: web, tier: frontend", "shop"),
             "apps/api.yaml": deployment("api", "app: api", "shop"),
             "apps/service.yaml": text}
    [finding] = of_rule(run(tmp_path, files), "dangling-service")
    assert (finding.path, finding.line) == ("apps/service.yaml", line_of(text, "selector:"))
    assert finding.message == ("selector app=wbe,tier=frontend matches no pods in the scanned set; Deployment/web "
                               "has app=web (a typo?)")


def test_a_label_key_typo_and_a_missing_label(tmp_path: Path) -> None:
    key_typo = service("web", "ap: web", "shop")
    missing = service("api", "app: api\n            track: stable", "shop")
    files = {"apps/web.yaml": deployment("web", "app: web", "shop"),
             "apps/api.yaml": deployment("api", "app: api", "shop"),
             "apps/web-service.yaml": key_typo, "apps/api-service.yaml": missing}
    found = sorted((f.path, f.line, f.message) for f in of_rule(run(tmp_path, files), "dangling-service"))
    assert found == [
        ("apps/api-service.yaml", 7, "selector app=api,track=stable matches no pods in the scanned set; "
                                     "Deployment/api has no track label (a typo?)"),
        ("apps/web-service.yaml", 7, "selector ap=web matches no pods in the scanned set; Deployment/web has "
                                     "app=web (a typo?)")]


def test_report_any_names_the_workloads_considered(tmp_path: Path) -> None:
    files = {"apps/web.yaml": deployment("web", "app: web", "shop"),
             "apps/api.yaml": deployment("api", "app: api", "shop"),
             "apps/service.yaml": service("cache", "app: redis", "shop")}
    assert of_rule(run(tmp_path, files), "dangling-service") == []  # no near miss: the default is silent
    [finding] = of_rule(run(tmp_path, files, rules=ANY), "dangling-service")
    assert finding.message == ("selector app=redis matches none of the 2 workload(s) considered "
                               "(Deployment/api, Deployment/web)")


def test_unset_namespaces_consider_the_workloads_of_the_same_directory(tmp_path: Path) -> None:
    files = {"base/web.yaml": deployment("web", "app: web", "shop"),
             "overlay/service.yaml": service("web", "app: webb", "shop").replace("  namespace: shop\n", "")}
    assert of_rule(run(tmp_path, files, rules=ANY), "dangling-service") == []  # nothing beside it
    files["overlay/worker.yaml"] = deployment("worker", "app: web", "shop").replace("  namespace: shop\n", "")
    assert of_rule(run(tmp_path, files, rules=ANY), "dangling-service") == []  # matches the worker
