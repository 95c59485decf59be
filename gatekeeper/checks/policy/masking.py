"""Masking: no value the secrets check detects anywhere in the run reaches policy output.

Policies never receive those values (``redact`` replaces them in every object a policy reads);
masking is the second layer, for values a policy could still read as written (its data files).
A policy message, its details and ``print()`` output are masked for every value detected in the
run (not only in the finding's object), in the forms a policy can print it: as written,
JSON-escaped (``sprintf``/``json.marshal``), base64 and base64url (with or without padding), and
any run of 8 or more of its characters (a ``substring`` of it, or a prefix of its base64 form).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable

from gatekeeper.model import Document

MASK = "<redacted>"
WINDOW = 8


class Masker:
    """Masks a fixed set of secret values in any text."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        # the forms whose windows are every form's windows: a base64 form without its padding is a
        # prefix of the padded one (the index costs one slice per character of these forms: 0.1-0.2 s
        # for the 800 values, 160,000 characters, a 10k-resource run detects)
        covering: set[str] = set()
        for value in values:
            value = value.strip()
            if len(value) < 4:
                continue
            raw = value.encode("utf-8", "surrogatepass")
            b64 = base64.b64encode(raw).decode("ascii")
            url = base64.urlsafe_b64encode(raw).decode("ascii")
            padded = {value, json.dumps(value)[1:-1], b64, url}
            covering.update(padded)
            forms.update(padded)
            forms.update({b64.rstrip("="), url.rstrip("=")})
        self._whole = sorted(forms, key=len, reverse=True)
        self._windows = {f[i:i + WINDOW] for f in covering if len(f) >= WINDOW for i in range(len(f) - WINDOW + 1)}
        self._short = [f for f in self._whole if len(f) < WINDOW]

    def __bool__(self) -> bool:
        return bool(self._whole)

    def mask(self, text: str) -> str:
        """``text`` with every occurrence of a secret value's forms and 8-character runs masked."""
        if not self._whole or not text:
            return text
        # a form of 8+ characters holds a window: a text without any window can only hold short forms
        hit = len(text) >= WINDOW and bool(self._windows) and \
            not self._windows.isdisjoint({text[i:i + WINDOW] for i in range(len(text) - WINDOW + 1)})
        replaced = False
        for form in self._whole if hit else self._short:
            if form in text:
                text = text.replace(form, MASK)
                replaced = True
        if not (hit or replaced) or len(text) < WINDOW:
            return text
        covered = [False] * len(text)
        hit = False
        for i in range(len(text) - WINDOW + 1):
            if text[i:i + WINDOW] in self._windows:
                hit = True
                for j in range(i, i + WINDOW):
                    covered[j] = True
        if not hit:
            return text
        out: list[str] = []
        i = 0
        while i < len(text):
            if covered[i]:
                while i < len(text) and covered[i]:
                    i += 1
                out.append(MASK)
            else:
                out.append(text[i])
                i += 1
        return "".join(out)


def run_values(documents: Iterable[Document]) -> list[str]:
    """Every value the secrets check detects in the run's documents, longest first (the one scan
    ``redact.Redactor`` makes, for callers that only mask output)."""
    from gatekeeper.checks.policy.redact import Redactor

    return Redactor(documents).values
