"""Secret values never reach a policy: a message that echoes its input cannot leak them.

Policies see a Secret's keys, metadata and type, but each value under ``data`` and
``stringData`` is replaced by a marker with its length. Detecting plaintext secrets is the
secrets check's job; policies decide on structure.
"""

from __future__ import annotations

import json
from typing import Any

_FIELDS = ("data", "stringData")
MASK = "<redacted>"


def redact(obj: Any, item_kind: str | None = None) -> Any:
    """The object with Secret values replaced (Secrets inside a ``List`` too, and the kind-less
    items of a ``SecretList``: ``item_kind``); others unchanged."""
    if not isinstance(obj, dict):
        return obj
    kind = obj.get("kind", item_kind)
    if kind == "Secret" and any(isinstance(obj.get(f), dict) for f in _FIELDS):
        out = dict(obj)
        for name in _FIELDS:
            values = obj.get(name)
            if isinstance(values, dict):
                out[name] = {k: f"<redacted: {len(str(v))} characters>" for k, v in values.items()}
        return out
    if kind is not None and str(kind).endswith("List") and isinstance(obj.get("items"), list):
        inner = str(kind)[: -len("List")] or None
        return {**obj, "items": [redact(item, inner) for item in obj["items"]]}
    return obj


def secret_values(obj: Any) -> list[str]:
    """Values the secrets check detects in ``obj`` (env literals, kubeconfig tokens, credential
    keys of config files...), longest first: a message that echoes them is masked."""
    from gatekeeper.checks.secrets.kubernetes import is_kubeconfig, scan_kubeconfig, scan_resource
    from gatekeeper.checks.secrets.scan import Scanner

    scanner = Scanner(high_entropy=True)
    if is_kubeconfig(obj):
        scan_kubeconfig(scanner, obj)
    elif isinstance(obj, dict) and isinstance(obj.get("apiVersion"), str) and isinstance(obj.get("kind"), str):
        scan_resource(scanner, obj["apiVersion"], obj["kind"], obj)
    else:
        scanner.walk(obj)
    return sorted({h.value.strip() for h in scanner.hits if len(h.value.strip()) >= 4}, key=len, reverse=True)


def mask(text: str, values: list[str]) -> str:
    """``text`` with each value (raw or JSON-escaped, as ``sprintf``/``json.marshal`` print it) masked."""
    for value in values:
        for form in {value, json.dumps(value)[1:-1]}:
            if form in text:
                text = text.replace(form, MASK)
    return text
