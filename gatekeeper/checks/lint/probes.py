"""Health probes: present on long-running containers, and aimed at a port the container has."""

from __future__ import annotations

from collections.abc import Iterator

from gatekeeper.checks.lint.examples import deployment
from gatekeeper.checks.lint.pods import (
    WORKLOAD_KINDS,
    as_dict,
    as_list,
    containers,
    is_run_to_completion,
    pod_spec,
)
from gatekeeper.checks.lint.registry import Hit, RuleContext, rule
from gatekeeper.model import Resource, Severity

_E, _W = Severity.ERROR, Severity.WARNING
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_PROBED = """\
ports:
  - name: http
    containerPort: 8080
livenessProbe:
  httpGet:
    path: /healthz
    port: http
readinessProbe:
  httpGet:
    path: /ready
    port: http
"""


def _missing_probe(res: Resource, key: str, what: str) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None or is_run_to_completion(res, p):
        return
    for c in containers(p, ("containers",)):
        if not isinstance(c.obj.get(key), dict):
            yield Hit(res, f"{c.label} has no {what} probe", c.at(key))


@rule("liveness-probe", _W, "A long-running container has no liveness probe.", kinds=WORKLOAD_KINDS,
      rationale="Without a liveness probe a hung process keeps its pod Running forever; the kubelet only "
                "restarts containers that exit.",
      hint="Add a livenessProbe (httpGet, tcpSocket, grpc or exec) that fails when the process is stuck.",
      bad=deployment(), good=deployment(_PROBED))
def liveness_probe(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    yield from _missing_probe(res, "livenessProbe", "liveness")


@rule("readiness-probe", _W, "A long-running container has no readiness probe.", kinds=WORKLOAD_KINDS,
      rationale="Without a readiness probe the pod receives traffic as soon as it starts, and keeps "
                "receiving it while it cannot serve; rollouts cannot tell a bad version from a good one.",
      hint="Add a readinessProbe that succeeds only when the container can serve requests.",
      bad=deployment(), good=deployment(_PROBED))
def readiness_probe(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    yield from _missing_probe(res, "readinessProbe", "readiness")


@rule("probe-port", _W,
      "A probe targets a port the container does not expose (error for an unknown named port).",
      kinds=WORKLOAD_KINDS,
      rationale="A probe on a named port the container lacks can never succeed, so the pod never becomes "
                "ready (or is restarted forever); a numeric port not listed often means a typo.",
      hint="Point the probe at one of the container's ports (by name or number), or declare the port.",
      bad=deployment(_PROBED.replace("port: http\nreadiness", "port: healthz\nreadiness")),
      good=deployment(_PROBED))
def probe_port(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    for c in containers(p, ("initContainers", "containers")):
        probes = [(key, c.obj[key]) for key in PROBES if isinstance(c.obj.get(key), dict)]
        if not probes:
            continue
        ports = [as_dict(x) for x in as_list(c.obj.get("ports"))]
        names = {x.get("name") for x in ports if isinstance(x.get("name"), str)}
        numbers = {x.get("containerPort") for x in ports if isinstance(x.get("containerPort"), int)}
        for key, probe in probes:
            for handler in ("httpGet", "tcpSocket", "grpc"):
                action = probe.get(handler)
                if not isinstance(action, dict):
                    continue
                port = action.get("port")
                path = c.at(key, handler, "port")
                if isinstance(port, str) and not port.isdigit():
                    if port not in names:
                        yield Hit(res, f"{c.label} {key} uses port '{port}', which the container does not "
                                       f"declare", path, severity=_E, evidence=f"{key}:{port}")
                elif isinstance(port, (int, str)) and ports and int(port) not in numbers:
                    yield Hit(res, f"{c.label} {key} uses port {port}, which is not among its containerPorts",
                              path, evidence=f"{key}:{port}")


