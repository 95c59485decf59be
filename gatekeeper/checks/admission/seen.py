"""What the policies see of an object: the object as the redactor prepares it, found without copying it.

Policies see detected secret values redacted (``checks.policy.redact.Redactor``), but they read
only the paths their expressions can read (the object's view: ``cel.views``), and the runtime is
given the object pruned to that view. The redactor walks (and copies where it replaces) the whole
object; most objects hold no detected value within the view, and then the object itself is what
the policies see there. ``seen`` finds that out in the walk that measures the view for the cost
bound and the fast path (``views.measure_clean``), and calls the redactor only for the others:
Secrets (whose values are always replaced), objects holding a value detected in them (replaced
inside their strings), and objects whose view holds a value detected elsewhere in the run.
"""

from __future__ import annotations

from typing import Any

from gatekeeper.cel.views import Trie, measure_clean
from gatekeeper.checks.policy.redact import Redactor, redact


def seen(redactor: Redactor, obj: Any, paths: Trie | None) -> tuple[Any, tuple[int, bool] | None]:
    """The object as the policies see it within ``paths``, and its measure there (``cel.measure``:
    weight, plain) when found on the way (None: the caller measures it)."""
    exact: frozenset[str] | None = getattr(redactor, "_exact", None)
    local: dict[int, Any] | None = getattr(redactor, "_local", None)
    if exact is None or local is None or redact(obj) is not obj or id(obj) in local:
        return redactor(obj), None  # a redactor that keeps its sets elsewhere: ask it every time
    if not exact:
        return obj, None  # nothing detected in the run: the redactor gives the object itself
    weight, plain, clean = measure_clean(obj, paths, exact)
    if clean:
        return obj, (weight, plain)
    return redactor(obj), None
