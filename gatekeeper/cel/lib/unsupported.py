"""Kubernetes functions the gate declares but cannot evaluate offline.

The format library returns optional values, which the engine cannot build from Python; the
authorizer library asks the API server's authorizers. Their functions are declared (an
expression using them compiles, as on the API server) and a program that calls one is reported
as not evaluable instead of failing the run. ``UNSUPPORTED`` maps each name to what the report says.
"""

from __future__ import annotations

from typing import Any, NoReturn

from gatekeeper.cel.lib import Library, glob, member

_FORMATS = ("dns1123Label", "dns1123Subdomain", "dns1035Label", "qualifiedName", "dns1123LabelPrefix",
            "dns1123SubdomainPrefix", "dns1035LabelPrefix", "labelValue", "uri", "uuid", "byte", "date",
            "datetime")


def _refuse(*_args: Any) -> NoReturn:
    raise ValueError("not supported offline")


UNSUPPORTED: dict[str, str] = {f"format.{name}": "the Kubernetes format library" for name in _FORMATS}
UNSUPPORTED["format.named"] = "the Kubernetes format library"
# Authorizer.group/path/serviceAccount -> checks -> Decision, as the authorizer library declares them
_AUTHZ_ONE = ("group", "resource", "subresource", "namespace", "name", "check", "path", "fieldSelector",
              "labelSelector")
_AUTHZ_NONE = ("allowed", "reason", "errored", "error")
UNSUPPORTED.update({name: "the authorizer (it needs an API server)" for name in (*_AUTHZ_ONE, *_AUTHZ_NONE,
                                                                                 "serviceAccount")})

LIBRARY = Library("kubernetes.format", (
    glob("format.named", ("format_named", ("string",), "dyn", _refuse)),
    *(glob(f"format.{name}", (f"format_{name}", (), "dyn", _refuse)) for name in _FORMATS),
    member("validate", ("format_validate", ("dyn", "string"), "dyn", _refuse)),
    *(member(name, (f"authz_{name}", ("dyn", "string"), "dyn", _refuse)) for name in _AUTHZ_ONE),
    *(member(name, (f"authz_{name}", ("dyn",), "dyn", _refuse)) for name in _AUTHZ_NONE),
    member("serviceAccount", ("authz_serviceAccount", ("dyn", "string", "string"), "dyn", _refuse)),
))
