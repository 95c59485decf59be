"""Kubernetes-aware detectors: v1 Secrets (data decoded, stringData, docker configs),
kubeconfigs, and the dispatch that picks how each object is read.

Safe by construction here: SealedSecret ``encryptedData`` (ciphertext), SOPS documents (their
``sops`` block and ``ENC[...]`` values), empty values and service-account-token Secrets
without data, and public certificates.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from gatekeeper.checks.secrets.scan import Place, Scanner
from gatekeeper.checks.secrets.skips import SKIP_KEYS
from gatekeeper.checks.secrets.values import decode_secret_data, is_sops
from gatekeeper.model import FieldPath

DOCKER_KEYS = (".dockerconfigjson", ".dockercfg")
SEALED_GROUPS = ("bitnami.com/",)
_SKIP_SEALED = frozenset({*SKIP_KEYS, "encryptedData"})
# Built-in kinds whose schema has no free-form string field: every value is a name, a number, an
# enum, a quantity or a selector, so only their annotations can hold a credential (a value that
# does not fit the schema is the schema check's finding). (API group, kind).
STRUCTURED_KINDS = frozenset({
    ("", "Service"), ("", "Namespace"), ("", "ResourceQuota"), ("", "LimitRange"), ("", "ServiceAccount"),
    ("", "PersistentVolumeClaim"), ("autoscaling", "HorizontalPodAutoscaler"),
    ("policy", "PodDisruptionBudget"), ("policy", "PodSecurityPolicy"),
    ("networking.k8s.io", "NetworkPolicy"), ("networking.k8s.io", "Ingress"), ("extensions", "Ingress"),
    ("networking.k8s.io", "IngressClass"), ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "ClusterRole"), ("rbac.authorization.k8s.io", "RoleBinding"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"), ("scheduling.k8s.io", "PriorityClass"),
    ("cert-manager.io", "Certificate"),
    # a CRD's schema is documentation and types, not configuration
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
})


def is_sops_document(obj: Any) -> bool:
    """A SOPS-encrypted file: a top-level ``sops`` mapping that carries a ``mac``."""
    return isinstance(obj, dict) and isinstance(obj.get("sops"), dict) and "mac" in obj["sops"]


def scan_resource(scanner: Scanner, api_version: str, kind: str, obj: dict[str, Any]) -> None:
    """Scan one Kubernetes object the way its kind is read."""
    reader_of(api_version, kind)(scanner, obj)


def reader_of(api_version: str, kind: str) -> Reader:
    """How objects of one apiVersion and kind are read (decided once per kind and memoised)."""
    reader = _READERS.get((api_version, kind))
    if reader is None:
        reader = _READERS[(api_version, kind)] = _reader(api_version, kind)
    return reader


Reader = Callable[[Scanner, dict[str, Any]], None]
_READERS: dict[tuple[str, str], Reader] = {}


def _reader(api_version: str, kind: str) -> Reader:
    if kind == "Secret" and api_version == "v1":
        return scan_v1_secret
    if kind == "SealedSecret" and api_version.startswith(SEALED_GROUPS):
        return scan_sealed_secret
    if (api_version.rpartition("/")[0], kind) in STRUCTURED_KINDS:
        return scan_annotations
    if kind == "Application" and api_version.startswith("argoproj.io/"):
        return scan_application
    return Scanner.walk  # any other object: every value but the subtrees that cannot hold one


def scan_v1_secret(scanner: Scanner, obj: dict[str, Any]) -> None:
    """A v1 Secret: its data and stringData values, and its metadata."""
    scan_secret(scanner, obj)
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        scanner.walk(meta, ("metadata",))


def scan_sealed_secret(scanner: Scanner, obj: dict[str, Any]) -> None:
    """A SealedSecret: everything but its ciphertext."""
    scanner.walk(obj, (), skip=_SKIP_SEALED)


def scan_annotations(scanner: Scanner, obj: dict[str, Any]) -> None:
    """A kind whose schema holds no free-form string: its annotations (and, when the scanner asks
    for them, token families anywhere)."""
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if isinstance(annotations, dict) and annotations:
        scanner.walk(annotations, ("metadata", "annotations"))
    if not scanner.typed_tokens:
        return
    rest = {k: v for k, v in obj.items() if k != "metadata"}
    if isinstance(meta, dict):
        rest["metadata"] = {k: v for k, v in meta.items() if k != "annotations"}
    scanner.token_walk(rest, None)


def scan_application(scanner: Scanner, obj: dict[str, Any]) -> None:
    """An Argo CD Application: its sources (Helm values and parameters, plugin env) and
    annotations; destination, project and sync policy are names and switches."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        scanner.walk(obj)
        return
    if obj.keys() <= _OBJECT_KEYS:
        scan_annotations(scanner, obj)  # apiVersion and kind are names, status is skipped anyway
    else:
        scanner.walk({k: v for k, v in obj.items() if k != "spec"})
    scanner.walk({k: v for k, v in spec.items() if k not in _APPLICATION_SPEC_NAMES}, ("spec",))


_OBJECT_KEYS = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
_APPLICATION_SPEC_NAMES = frozenset({"destination", "syncPolicy", "project", "revisionHistoryLimit"})


def scan_secret(scanner: Scanner, obj: dict[str, Any]) -> None:
    """Every non-empty ``data`` (decoded) and ``stringData`` value of a v1 Secret."""
    for field in ("data", "stringData"):
        values = obj.get(field)
        if not isinstance(values, dict):
            continue
        for key, raw in values.items():
            if not isinstance(key, str) or not isinstance(raw, str) or not raw.strip() or is_sops(raw):
                continue
            path: FieldPath = (field, key)
            text = raw
            if field == "data":
                decoded, valid = decode_secret_data(raw)
                text = decoded if decoded is not None else raw
                if not valid:
                    text = raw
            if key in DOCKER_KEYS:
                scan_docker_config(scanner, text, path)
                continue
            scanner.held(key, text, path, "secret-k8s-secret", f"Secret {field} key '{key}'")


def scan_docker_config(scanner: Scanner, text: str, path: FieldPath) -> None:
    """``auth``, ``password`` and ``identitytoken`` of each registry in a docker config."""
    try:
        config = json.loads(text)
    except (ValueError, RecursionError):
        scanner.held("dockerconfig", text, path, "secret-docker-config", "unreadable docker config")
        return
    if not isinstance(config, dict):
        return
    registries = config.get("auths", config)
    if not isinstance(registries, dict):
        return
    for registry, entry in registries.items():
        if not isinstance(entry, dict):
            continue
        for field in ("auth", "password", "identitytoken"):
            value = entry.get(field)
            if not isinstance(value, str) or not value.strip():
                continue
            if field == "auth" and not _auth_has_password(value):
                continue
            if scanner.tokens(value, path, f"in docker config '{field}' for a registry"):
                continue
            scanner.add("secret-docker-config", path, value,
                        f"docker config '{field}' for registry #{list(registries).index(registry) + 1}")


def _auth_has_password(value: str) -> bool:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return True
    _user, sep, password = decoded.partition(":")
    return bool(sep and password.strip() and not password.startswith("${"))


def scan_kubeconfig(scanner: Scanner, obj: dict[str, Any]) -> None:
    """Credentials in a kubeconfig's users (token, client key, password, auth-provider secrets)."""
    users = obj.get("users")
    if isinstance(users, list):
        for i, entry in enumerate(users):
            if isinstance(entry, dict) and isinstance(entry.get("user"), dict):
                scanner.walk(entry["user"], ("users", i, "user"), Place.KUBECONFIG)
    rest = {k: v for k, v in obj.items() if k != "users"}
    scanner.walk(rest)


def is_kubeconfig(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") == "Config" and obj.get("apiVersion") == "v1"
