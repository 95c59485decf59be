"""PolicyExceptions as Kyverno honours them, and the ones a change adds or edits.

Kyverno (1.13 and later) ignores PolicyExceptions unless they are enabled, and then reads them only
from the namespaces its ``--exceptionNamespace`` names; ``checks.kyverno.exception_namespaces`` is
that setting here (default none: exceptions off). In the git modes an honoured exception that is
new or changed since the base is a finding of its own, as ``config-weakened`` is for the gate's
own waivers: a change could otherwise add the exception that waives its own violation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gatekeeper.kyverno import wildcard
from gatekeeper.kyverno.exceptions import PolicyException, is_exception
from gatekeeper.kyverno.shape import mapping
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.yamlload import parse


def honoured(exceptions: Sequence[PolicyException], namespaces: Sequence[str]
             ) -> tuple[list[PolicyException], list[PolicyException]]:
    """(honoured, ignored): an exception counts when its namespace (``default`` when unset) matches
    one of ``namespaces`` (wildcards allowed, ``*`` for any)."""
    kept: list[PolicyException] = []
    ignored: list[PolicyException] = []
    for e in exceptions:
        ns = e.namespace or "default"
        (kept if any(wildcard.match(n, ns) for n in namespaces) else ignored).append(e)
    return kept, ignored


def sweeping(e: PolicyException) -> bool:
    """It names every policy or every rule (a policy or rule name made of wildcards only)."""
    def wild(text: str) -> bool:
        return bool(text) and not text.strip("*?")
    return any(wild(policy) or any(wild(r) for r in rules) for policy, rules in e.entries)


def changed(exceptions: Sequence[PolicyException], base_file: Callable[[str], bytes | None]
            ) -> list[tuple[PolicyException, str]]:
    """(exception, "new" or "changed") for each exception whose spec is not in its file at the base
    under its name."""
    at_base: dict[str, list[tuple[str, Any]]] = {}
    out: list[tuple[PolicyException, str]] = []
    for e in exceptions:
        before = at_base.get(e.doc.path)
        if before is None:
            before = at_base[e.doc.path] = _exceptions_in(e.doc.path, base_file(e.doc.path))
        same_name = [spec for name, spec in before if name == e.name]
        if e.spec in same_name:
            continue
        out.append((e, "changed" if same_name else "new"))
    return out


def _exceptions_in(path: str, data: bytes | None) -> list[tuple[str, Any]]:
    """(name, spec) of every PolicyException in a file's content (List items too)."""
    if data is None:
        return []
    out: list[tuple[str, Any]] = []
    for doc in parse(SourceFile(path, data)).documents:
        items = doc.obj.get("items") if isinstance(doc.obj, dict) else None
        for obj in items if isinstance(items, list) else [doc.obj]:
            if is_exception(obj):
                out.append((str(mapping(obj.get("metadata")).get("name") or ""), obj.get("spec")))
    return out
