"""Resource requests and limits: what the scheduler and the OOM killer rely on."""

from __future__ import annotations

from collections.abc import Iterator

from gatekeeper.checks.lint.examples import pod
from gatekeeper.checks.lint.pods import WORKLOAD_KINDS, as_dict, containers, pod_spec
from gatekeeper.checks.lint.registry import Hit, RuleContext, rule
from gatekeeper.model import Resource, Severity

_W = Severity.WARNING
_GROUPS = ("initContainers", "containers")  # ephemeral containers take no resources
_FULL = """\
resources:
  requests:
    cpu: 100m
    memory: 128Mi
  limits:
    memory: 256Mi
"""


def _missing(res: Resource, section: str, resource_name: str, also_accept: str | None) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    for c in containers(p, _GROUPS):
        res_spec = as_dict(c.obj.get("resources"))
        if resource_name in as_dict(res_spec.get(section)):
            continue
        if also_accept and resource_name in as_dict(res_spec.get(also_accept)):
            continue  # a limit without a request makes the request equal to the limit
        yield Hit(res, f"{c.label} has no {resource_name} {section[:-1]}",
                  c.at("resources", section, resource_name))


@rule("cpu-requests", _W, "A container has no CPU request.", kinds=WORKLOAD_KINDS,
      rationale="Without a request the scheduler places the pod as if it used no CPU; under contention it "
                "is throttled first.",
      hint="Set resources.requests.cpu to the container's typical usage.",
      bad=pod(), good=pod(_FULL))
def cpu_requests(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    yield from _missing(res, "requests", "cpu", "limits")


@rule("memory-requests", _W, "A container has no memory request.", kinds=WORKLOAD_KINDS,
      rationale="Without a request the scheduler overcommits nodes and the pod is among the first evicted "
                "under memory pressure.",
      hint="Set resources.requests.memory to the container's working set.",
      bad=pod(), good=pod(_FULL))
def memory_requests(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    yield from _missing(res, "requests", "memory", "limits")


@rule("memory-limit", _W, "A container has no memory limit.", kinds=WORKLOAD_KINDS,
      rationale="A container without a memory limit can take the node's memory and get its neighbours "
                "OOM-killed.",
      hint="Set resources.limits.memory (commonly equal to or a little above the request).",
      bad=pod("resources:\n  requests:\n    memory: 128Mi\n"), good=pod(_FULL))
def memory_limit(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    yield from _missing(res, "limits", "memory", None)


@rule("cpu-limit", _W, "A container has no CPU limit.", kinds=WORKLOAD_KINDS, enabled=False,
      rationale="Without a CPU limit one container can use every idle core of its node, so its latency and its "
                "neighbours' depend on what else runs there. Off by default: a CPU limit throttles the "
                "container even on an idle node, and many teams set CPU requests only, on purpose.",
      hint="Set resources.limits.cpu (or leave this rule off if you rely on requests only).",
      bad=pod(_FULL), good=pod(_FULL + "    cpu: 500m\n"))
def cpu_limit(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    yield from _missing(res, "limits", "cpu", None)
