"""No report shows a secret: every text of a finished report is masked, whichever check wrote it.

Checks quote manifest content on purpose (a port name, an object's name, a policy message that
prints its input), so a credential written where no one expects one (a token as a name, in a
label, under a field the schema does not know) could reach a report through any of them. The
pipeline's last step replaces, in every message, hint, field path, object identity, note and
error, each value a check detected (raw and JSON-escaped) and each token-family match. A check
that shortens a message marks the cut (``cut``): a detected value cut short just before the mark
is masked too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import fields, is_dataclass, replace
from typing import Any, TypeVar

from gatekeeper.checks.secrets.tokens import find_tokens, may_hold_token
from gatekeeper.model import Finding, Report

MASK = "<redacted>"
CUT = "…"  # what a check puts where it shortened a message (``cut``): the masker looks before it
MIN_CUT = 4  # the shortest prefix of a detected value masked before a cut (shorter ones would match words)
MIN_MASKED = 6  # shorter detected values are not masked in free text (they would match words)
_KEPT = frozenset({"fingerprint"})  # a hash for tracking a finding across runs: no text of the input
_PATHS = frozenset({"path", "subjects", "file_classes"})  # repository paths (or records led by one)
_T = TypeVar("_T")


class Masker:
    """Masks a set of detected values and every token-family match in any text."""

    def __init__(self, values: Iterable[str]) -> None:
        forms: set[str] = set()
        for value in values:
            value = value.strip()
            if len(value) >= MIN_MASKED:
                forms.update({value, json.dumps(value)[1:-1]})
        ordered = sorted(forms, key=len, reverse=True)  # the longest form first: no partial masks
        # Case-insensitive: a check that case-folds what it quotes (a capability name upper-cased)
        # must not turn a detected value into one the mask no longer recognises.
        self._pattern = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE) if ordered else None
        self._forms = [f.lower() for f in ordered]
        self._done: dict[str, str] = {}  # paths, kinds and rule ids repeat across findings

    def text(self, text: str) -> str:
        """``text`` with every detected value and token masked."""
        if not text:
            return text
        done = self._done.get(text)
        if done is not None:
            return done
        masked = self._tokens(self._pattern.sub(MASK, text) if self._pattern is not None else text)
        if CUT in masked and self._forms:
            masked = self._cut_prefix(masked)
        self._done[text] = masked
        return masked

    def _cut_prefix(self, text: str) -> str:
        """A shortened text (``CUT`` where it was cut) with a prefix of a detected value (``MIN_CUT``
        characters or more) just before a cut masked too (a value cut short is no longer found whole)."""
        pieces = text.split(CUT)
        for i, body in enumerate(pieces[:-1]):
            lower = body.lower()
            longest = 0
            for form in self._forms:
                for k in range(min(len(form) - 1, len(lower)), max(longest, MIN_CUT - 1), -1):
                    if lower.endswith(form[:k]):
                        longest = k
                        break
            if longest:
                pieces[i] = body[:len(body) - longest] + MASK
        return CUT.join(pieces)

    def path(self, path: str) -> str:
        """A repository path with every token masked. Detected values are left: a file's name is
        in the change for everyone to see, and a weak password that equals a directory name
        (``quobyte/quobyte-secret.yaml``) would leave findings pointing nowhere."""
        return self._tokens(path) if path else path

    @staticmethod
    def _tokens(text: str) -> str:
        if len(text) >= 16 and may_hold_token(text):
            for token in sorted(find_tokens(text), key=lambda t: len(t.value), reverse=True):
                text = text.replace(token.value, MASK)
        return text

    def finding(self, f: Finding) -> Finding:
        """``f`` with every text a reporter can show masked: the walk covers every string field of
        the finding and of what it holds (resource identity, rule id, origin, units, waiver), so a
        field added later is masked without anyone remembering to. Only the fingerprint, a hash
        reporters pass on for tracking, is kept."""
        return self._masked(f)

    def _masked(self, obj: _T) -> _T:
        changes: dict[str, Any] = {}
        for item in fields(obj):  # type: ignore[arg-type]  # every caller passes a dataclass
            if item.name in _KEPT:
                continue
            old = getattr(obj, item.name)
            new = self.path(old) if item.name in _PATHS and isinstance(old, str) else self._value(old)
            if new is not old and new != old:
                changes[item.name] = new
        return replace(obj, **changes) if changes else obj  # type: ignore[type-var]

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, tuple):
            return tuple(self._value(v) for v in value)
        if is_dataclass(value) and not isinstance(value, type):
            return self._masked(value)
        return value

    def report(self, report: Report) -> None:
        """Mask every text the report's formats render, in place: the findings and every list of
        texts or records the report carries (notes, errors, subjects, file classes). The rule
        catalogue is the build's own documentation and the timings are keyed by check names."""
        for item in fields(report):
            value = getattr(report, item.name)
            if item.name in _PATHS:  # (path, text...) records
                setattr(report, item.name, [(self.path(v[0]), *self._value(v[1:])) for v in value])
            elif isinstance(value, list):
                setattr(report, item.name, [self._value(v) for v in value])


def cut(text: str, limit: int) -> str:
    """``text`` shortened to at most ``limit`` characters, ending in ``CUT`` when it was: the report's
    masking then also masks a detected value cut short at the end."""
    return text if len(text) <= limit else text[:max(limit - len(CUT), 0)] + CUT
