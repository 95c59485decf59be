"""Where pod specs and containers live in each workload kind, read defensively.

Lint runs on objects that may also fail schema validation, so every accessor tolerates a
wrong type (a list where a map belongs) by treating it as absent rather than crashing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gatekeeper.model import FieldPath, Resource

POD_SPEC_PATHS: dict[str, FieldPath] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
WORKLOAD_KINDS = frozenset(POD_SPEC_PATHS)
CONTAINER_GROUPS = ("initContainers", "containers", "ephemeralContainers")


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def dig(obj: Any, path: FieldPath) -> Any:
    """The value at ``path`` under ``obj``, or None when any step is missing or mistyped."""
    for part in path:
        if isinstance(part, int):
            if not isinstance(obj, list) or not 0 <= part < len(obj):
                return None
        elif not isinstance(obj, dict):
            return None
        obj = obj[part] if isinstance(part, int) else obj.get(part)
    return obj


@dataclass(slots=True)
class PodSpec:
    """A pod spec inside a workload and the field path to it (its containers listed once)."""

    spec: dict[str, Any]
    path: FieldPath
    listed: dict[tuple[str, ...], list[Container]] = field(default_factory=dict)
    security: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.security = as_dict(self.spec.get("securityContext"))

    def at(self, *parts: str | int) -> FieldPath:
        return (*self.path, *parts)


@dataclass(slots=True)
class Container:
    """One container (init, regular or ephemeral) with its field path."""

    obj: dict[str, Any]
    path: FieldPath
    group: str
    security: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.security = as_dict(self.obj.get("securityContext"))

    def at(self, *parts: str | int) -> FieldPath:
        return (*self.path, *parts)

    @property
    def name(self) -> str:
        name = self.obj.get("name")
        return name if isinstance(name, str) else f"#{self.path[-1]}"

    @property
    def label(self) -> str:
        kind = {"initContainers": "init container", "ephemeralContainers": "ephemeral container"}
        return f"{kind.get(self.group, 'container')} '{self.name}'"


_last: list[Any] = [None, None]  # (resource, its PodSpec): rules of one resource run back to back


def pod_spec(resource: Resource) -> PodSpec | None:
    """The pod spec of a workload resource, or None for other kinds (or a missing spec)."""
    if _last[0] is resource:
        cached: PodSpec | None = _last[1]
        return cached
    path = POD_SPEC_PATHS.get(resource.kind)
    spec = dig(resource.obj, path) if path is not None else None
    found = PodSpec(spec, path) if isinstance(spec, dict) and path is not None else None
    _last[0], _last[1] = resource, found
    return found


def template_metadata_path(kind: str) -> FieldPath | None:
    """Path of the pod template's metadata for controllers (None for a bare Pod)."""
    path = POD_SPEC_PATHS.get(kind)
    if path is None or kind == "Pod":
        return None
    return (*path[:-1], "metadata")


def containers(pod: PodSpec, groups: tuple[str, ...] = CONTAINER_GROUPS) -> list[Container]:
    """Every container of the given groups, in the order of the groups."""
    found = pod.listed.get(groups)
    if found is None:
        found = [Container(item, pod.at(group, i), group)
                 for group in groups for i, item in enumerate(as_list(pod.spec.get(group)))
                 if isinstance(item, dict)]
        pod.listed[groups] = found
    return found


def effective(pod: PodSpec, container: Container, key: str) -> Any:
    """A securityContext setting as Kubernetes applies it: the container's, else the pod's."""
    value = container.security.get(key)
    return pod.security.get(key) if value is None else value


def is_run_to_completion(resource: Resource, pod: PodSpec) -> bool:
    """Jobs, CronJobs and pods that do not restart run to completion: probes do not apply."""
    if resource.kind in ("Job", "CronJob"):
        return True
    return resource.kind == "Pod" and pod.spec.get("restartPolicy") in ("Never", "OnFailure")


def labels_of(obj: Any) -> dict[str, Any]:
    return as_dict(as_dict(obj).get("labels"))


def template_labels(resource: Resource) -> dict[str, Any] | None:
    """Labels of the pods a workload creates (a Pod's own labels), or None for other kinds."""
    if resource.kind == "Pod":
        return labels_of(resource.obj.get("metadata"))
    meta_path = template_metadata_path(resource.kind)
    if meta_path is None:
        return None
    return labels_of(dig(resource.obj, meta_path))
