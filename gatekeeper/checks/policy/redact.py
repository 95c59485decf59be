"""Secret values never reach a policy: a message that echoes its input cannot leak them.

Policies see a Secret's keys, metadata and type, but each value under ``data`` and
``stringData`` is replaced by a marker with its length. Detecting plaintext secrets is the
secrets check's job; policies decide on structure.
"""

from __future__ import annotations

from typing import Any

_FIELDS = ("data", "stringData")


def redact(obj: Any) -> Any:
    """The object with Secret values replaced (Secrets inside a ``List`` too); others unchanged."""
    if not isinstance(obj, dict):
        return obj
    kind = obj.get("kind")
    if kind == "Secret" and any(isinstance(obj.get(f), dict) for f in _FIELDS):
        out = dict(obj)
        for name in _FIELDS:
            values = obj.get(name)
            if isinstance(values, dict):
                out[name] = {k: f"<redacted: {len(str(v))} characters>" for k, v in values.items()}
        return out
    if kind is not None and str(kind).endswith("List") and isinstance(obj.get("items"), list):
        return {**obj, "items": [redact(item) for item in obj["items"]]}
    return obj
