"""CEL in Kyverno policies, on the gate's CEL engine (gatekeeper.cel): ``validate.cel`` rules of
ClusterPolicies and the ValidatingPolicy kind, with Kyverno's CEL libraries where they work offline.

``resource.Get``/``resource.List`` read the scanned tree; ``http``, ``image``/``imagedata`` and
``globalContext`` need the network or the cluster, so an expression that calls them makes the rule
``unavailable`` (never a pass), as does a Kubernetes function the engine declares but cannot run.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from gatekeeper import cel
from gatekeeper.cel.lib import Library, member
from gatekeeper.kyverno.errors import ContextUnavailable, RuleError

VARIABLES = ("object", "oldObject", "request", "params", "namespaceObject", "authorizer", "variables",
             "resource", "http", "image", "imagedata", "globalContext")
LIBS = {name: {"__kyverno_library__": name} for name in ("resource", "http", "image", "imagedata", "globalContext")}
_IRREGULAR = {"Endpoints": "endpoints", "Ingress": "ingresses", "NetworkPolicy": "networkpolicies",
              "PodSecurityPolicy": "podsecuritypolicies", "Gateway": "gateways"}


def plural(kind: str) -> str:
    """The API resource name of a kind (``Deployment`` -> ``deployments``)."""
    if kind in _IRREGULAR:
        return _IRREGULAR[kind]
    low = kind.lower()
    if low.endswith("y") and low[-2:-1] not in "aeiou":
        return low[:-1] + "ies"
    if low.endswith(("s", "x", "ch", "sh")):
        return low + "es"
    return low + "s"


@dataclass(slots=True)
class Objects:
    """The objects CEL may read: the scanned tree (or a test's resources), given as a list or as a
    function that makes it (indexed on first use: most runs have no CEL rule that reads them)."""

    items: Sequence[Mapping[str, Any]] | Callable[[], Sequence[Mapping[str, Any]]] = ()
    _index: dict[tuple[str, str], list[Mapping[str, Any]]] | None = None
    # (apiVersion, resource) -> namespace -> objects, made on the first lookup in a namespace: a
    # policy that reads one object per evaluation (``resource.Get``) would otherwise filter every
    # object of that kind on every call
    _namespaced: dict[tuple[str, str], dict[str, list[Mapping[str, Any]]]] = field(default_factory=dict)

    def _indexed(self) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
        if self._index is None:
            self._index = {}
            for obj in self.items() if callable(self.items) else self.items:
                key = (str(obj.get("apiVersion") or ""), plural(str(obj.get("kind") or "")))
                self._index.setdefault(key, []).append(obj)
        return self._index

    def find(self, api_version: str, resource: str, namespace: str | None = None) -> list[Mapping[str, Any]]:
        """The objects of a resource type (in ``namespace``: an object without one is in
        ``default``), in the tree's order."""
        found = self._indexed().get((api_version, resource), [])
        if not namespace:
            return found
        groups = self._namespaced.get((api_version, resource))
        if groups is None:
            groups = self._namespaced[(api_version, resource)] = {}
            for obj in found:
                where = _meta(obj).get("namespace", "default")
                if isinstance(where, str):  # anything else never equals a namespace name
                    groups.setdefault(where, []).append(obj)
        return groups.get(namespace, [])

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        for obj in self.find(api_version, plural(kind), namespace or None):
            if _meta(obj).get("name") == name:
                return obj
        return None


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


@dataclass(slots=True)
class _Call:
    objects: Objects
    unavailable: list[str] = field(default_factory=list)


_STATE: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("kyverno_cel_call", default=None)


def _lib_get(receiver: Mapping[str, Any], *args: str) -> Any:
    state = _STATE.get()
    lib = receiver.get("__kyverno_library__")
    if lib == "resource" and len(args) == 4 and state is not None:
        api_version, resource, namespace, name = args
        for obj in state.objects.find(api_version, resource, namespace or None):
            if _meta(obj).get("name") == name:
                return dict(obj)
        state.unavailable.append(f"resource.Get({api_version}, {resource}, {namespace}, {name}): not in the tree")
        raise ValueError("object not found in the scanned tree")
    if state is not None:
        state.unavailable.append(f"{lib}.Get")
    raise ValueError(f"{lib}.Get needs the network or the cluster")


def _lib_list(receiver: Mapping[str, Any], *args: str) -> Any:
    state = _STATE.get()
    if receiver.get("__kyverno_library__") == "resource" and len(args) == 3 and state is not None:
        return {"items": [dict(o) for o in state.objects.find(args[0], args[1], args[2] or None)]}
    if state is not None:
        state.unavailable.append(f"{receiver.get('__kyverno_library__')}.List")
    raise ValueError("not available offline")


def _lib_other(receiver: Mapping[str, Any], *args: Any) -> Any:
    state = _STATE.get()
    if state is not None:
        state.unavailable.append(f"{receiver.get('__kyverno_library__')} functions")
    raise ValueError("not available offline")


KYVERNO = Library("kyverno", (
    member("Get", ("kyverno_get_4", ("map", "string", "string", "string", "string"), "dyn", _lib_get),
           ("kyverno_get_2", ("map", "string", "string"), "dyn", _lib_get),
           ("kyverno_get_1", ("map", "string"), "dyn", _lib_get)),
    member("List", ("kyverno_list_3", ("map", "string", "string", "string"), "dyn", _lib_list)),
    member("Post", ("kyverno_post", ("map", "string", "dyn", "dyn"), "dyn", _lib_other)),
    member("Client", ("kyverno_client", ("map", "string"), "dyn", _lib_other)),
))


def available() -> bool:
    return cel.available()


@cache
def environment() -> cel.Environment:
    """The CEL environment of Kyverno's expressions (made once: looking it up hashes every library)."""
    return cel.environment(VARIABLES, (*cel.kubernetes_libraries(), KYVERNO))


def compile_expression(source: str) -> cel.Program:
    """Compile once; ``cel.CompileError`` when it does not compile."""
    return environment().compile(source)


def evaluate(source: str, bindings: Mapping[str, Any], objects: Objects) -> Any:
    """Evaluate; RuleError for an evaluation error, ContextUnavailable when the expression needed the
    cluster, the network or a function the engine cannot run offline."""
    try:
        program = compile_expression(source)
    except cel.CompileError as exc:
        raise RuleError(f"CEL expression does not compile: {exc.message}") from None
    call = _Call(objects)
    token = _STATE.set(call)
    try:
        value = program.evaluate(_bound(bindings))
    except cel.Unsupported as exc:
        raise ContextUnavailable(f"CEL expression {source!r} {exc.message}, which is not evaluated offline") from None
    except cel.CostLimitExceeded as exc:
        raise RuleError(exc.message) from None
    except cel.EvaluationError as exc:
        if call.unavailable:
            raise ContextUnavailable(f"CEL expression uses {call.unavailable[0]}, which needs the cluster or a "
                                     "registry; it was not decided") from None
        raise RuleError(f"CEL expression {source!r} failed: {exc.message}") from None
    finally:
        _STATE.reset(token)
    if call.unavailable:
        raise ContextUnavailable(f"CEL expression uses {call.unavailable[0]}, which needs the cluster or a "
                                 "registry; it was not decided")
    return value


_BASES: list[tuple[Mapping[str, Any], tuple[int, ...], cel.Bindings]] = []  # the last few rule evaluations
_BASES_KEPT = 4


def _bound(bindings: Mapping[str, Any]) -> cel.Bindings:
    """``bindings`` (with the Kyverno libraries) as the engine binds them. A rule's expressions share
    one mapping; its values other than ``variables`` (which grows as each variable is evaluated) are
    bound once, so the object is measured for the cost bound once per rule instead of once per
    expression; ``variables`` is bound afresh, as it stands, for each expression. The base is
    reused only for the same mapping holding the same value objects (kept referenced, so their
    identities cannot be taken by others)."""
    fixed = tuple(id(v) for k, v in bindings.items() if k != "variables")
    base = next((b for m, key, b in _BASES if m is bindings and key == fixed), None)
    if base is None:
        base = environment().bindings({**LIBS, **{k: v for k, v in bindings.items() if k != "variables"}})
        _BASES.insert(0, (bindings, fixed, base))
        del _BASES[_BASES_KEPT:]
    if "variables" not in bindings:
        return base
    current = bindings["variables"]
    return base.with_values({"variables": dict(current) if isinstance(current, dict) else current})


def variables(entries: Sequence[Mapping[str, Any]], bindings: dict[str, Any], objects: Objects) -> dict[str, Any]:
    """Named variables in order (each may read the ones before it)."""
    values: dict[str, Any] = {}
    bindings["variables"] = values
    for entry in entries:
        values[str(entry.get("name"))] = evaluate(str(entry.get("expression")), bindings, objects)
    return values


def validations(entries: Sequence[Mapping[str, Any]], bindings: dict[str, Any], objects: Objects) -> list[str]:
    """Messages of the validations that do not hold (empty when every one is true)."""
    failed: list[str] = []
    for entry in entries:
        source = str(entry.get("expression"))
        value = evaluate(source, bindings, objects)
        if value is True:
            continue
        if value is not False:
            raise RuleError(f"CEL expression {source!r} returned {type(value).__name__}, not a boolean")
        message = entry.get("message")
        if entry.get("messageExpression"):
            try:
                text = evaluate(str(entry["messageExpression"]), bindings, objects)
                message = text if isinstance(text, str) and text else message
            except RuleError:
                pass
        failed.append(str(message or f"failed expression: {source}"))
    return failed


def conditions_hold(entries: Sequence[Mapping[str, Any]], bindings: dict[str, Any], objects: Objects) -> bool:
    """matchConditions / celPreconditions: every expression true."""
    return all(evaluate(str(e.get("expression")), bindings, objects) is True for e in entries)


def check_compiles(sources: Sequence[tuple[tuple[str | int, ...], str]]) -> tuple[tuple[str | int, ...], str] | None:
    """The first (pointer, message) whose expression does not compile, or None."""
    for pointer, source in sources:
        try:
            compile_expression(source)
        except cel.CompileError as exc:
            if exc.limit:
                continue
            return pointer, exc.message
    return None
