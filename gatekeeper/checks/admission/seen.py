"""What the policies see of an object: the object as the redactor prepares it, found without copying it.

Policies see detected secret values redacted (``checks.policy.redact.Redactor``), but they read
only the paths their expressions can read (the object's view: ``cel.views``), and the runtime is
given the object pruned to that view. The redactor walks (and copies where it replaces) the whole
object; most objects hold no detected value within the view, and then the object itself is what
the policies see there. ``Seen`` finds that out in the walk that measures the view for the cost
bound and the fast path (``views.measure_clean``), and calls the redactor only for the others:
Secrets and lists (whose values ``redact`` replaces) and objects whose view holds a detected value
(one detected anywhere in the run, or inside a string of its own when detected in the object).
"""

from __future__ import annotations

from typing import Any

from gatekeeper.cel.views import Trie, measure_clean
from gatekeeper.checks.policy.redact import Redactor, redact


class Seen:
    """``seen`` for one run's redactor (its sets looked up once)."""

    __slots__ = ("_exact", "_local", "_redactor")

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        # a redactor keeping its sets elsewhere is asked every time (None)
        self._exact: frozenset[str] | None = getattr(redactor, "_exact", None)
        self._local: dict[int, Any] | None = getattr(redactor, "_local", None)

    def __call__(self, obj: Any, paths: Trie | None) -> tuple[Any, tuple[int, bool] | None]:
        """The object as the policies see it within ``paths``, and its measure there (``cel.measure``:
        weight, plain) when found on the way (None: the caller measures it)."""
        exact, local = self._exact, self._local
        if exact is None or local is None or type(obj) is not dict:
            return self._redactor(obj), None
        kind = obj.get("kind")
        if (type(kind) is not str or kind == "Secret" or kind.endswith("List")) and redact(obj) is not obj:
            return self._redactor(obj), None
        if not exact:
            return obj, None  # nothing detected in the run: the redactor gives the object itself
        inside = local.get(id(obj), ())  # values detected in the object: replaced inside its strings
        if type(inside) is not tuple:
            return self._redactor(obj), None
        weight, plain, clean = measure_clean(obj, paths, exact, inside)
        if clean:
            return obj, (weight, plain)
        return self._redactor(obj), None


def seen(redactor: Redactor, obj: Any, paths: Trie | None) -> tuple[Any, tuple[int, bool] | None]:
    """The object as the policies see it within ``paths``, and its measure there (``cel.measure``:
    weight, plain) when found on the way (None: the caller measures it)."""
    return Seen(redactor)(obj, paths)
