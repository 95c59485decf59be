"""Controller rules: selectors, replicas and disruption budgets, Job and CronJob lifecycle."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gatekeeper.checks.lint.examples import deployment, doc
from gatekeeper.checks.lint.inventory import (
    Inventory,
    map_selector_matches,
    selector_matches,
)
from gatekeeper.checks.lint.pods import as_dict, template_labels
from gatekeeper.checks.lint.registry import Hit, RuleContext, rule
from gatekeeper.model import Resource, Severity

_E, _W = Severity.ERROR, Severity.WARNING
SCALABLE = ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController")
_JOB = doc("""
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: migrate
    spec:
      {ttl}template:
        spec:
          restartPolicy: Never
          containers:
            - name: migrate
              image: registry.example.com/shop/migrate:1.4.2
    """)
_CRON = doc("""
    apiVersion: batch/v1
    kind: CronJob
    metadata:
      name: report
    spec:
      schedule: "0 3 * * *"
      {deadline}jobTemplate:
        spec:
          template:
            spec:
              restartPolicy: OnFailure
              containers:
                - name: report
                  image: registry.example.com/shop/report:1.4.2
    """)
_PDB = doc("""
    ---
    apiVersion: policy/v1
    kind: PodDisruptionBudget
    metadata:
      name: web
    spec:
      {budget}
      selector:
        matchLabels:
          app: web
    """)


def replicas(resource: Resource) -> int | None:
    """Declared replicas (1 when unset, as the API defaults it); None when not a literal integer."""
    value = as_dict(resource.obj.get("spec")).get("replicas", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@rule("selector-mismatch", _E, "A controller's selector does not match its pod template's labels.",
      kinds=("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"),
      rationale="The API server rejects a Deployment, StatefulSet, DaemonSet or ReplicaSet whose selector "
                "does not select its own template; a ReplicationController or manual Job selector that "
                "misses its pods never counts them.",
      hint="Make spec.selector match labels that spec.template.metadata.labels sets.",
      bad=deployment().replace("      labels:\n        app: web", "      labels:\n        app: website"),
      good=deployment())
def selector_mismatch(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    spec = as_dict(res.obj.get("spec"))
    labels = template_labels(res) or {}
    if res.kind == "ReplicationController":
        selector = as_dict(spec.get("selector"))
        if selector and not map_selector_matches(selector, labels):
            yield Hit(res, "selector does not match the pod template's labels", ("spec", "selector"))
        return
    if res.kind == "Job" and spec.get("manualSelector") is not True:
        return
    if not isinstance(spec.get("selector"), dict):
        return  # a missing selector is the schema check's finding
    if not selector_matches(spec["selector"], labels):
        yield Hit(res, "selector does not match the pod template's labels", ("spec", "selector"))


@rule("single-replica", _W, "A workload runs fewer than two replicas and no autoscaler manages it.",
      kinds=SCALABLE, enabled=False, options={"min_replicas": 2},
      option_docs={"min_replicas": "fewest replicas accepted without an autoscaler"},
      rationale="One replica means downtime at every rollout, node drain or crash.",
      hint="Run at least two replicas, or add a HorizontalPodAutoscaler targeting the workload.",
      bad=deployment(replicas=1), good=deployment(replicas=3))
def single_replica(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    count = replicas(res)
    if count is None or count == 0 or count >= int(ctx.options["min_replicas"]):
        return
    if not ctx.inventory.has_autoscaler(res):
        yield Hit(res, f"runs {count} replica(s) and no HorizontalPodAutoscaler targets it",
                  ("spec", "replicas"))


def _multi_replica(inv: Inventory) -> Iterator[Resource]:
    for res, labels in inv.pod_templates:
        if res.kind in ("Deployment", "StatefulSet") and labels:
            count = replicas(res)
            if (count is not None and count >= 2) or inv.has_autoscaler(res):
                yield res


@rule("missing-pdb", _W, "A multi-replica workload has no PodDisruptionBudget.", cross=True, enabled=False,
      rationale="Without a budget a node drain may evict every replica at once.",
      hint="Add a PodDisruptionBudget selecting the workload's pods (e.g. maxUnavailable: 1).",
      bad=deployment(replicas=3), good=deployment(replicas=3) + _PDB.format(budget="maxUnavailable: 1"))
def missing_pdb(inv: Inventory, ctx: RuleContext) -> Iterator[Hit]:
    for res in _multi_replica(inv):
        if not inv.has_pdb(res):
            yield Hit(res, f"{res.kind} {res.name} has several replicas but no PodDisruptionBudget selects "
                           "its pods", ("spec", "replicas"))


def _zero(value: Any) -> bool:
    return value == 0 or (isinstance(value, str) and value.strip() in ("0", "0%"))


@rule("pdb-blocks-eviction", _E, "A PodDisruptionBudget allows no eviction at all.", cross=True,
      rationale="maxUnavailable: 0, minAvailable: 100% or minAvailable equal to the replicas blocks every "
                "voluntary eviction: node drains and cluster upgrades hang.",
      hint="Allow at least one disruption (e.g. maxUnavailable: 1) and run enough replicas.",
      bad=deployment(replicas=2) + _PDB.format(budget="minAvailable: 2"),
      good=deployment(replicas=3) + _PDB.format(budget="minAvailable: 2"))
def pdb_blocks_eviction(inv: Inventory, ctx: RuleContext) -> Iterator[Hit]:
    for pdb in inv.kind("PodDisruptionBudget"):
        spec = as_dict(pdb.obj.get("spec"))
        if "maxUnavailable" in spec and _zero(spec["maxUnavailable"]):
            yield Hit(pdb, "maxUnavailable 0 allows no voluntary eviction", ("spec", "maxUnavailable"))
            continue
        wanted = spec.get("minAvailable")
        if isinstance(wanted, str) and wanted.strip() == "100%":
            yield Hit(pdb, "minAvailable 100% allows no voluntary eviction", ("spec", "minAvailable"))
            continue
        if not isinstance(wanted, int) or isinstance(wanted, bool):
            continue
        for res, _ in inv.templates_for_selector(spec.get("selector"), pdb.namespace):
            count = replicas(res) if res.kind in SCALABLE else None
            if count is None or inv.has_autoscaler(res):
                continue
            if wanted >= count > 0:
                yield Hit(pdb, f"minAvailable {wanted} with {count} replica(s) of {res.kind} {res.name} "
                               "allows no voluntary eviction", ("spec", "minAvailable"),
                          evidence=f"{res.kind}/{res.name}")


@rule("job-ttl", _W, "A Job has no ttlSecondsAfterFinished.", kinds=("Job",),
      rationale="Finished Jobs and their pods stay in the cluster forever; with GitOps the re-applied Job "
                "also cannot be updated while the old one exists.",
      hint="Set spec.ttlSecondsAfterFinished (e.g. 3600).",
      bad=_JOB.format(ttl=""), good=_JOB.format(ttl="ttlSecondsAfterFinished: 3600\n  "))
def job_ttl(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if "ttlSecondsAfterFinished" not in as_dict(res.obj.get("spec")):
        yield Hit(res, "Job has no ttlSecondsAfterFinished", ("spec", "ttlSecondsAfterFinished"))


@rule("cronjob-starting-deadline", _W, "A CronJob has no startingDeadlineSeconds.", kinds=("CronJob",),
      rationale="Without a deadline a controller that was down counts every missed schedule, and after 100 "
                "misses the CronJob stops being scheduled at all.",
      hint="Set spec.startingDeadlineSeconds (e.g. 300).",
      bad=_CRON.format(deadline=""), good=_CRON.format(deadline="startingDeadlineSeconds: 300\n  "))
def cronjob_starting_deadline(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if "startingDeadlineSeconds" not in as_dict(res.obj.get("spec")):
        yield Hit(res, "CronJob has no startingDeadlineSeconds", ("spec", "startingDeadlineSeconds"))
