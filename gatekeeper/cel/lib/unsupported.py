"""Kubernetes functions the gate declares but cannot evaluate offline.

The authorizer library asks the API server's authorizers. Its functions are declared (an
expression using them compiles, as on the API server) and a program that calls one is reported
as not evaluable instead of failing the run. ``UNSUPPORTED`` maps each name to what the report says.
"""

from __future__ import annotations

from typing import Any, NoReturn

from gatekeeper.cel.lib import Library, member


def _refuse(*_args: Any) -> NoReturn:
    raise ValueError("not supported offline")


UNSUPPORTED: dict[str, str] = {}
# Authorizer.group/path/serviceAccount -> checks -> Decision, as the authorizer library declares them
_AUTHZ_ONE = ("group", "resource", "subresource", "namespace", "name", "check", "path", "fieldSelector",
              "labelSelector")
_AUTHZ_NONE = ("allowed", "reason", "errored", "error")
UNSUPPORTED.update({name: "the authorizer (it needs an API server)" for name in (*_AUTHZ_ONE, *_AUTHZ_NONE,
                                                                                 "serviceAccount")})

LIBRARY = Library("kubernetes.authz", (
    *(member(name, (f"authz_{name}", ("dyn", "string"), "dyn", _refuse)) for name in _AUTHZ_ONE),
    *(member(name, (f"authz_{name}", ("dyn",), "dyn", _refuse)) for name in _AUTHZ_NONE),
    member("serviceAccount", ("authz_serviceAccount", ("dyn", "string", "string"), "dyn", _refuse)),
))
