"""Pods that something other than a pod template creates: operators' custom resources.

A Service in front of Prometheus selects pods the Prometheus Operator creates from a
``Prometheus`` object; no Deployment in the tree carries those labels. Cross-object rules that
ask "does anything create pods with these labels?" must count such objects: custom resources of
known pod-creating kinds in the namespace, and any custom resource whose labels, or label maps
in its spec (pod templates, selectors, pod metadata), carry a pair the question asks about.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from gatekeeper.model import Resource

# Custom resource kinds whose controllers create pods (group -> kinds).
POD_CREATING_KINDS: dict[str, frozenset[str]] = {
    "monitoring.coreos.com": frozenset({"Prometheus", "PrometheusAgent", "Alertmanager", "ThanosRuler"}),
    "monitoring.rhobs": frozenset({"Prometheus", "Alertmanager", "ThanosRuler"}),
    "elasticsearch.k8s.elastic.co": frozenset({"Elasticsearch"}),
    "kibana.k8s.elastic.co": frozenset({"Kibana"}),
    "apm.k8s.elastic.co": frozenset({"ApmServer"}),
    "beat.k8s.elastic.co": frozenset({"Beat"}),
    "agent.k8s.elastic.co": frozenset({"Agent"}),
    "logstash.k8s.elastic.co": frozenset({"Logstash"}),
    "enterprisesearch.k8s.elastic.co": frozenset({"EnterpriseSearch"}),
    "kafka.strimzi.io": frozenset({"Kafka", "KafkaConnect", "KafkaMirrorMaker2", "KafkaBridge", "KafkaNodePool"}),
    "postgresql.cnpg.io": frozenset({"Cluster", "Pooler"}),
    "acid.zalan.do": frozenset({"postgresql"}),
    "postgres-operator.crunchydata.com": frozenset({"PostgresCluster"}),
    "rabbitmq.com": frozenset({"RabbitmqCluster"}),
    "redis.redis.opstreelabs.in": frozenset({"Redis", "RedisCluster", "RedisReplication", "RedisSentinel"}),
    "databases.spotahome.com": frozenset({"RedisFailover"}),
    "mysql.oracle.com": frozenset({"InnoDBCluster"}),
    "pxc.percona.com": frozenset({"PerconaXtraDBCluster"}),
    "psmdb.percona.com": frozenset({"PerconaServerMongoDB"}),
    "pgv2.percona.com": frozenset({"PerconaPGCluster"}),
    "mongodbcommunity.mongodb.com": frozenset({"MongoDBCommunity"}),
    "mongodb.com": frozenset({"MongoDB", "MongoDBOpsManager"}),
    "jaegertracing.io": frozenset({"Jaeger"}),
    "opentelemetry.io": frozenset({"OpenTelemetryCollector"}),
    "grafana.integreatly.org": frozenset({"Grafana"}),
    "integreatly.org": frozenset({"Grafana"}),
    "minio.min.io": frozenset({"Tenant"}),
    "clickhouse.altinity.com": frozenset({"ClickHouseInstallation", "ClickHouseKeeperInstallation"}),
    "ray.io": frozenset({"RayCluster", "RayService", "RayJob"}),
    "sparkoperator.k8s.io": frozenset({"SparkApplication", "ScheduledSparkApplication"}),
    "nvidia.com": frozenset({"ClusterPolicy", "NVIDIADriver"}),
    "serving.knative.dev": frozenset({"Service", "Configuration", "Revision"}),
    "argoproj.io": frozenset({"Rollout", "Workflow", "CronWorkflow", "EventSource", "Sensor", "EventBus"}),
    "keda.sh": frozenset({"ScaledJob"}),
    "apps.kubeblocks.io": frozenset({"Cluster"}),
    "cassandra.datastax.com": frozenset({"CassandraDatacenter"}),
    "k8ssandra.io": frozenset({"K8ssandraCluster"}),
    "vitess.io": frozenset({"VitessCluster"}),
    "zookeeper.pravega.io": frozenset({"ZookeeperCluster"}),
    "druid.apache.org": frozenset({"Druid"}),
    "flink.apache.org": frozenset({"FlinkDeployment", "FlinkSessionJob"}),
    "camel.apache.org": frozenset({"Integration"}),
    "tekton.dev": frozenset({"TaskRun", "PipelineRun"}),
    "kubevirt.io": frozenset({"VirtualMachine", "VirtualMachineInstance"}),
    "loki.grafana.com": frozenset({"LokiStack"}),
    "tempo.grafana.com": frozenset({"TempoStack", "TempoMonolithic"}),
    "fluentbit.fluent.io": frozenset({"FluentBit"}),
    "fluentd.fluent.io": frozenset({"Fluentd"}),
    "logging.banzaicloud.io": frozenset({"Logging"}),
    "install.istio.io": frozenset({"IstioOperator"}),
    "sailoperator.io": frozenset({"Istio"}),
    "gateway.networking.k8s.io": frozenset({"Gateway"}),  # a Gateway controller deploys its proxy pods
    "kubeflow.org": frozenset({"Notebook", "TFJob", "PyTorchJob", "MPIJob", "XGBoostJob", "PaddleJob"}),
    "batch.volcano.sh": frozenset({"Job"}),
    "apps.kruise.io": frozenset({"CloneSet", "StatefulSet", "DaemonSet", "BroadcastJob", "AdvancedCronJob"}),
    "helm.toolkit.fluxcd.io": frozenset({"HelmRelease"}),  # a chart rendered in the cluster
}
_MAX_WALK = 2000  # nodes of one object's spec read for label pairs


def is_builtin_group(group: str) -> bool:
    """Core Kubernetes API groups (``""``, ``apps``, ``*.k8s.io``): not custom resources."""
    return "." not in group or (group.endswith(".k8s.io") and group not in POD_CREATING_KINDS)


def creates_pods(resource: Resource) -> bool:
    """A custom resource of a kind known to make its controller create pods."""
    return resource.kind in POD_CREATING_KINDS.get(resource.group, frozenset())


def label_pairs(resource: Resource) -> set[tuple[str, str]]:
    """Every (key, value) pair of string-like scalars in the object's labels and in any mapping of
    its spec: where pod labels, pod-template labels and selectors of a custom resource sit."""
    pairs: set[tuple[str, str]] = set()
    meta = resource.obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    _pairs_of(labels, pairs)
    stack: list[Any] = [resource.obj.get("spec")]
    seen = 0
    while stack and seen < _MAX_WALK:
        node = stack.pop()
        seen += 1
        if isinstance(node, dict):
            _pairs_of(node, pairs)
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return pairs


def _pairs_of(mapping: Any, out: set[tuple[str, str]]) -> None:
    if isinstance(mapping, dict):
        for key, value in mapping.items():
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                out.add((str(key), str(value)))


class PodCreators:
    """Custom resources that create (or may create) pods, indexed for selector questions."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self.known: list[Resource] = []
        self.by_pair: dict[tuple[str, str], list[Resource]] = defaultdict(list)
        for r in resources:
            if is_builtin_group(r.group):
                continue
            if creates_pods(r):
                self.known.append(r)
            for pair in label_pairs(r):
                self.by_pair[pair].append(r)

    def for_selector(self, selector: dict[str, Any], namespace: str | None) -> Resource | None:
        """A custom resource that may create the pods ``selector`` asks for in ``namespace``: one of a
        known pod-creating kind in the namespace, or any whose labels or spec carry a selector pair."""
        for r in self.known:
            if _namespace_ok(r.namespace, namespace):
                return r
        for key, value in selector.items():
            for r in self.by_pair.get((str(key), str(value)), ()):
                if _namespace_ok(r.namespace, namespace):
                    return r
        return None


def _namespace_ok(owner: str | None, namespace: str | None) -> bool:
    """An unset namespace (or a cluster-scoped operator object) may meet any namespace."""
    return owner is None or namespace is None or owner == namespace
