"""Find what the kyverno check evaluates: Kyverno policies and PolicyExceptions in the policy
directories and in the scanned tree, ConfigMaps and Namespaces of the tree, and the values file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatekeeper.checks.base import CheckLoadError
from gatekeeper.checks.policy.files import display
from gatekeeper.kyverno import exceptions as exc_mod
from gatekeeper.kyverno import policy as policy_mod
from gatekeeper.kyverno import values as values_mod
from gatekeeper.kyverno import vpol as vpol_mod
from gatekeeper.kyverno.errors import KyvernoLoadError
from gatekeeper.kyverno.shape import mapping
from gatekeeper.model import Document, Resource
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.yamlload import parse


@dataclass(slots=True)
class Loaded:
    policies: list[policy_mod.Policy] = field(default_factory=list)
    exceptions: list[exc_mod.PolicyException] = field(default_factory=list)


def is_kyverno_document(obj: Any) -> bool:
    """A Kyverno policy or PolicyException (what makes a policy directory a Kyverno one)."""
    return policy_mod.is_policy(obj) or vpol_mod.is_validating_policy(obj) or exc_mod.is_exception(obj)


def load_documents(documents: list[Document], out: Loaded) -> None:
    """Load every Kyverno policy and exception of plain documents (policy directory files)."""
    for doc in documents:
        _load_one(doc, doc.obj, (), out)


def load_resources(resources: list[Resource], out: Loaded, seen: set[tuple[str, int]]) -> None:
    """Load the Kyverno policies and exceptions among the scanned tree's resources."""
    for res in resources:
        if (res.path, res.document.index) in seen and not res.base:
            continue
        _load_one(res.document, res.obj, res.base, out)


def _load_one(doc: Document, obj: Any, base: tuple[str | int, ...], out: Loaded) -> None:
    try:
        if policy_mod.is_policy(obj):
            out.policies.append(policy_mod.load(doc, base))
        elif vpol_mod.is_validating_policy(obj):
            out.policies.append(vpol_mod.load(doc, base))
        elif exc_mod.is_exception(obj):
            out.exceptions.append(exc_mod.load(doc) if not base else _exception_at(doc, base))
    except KyvernoLoadError as exc:
        raise CheckLoadError(str(exc)) from None


def _exception_at(doc: Document, base: tuple[str | int, ...]) -> exc_mod.PolicyException:
    obj = doc.obj
    for part in base:
        obj = obj[part]
    inner = Document(doc.path, doc.index, obj, doc.locate(base)[0], doc.positions)
    return exc_mod.load(inner)


def read_documents(path: Path) -> list[Document]:
    """The documents of a YAML file (empty ones left out); CheckLoadError naming the file (and the
    line of a parse error) when it cannot be read."""
    if not path.is_file():  # a link to a device (/dev/zero) or a FIFO would be read for ever
        raise CheckLoadError(f"{display(path)} is not a regular file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckLoadError(f"cannot read {display(path)}: {exc.strerror}") from None
    parsed = parse(SourceFile(display(path), data))
    if parsed.findings:
        first = parsed.findings[0]
        raise CheckLoadError(f"{first.path}:{first.line}: {first.message}")
    return [d for d in parsed.documents if d.obj is not None]


def read_values(path: Path) -> values_mod.Values:
    """The ``--kyverno-values`` file; CheckLoadError naming it when it cannot be read."""
    docs = read_documents(path)
    if len(docs) != 1:
        raise CheckLoadError(f"Kyverno values file {path} must hold one document")
    try:
        return values_mod.load(docs[0])
    except KyvernoLoadError as exc:
        raise CheckLoadError(str(exc)) from None


def configmaps(resources: list[Resource]) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for res in resources:
        if res.kind == "ConfigMap" and res.api_version == "v1" and res.name:
            out[(res.namespace or "default", res.name)] = res.obj
    return out


def namespace_labels(resources: list[Resource]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for res in resources:
        if res.kind == "Namespace" and res.api_version == "v1" and res.name:
            meta = mapping(res.obj.get("metadata"))
            labels = meta.get("labels")
            out[res.name] = dict(labels) if isinstance(labels, dict) else {}
    return out
