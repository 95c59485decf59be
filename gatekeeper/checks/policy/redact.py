"""Secret values never reach a policy: a message that echoes its input cannot leak them.

Policies see a Secret's keys, metadata and type, but each value under ``data`` and
``stringData`` is replaced by a marker with its length. Likewise every value the secrets check
detects anywhere in the run (an env literal named like a password, a token in a config file, a
random-looking string) is replaced by such a marker wherever a policy could read it, inside the
string that holds it (``postgres://app:<redacted: 20 characters>@db``): no transformation a
policy applies (``strings.reverse``, ``hex.encode``, ``upper``, ``substring``) can recover a value
it never received. Detecting plaintext secrets is the secrets check's job; policies decide on
structure (a literal is still a non-empty string, so "no literal credentials in env" policies
keep working).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from gatekeeper.checks.policy.values import INT_MAX, INT_MIN, may_hold_invalid
from gatekeeper.model import Document

_FIELDS = ("data", "stringData")
MASK = "<redacted>"
MARKER = "<redacted"  # every replacement holds this text (``marker``, ``redact``, ``MASK``)


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


def marker(value: str) -> str:
    """What a policy sees in place of a secret value."""
    return f"<redacted: {len(value)} characters>"


Scanned = tuple[list[str], dict[int, set[str]]]  # values detected in the documents; per object, its own


def scan(documents: Iterable[Document]) -> Scanned:
    """The run's documents scanned as the secrets check reads them: every detected value, and for
    each object (by identity) the values detected in it. Documents read from the parse store are
    skipped: it keeps only documents in which this scan finds nothing (``scan_clean``)."""
    from gatekeeper.checks.secrets.kubernetes import is_kubeconfig, reader_of, scan_kubeconfig
    from gatekeeper.checks.secrets.scan import Scanner

    scanner = Scanner(high_entropy=True)
    local: dict[int, set[str]] = {}
    for doc in documents:
        if doc.stored:  # the parse store keeps only documents in which this scan finds nothing
            continue
        start = len(scanner.hits)
        if doc.resources:
            for resource in doc.resources:
                before = len(scanner.hits)
                reader_of(resource.api_version, resource.kind)(scanner, resource.obj)
                if len(scanner.hits) > before:  # (most objects hold nothing: no slice, no set)
                    _note(local, resource.obj, scanner.hits[before:])
        elif is_kubeconfig(doc.obj):
            scan_kubeconfig(scanner, doc.obj)
        elif isinstance(doc.obj, dict | list):
            scanner.walk(doc.obj)
        if len(scanner.hits) > start:
            _note(local, doc.obj, scanner.hits[start:])
    return [h.value for h in scanner.hits], local


def for_run(ctx: Any) -> Redactor:
    """A redactor for a check of the run ``ctx`` (a ``Context``): the documents are scanned once per
    run, by the first check that asks, and each redactor adds the values detected so far."""
    scanned = ctx.shared.get("redaction-scan")
    if scanned is None:
        scanned = ctx.shared["redaction-scan"] = scan(ctx.documents)
    return Redactor(known=ctx.detected, scanned=scanned)


class Redactor:
    """Prepares objects for policies: ``redact`` plus every value detected in the run replaced.

    The run's documents are scanned once, as the secrets check reads them (``known`` adds values
    other checks already detected, in files that are not documents). A string that equals a
    detected value is replaced wherever it is (a copy in another object); a string of an object
    that holds a value detected in that object has each occurrence replaced (a password inside a
    connection string). Objects are copied only along the paths that change.
    """

    def __init__(self, documents: Iterable[Document] = (), known: Iterable[str] = (),
                 scanned: Scanned | None = None) -> None:
        hits, local = scan(documents) if scanned is None else scanned
        found = {v.strip() for v in [*hits, *known] if len(v.strip()) >= 4}
        self.values = sorted(found, key=len, reverse=True)
        self._exact = frozenset(found)
        self._local = {key: tuple(sorted(v, key=len, reverse=True)) for key, v in local.items()}
        # objects already prepared (the inventory's, before the workers fork: they inherit them)
        self._memo: dict[int, tuple[Any, Any, bool]] = {}

    def __call__(self, obj: Any) -> Any:
        """``obj`` as a policy may see it."""
        return self.prepare(obj)[0] if self._exact else redact(obj)

    def prepare(self, obj: Any) -> tuple[Any, bool]:
        """``obj`` as a policy may see it, and whether it may hold a value no policy can be given
        exactly (``values.may_hold_invalid``: an integer beyond 64 bits, NaN, an unusual type),
        found in the same walk."""
        known = self._memo.get(id(obj))
        if known is not None and known[0] is obj:
            return known[1], known[2]
        out = redact(obj)
        if not self._exact:
            doubt = may_hold_invalid(out, 1, 0)
        else:
            odd: list[bool] = []
            out = _scrub(out, self._local.get(id(obj), ()), self._exact, odd)
            doubt = bool(odd) or _odd(out)
        if isinstance(obj, dict | list):  # the object is kept with its entry, so its id stays its own
            self._memo[id(obj)] = (obj, out, doubt)
        return out, doubt


def _note(local: dict[int, set[str]], obj: Any, hits: Iterable[Any]) -> None:
    values = {h.value.strip() for h in hits if len(h.value.strip()) >= 4}
    if values:
        local.setdefault(id(obj), set()).update(values)


def _odd(value: Any) -> bool:
    """Whether a leaf (not a dict or list) is a value ``may_hold_invalid`` doubts."""
    kind = type(value)
    if kind is int:
        return not INT_MIN <= value <= INT_MAX
    if kind is float:
        return bool(value != value)
    return not (kind is str or kind is bool or kind is dict or kind is list or value is None)


def _scrub(value: Any, local: tuple[str, ...], exact: frozenset[str], odd: list[bool]) -> Any:
    """``value`` with detected values replaced (the same object where nothing changes); a leaf
    ``_odd`` finds is noted in ``odd``. Leaves are tested inline: this runs for every object a
    policy reads."""
    kind = type(value)
    if kind is str:
        return _scrub_text(value, local, exact)
    if kind is not dict and kind is not list:
        return value
    out: Any = None
    for key, item in (value.items() if kind is dict else enumerate(value)):
        sub = type(item)
        if sub is str:
            if item not in exact and not (local and any(secret in item for secret in local)):
                continue
            new = _scrub_text(item, local, exact)
        elif sub is dict or sub is list:
            new = _scrub(item, local, exact, odd)
            if new is item:
                continue
        else:
            if sub is int:
                if not INT_MIN <= item <= INT_MAX:
                    odd.append(True)
            elif sub is float:
                if item != item:
                    odd.append(True)
            elif sub is not bool and item is not None:
                odd.append(True)
            continue
        if out is None:
            out = dict(value) if kind is dict else list(value)
        out[key] = new
    return value if out is None else out


def _scrub_text(text: str, local: tuple[str, ...], exact: frozenset[str]) -> str:
    if text in exact:
        return marker(text)
    for secret in local:
        if secret in text:
            text = text.replace(secret, marker(secret))
    return text


def scan_clean(doc: Document) -> bool:
    """Whether :func:`scan` finds nothing in ``doc`` however the run reads it: through its
    resources (``extract``'s) and as a plain document (a unit's consumed inputs lose theirs). The
    parse store keeps only such documents, so the scan may skip what it reads from there."""
    from gatekeeper.sources.resources import extract

    shell = Document(doc.path, doc.index, doc.obj, doc.line, doc.positions, text=doc.text)
    if scan([shell])[0]:
        return False
    extract(shell)
    return not shell.resources or not scan([shell])[0]
