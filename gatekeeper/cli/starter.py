"""Fit the starter policies to the repository ``gatekeeper init`` sets up.

The library's constraints carry example parameters (``registry.example.com/``, an ``owner``
label): copied as they are, they report every workload of a real repository, and a first run
that fails on made-up settings teaches people to switch the gate off. ``init`` reads the
registries and the labels the repository's workloads already use and writes those as the
parameters, so the starter policies hold what is true today and catch what changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gatekeeper.checks.lint.images import split_image
from gatekeeper.checks.lint.pods import containers, pod_spec
from gatekeeper.config import Config
from gatekeeper.model import Resource
from gatekeeper.pipeline import Run, load

ALLOWED_REPOS = "gatekeeper/allowed-repos/constraint.yaml"
REQUIRED_LABELS = "gatekeeper/required-labels/constraint.yaml"
LABELLED_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})  # what the labels constraint matches
POD_KINDS = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
                       "ReplicationController"})
_GENERATED_LABELS = frozenset({"pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name"})
MAX_LABELS = 5


@dataclass(slots=True)
class Observed:
    """What the repository's workloads use."""

    registries: list[str] = field(default_factory=list)
    images: int = 0
    labels: list[str] = field(default_factory=list)
    labelled: int = 0  # workloads of the kinds the labels constraint matches


def registry_prefix(image: str) -> list[str]:
    """The allowed-repos prefixes that admit ``image``: ``host/org/`` (or ``host/``) for a registry,
    ``org/`` for a Docker Hub organisation, ``name:`` and ``name@`` for an official image."""
    repo, _, _ = split_image(image.strip())
    parts = repo.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        return [f"{parts[0]}/{parts[1]}/" if len(parts) > 2 else f"{parts[0]}/"]
    if len(parts) > 1:
        return [f"{parts[0]}/"]
    return [f"{repo}:", f"{repo}@"]


def observe(directory: Path, exclude: Iterable[str] = ()) -> Observed:
    """Registries and labels of the Kubernetes workloads under ``directory``."""
    loaded = load(Run(root=directory, paths=[directory], config=Config(exclude=list(exclude))))
    out = Observed()
    prefixes: set[str] = set()
    common: set[str] | None = None
    for resource in loaded.resources:
        if resource.kind in POD_KINDS:
            for image in _images(resource):
                out.images += 1
                prefixes.update(registry_prefix(image))
        if resource.kind in LABELLED_KINDS:
            out.labelled += 1
            keys = set(_labels(resource)) - _GENERATED_LABELS
            common = keys if common is None else common & keys
    out.registries = sorted(prefixes)
    out.labels = sorted(common or ())[:MAX_LABELS]
    return out


def _images(resource: Resource) -> list[str]:
    spec = pod_spec(resource)
    if spec is None:
        return []
    return [c.obj["image"] for c in containers(spec) if isinstance(c.obj.get("image"), str) and c.obj["image"].strip()]


def _labels(resource: Resource) -> list[str]:
    meta = resource.obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return [str(k) for k in labels] if isinstance(labels, dict) else []


def fit(policies: Path, seen: Observed) -> list[str]:
    """Rewrite the two constraints' parameters from ``seen``; return what was done, one line each."""
    said: list[str] = []
    repos = policies / ALLOWED_REPOS
    if repos.is_file():
        if seen.registries:
            _set_parameters(repos, {"repos": seen.registries},
                            f"repos: the registries of the {seen.images} container image(s) found by gatekeeper "
                            "init; add a registry here before using it")
            said.append(f"{_rel(repos, policies)}: allowed registries set to the {len(seen.registries)} this "
                        f"repository uses ({', '.join(seen.registries)})")
        else:
            said.append(f"{_rel(repos, policies)}: no container image found, the example registries were kept; "
                        "list your registries there")
    labels = policies / REQUIRED_LABELS
    if labels.is_file():
        if seen.labels:
            _set_parameters(labels, {"labels": [{"key": key} for key in seen.labels]},
                            f"labels: the keys every one of the {seen.labelled} Deployment/StatefulSet/DaemonSet "
                            "objects carries (found by gatekeeper init)")
            said.append(f"{_rel(labels, policies)}: required labels set to the {len(seen.labels)} every workload "
                        f"carries ({', '.join(seen.labels)})")
        elif seen.labelled:
            _set_parameters(labels, {"labels": []}, f"labels: none is on all {seen.labelled} workloads yet; add "
                                                    "the keys every workload must carry")
            said.append(f"{_rel(labels, policies)}: no label is on every one of the {seen.labelled} workloads, "
                        "so none is required yet; add the keys you want there")
        else:
            said.append(f"{_rel(labels, policies)}: no Deployment, StatefulSet or DaemonSet found, the example "
                        "labels were kept")
    return said


def _set_parameters(path: Path, parameters: dict[str, Any], comment: str) -> None:
    constraint = yaml.safe_load(path.read_text(encoding="utf-8"))
    constraint.setdefault("spec", {})["parameters"] = parameters
    text = yaml.safe_dump(constraint, sort_keys=False, default_flow_style=False)
    path.write_text(f"# {comment}\n{text}", encoding="utf-8")


def _rel(path: Path, policies: Path) -> str:
    return f"{policies.name}/{path.relative_to(policies).as_posix()}"
