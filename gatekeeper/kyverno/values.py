"""The ``kyverno test`` / ``kyverno apply`` values file (``cli.kyverno.io/v1alpha1`` Values) and
user-info file: variable values per policy, rule and resource, namespace labels for
namespaceSelector, and the requesting user's roles."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.kyverno.errors import KyvernoLoadError
from gatekeeper.kyverno.shape import mapping
from gatekeeper.model import Document


@dataclass(slots=True)
class Values:
    """Variable values: global, per rule and per resource (later wins), plus namespace labels."""

    global_values: dict[str, Any] = field(default_factory=dict)
    rules: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    namespace_labels: dict[str, dict[str, Any]] = field(default_factory=dict)

    def lookup(self, policy: str, rule: str, resource: str) -> dict[str, Any]:
        merged = dict(self.global_values)
        merged.update(self.rules.get((policy, rule), {}))
        merged.update(self.resources.get((policy, resource), {}))
        return merged

    def names(self, policy: str, rule: str, resource: str) -> set[str]:
        """The top-level names values give for this evaluation (context entries they replace)."""
        return {key.split(".", 1)[0] for key in self.lookup(policy, rule, resource)}


def decode(value: Any) -> Any:
    """Values files carry arrays and objects as JSON text; decode those, keep everything else."""
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in nested dicts (creating levels)."""
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = decode(value)


def load(doc: Document) -> Values:
    """Read a Values document; KyvernoLoadError naming file and line when its shape is wrong."""
    obj = doc.obj
    if not isinstance(obj, dict):
        raise KyvernoLoadError(doc.path, doc.line, "a values file must hold a mapping")

    def mapping(value: Any, where: tuple[str | int, ...]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise KyvernoLoadError(doc.path, doc.locate(where)[0], f"{'.'.join(map(str, where))} must be a mapping")
        return {str(k): v for k, v in value.items()}

    out = Values(global_values=mapping(obj.get("globalValues"), ("globalValues",)))
    for i, pol in enumerate(obj.get("policies") or []):
        if not isinstance(pol, dict) or not isinstance(pol.get("name"), str):
            raise KyvernoLoadError(doc.path, doc.locate(("policies", i))[0], "each policies entry needs a name")
        for j, rule in enumerate(pol.get("rules") or []):
            if isinstance(rule, dict) and isinstance(rule.get("name"), str):
                out.rules[(pol["name"], rule["name"])] = mapping(rule.get("values"),
                                                                 ("policies", i, "rules", j, "values"))
        for j, res in enumerate(pol.get("resources") or []):
            if isinstance(res, dict) and isinstance(res.get("name"), str):
                out.resources[(pol["name"], res["name"])] = mapping(res.get("values"),
                                                                    ("policies", i, "resources", j, "values"))
    for i, ns in enumerate(obj.get("namespaceSelector") or []):
        if not isinstance(ns, dict) or not isinstance(ns.get("name"), str):
            raise KyvernoLoadError(doc.path, doc.locate(("namespaceSelector", i))[0],
                                   "each namespaceSelector entry needs a name")
        out.namespace_labels[ns["name"]] = mapping(ns.get("labels"), ("namespaceSelector", i, "labels"))
    return out


@dataclass(slots=True)
class UserInfo:
    """Who makes the request (``kyverno test`` userinfo file); empty means an unknown user."""

    username: str = ""
    groups: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    cluster_roles: list[str] = field(default_factory=list)


def load_user_info(doc: Document) -> UserInfo:
    obj = doc.obj if isinstance(doc.obj, dict) else {}
    info = mapping(obj.get("userInfo"))
    return UserInfo(str(info.get("username") or ""), [str(g) for g in info.get("groups") or []],
                    [str(r) for r in obj.get("roles") or []], [str(r) for r in obj.get("clusterRoles") or []])
