"""Function libraries for the CEL engine, declared as data so the engine builds them once.

A ``Library`` is a named set of ``Function``s, each with typed ``Overload``s and a Python
implementation. Types are written as short names (``string``, ``int``, ``list<string>``,
``Quantity``..., ``any`` for a parameter of any kind) that ``gatekeeper.cel.engine`` turns into
engine types. An implementation raises ``ValueError`` (or any exception) to make the CEL call an
error value, which CEL's ``||``/``&&`` absorb as the language says.

``KUBERNETES`` is the Kubernetes API server's function set (on top of the CEL standard library,
optional types, sets and two-variable comprehensions, which the engine provides natively).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Overload:
    """One signature of a function: ``params`` include the receiver for member overloads."""

    id: str
    params: tuple[str, ...]
    result: str
    impl: Callable[..., Any]
    member: bool = False


@dataclass(frozen=True, slots=True)
class Function:
    """A named function and its overloads."""

    name: str
    overloads: tuple[Overload, ...]


@dataclass(frozen=True, slots=True)
class Library:
    """A named set of functions, added to an environment as a unit."""

    name: str
    functions: tuple[Function, ...]


def member(name: str, *signatures: tuple[str, tuple[str, ...], str, Callable[..., Any]]) -> Function:
    """A member function (``x.name(...)``) from (overload id, params with receiver, result, impl)."""
    return Function(name, tuple(Overload(oid, params, result, impl, True) for oid, params, result, impl in signatures))


def glob(name: str, *signatures: tuple[str, tuple[str, ...], str, Callable[..., Any]]) -> Function:
    """A global function (``name(...)``) from (overload id, params, result, impl)."""
    return Function(name, tuple(Overload(oid, params, result, impl) for oid, params, result, impl in signatures))


def kubernetes_libraries() -> tuple[Library, ...]:
    """The Kubernetes libraries, imported on first use."""
    from gatekeeper.cel.lib import format, lists, maps, network, quantity, regex, semver, strings, unsupported, urls

    return (strings.LIBRARY, lists.LIBRARY, regex.LIBRARY, urls.LIBRARY, quantity.LIBRARY, network.LIBRARY,
            semver.LIBRARY, maps.LIBRARY, format.LIBRARY, unsupported.LIBRARY)
