"""Kubernetes functions the gate declares but cannot evaluate offline.

The format library returns optional values, which the engine cannot build from Python, so its
functions are declared (an expression using them compiles, as on the API server) and a program
that calls one is reported as not evaluable instead of failing the run. ``UNSUPPORTED`` maps each
declared name to what the report says.
"""

from __future__ import annotations

from typing import Any, NoReturn

from gatekeeper.cel.lib import Library, glob, member

_FORMATS = ("dns1123Label", "dns1123Subdomain", "dns1035Label", "qualifiedName", "dns1123LabelPrefix",
            "dns1123SubdomainPrefix", "dns1035LabelPrefix", "labelValue", "uri", "uuid", "byte", "date",
            "datetime")


def _refuse(*_args: Any) -> NoReturn:
    raise ValueError("the Kubernetes format library is not supported offline")


UNSUPPORTED: dict[str, str] = {f"format.{name}": "the Kubernetes format library" for name in _FORMATS}
UNSUPPORTED["format.named"] = "the Kubernetes format library"

LIBRARY = Library("kubernetes.format", (
    glob("format.named", ("format_named", ("string",), "dyn", _refuse)),
    *(glob(f"format.{name}", (f"format_{name}", (), "dyn", _refuse)) for name in _FORMATS),
    member("validate", ("format_validate", ("dyn", "string"), "dyn", _refuse)),
))
