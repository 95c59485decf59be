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
from bisect import bisect_left
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
# The non-ASCII characters that Python's case-insensitive regex matches to an ASCII letter
# (dotted and dotless i, long s, the Kelvin sign; a test scans every code point), as that letter.
_ASCII_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


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
        self._pattern = _alternation(ordered)
        self._forms = sorted({f.lower() for f in ordered})  # sorted: prefix search by bisection
        self._widest = max(map(len, self._forms), default=0) - 1  # the longest proper prefix
        # A regex of hundreds of alternatives tries each at every position (milliseconds a text).
        # A text is first looked up by the first MIN_MASKED characters of each form and then
        # masked with the forms whose heads it holds, in the same order (the same matches). For
        # ASCII forms only, where IGNORECASE is lower-casing plus the few non-ASCII characters
        # that match an ASCII letter (_ASCII_FOLD); other forms send every text to the whole regex.
        self._heads: dict[str, list[str]] | None = None
        if all(f.isascii() for f in ordered):
            self._heads = {}
            for form in ordered:
                self._heads.setdefault(form[:MIN_MASKED].lower(), []).append(form)
        self._subsets: dict[tuple[str, ...], re.Pattern[str] | None] = {}
        self._done: dict[str, str] = {}  # paths, kinds and rule ids repeat across findings

    def text(self, text: str) -> str:
        """``text`` with every detected value and token masked."""
        if not text:
            return text
        done = self._done.get(text)
        if done is not None:
            return done
        pattern = self._pattern_for(text)
        masked = self._tokens(pattern.sub(MASK, text) if pattern is not None else text)
        if CUT in masked and self._forms:
            masked = self._cut_prefix(masked)
        self._done[text] = masked
        return masked

    def _pattern_for(self, text: str) -> re.Pattern[str] | None:
        """The detected-value regex for ``text``: the whole one, or the one of the forms whose first
        MIN_MASKED characters occur in it (None when there are none: nothing can match)."""
        heads = self._heads
        if heads is None or self._pattern is None:
            return self._pattern
        lower = text.lower() if text.isascii() else text.translate(_ASCII_FOLD).lower()
        size = len(lower) - MIN_MASKED + 1
        grams = map(lower.__getitem__, map(slice, range(size), range(MIN_MASKED, size + MIN_MASKED)))
        found = heads.keys() & set(grams)
        if not found:
            return None
        # in the whole regex's order (longest first), so the same alternative wins at each position
        chosen = tuple(sorted((form for head in found for form in heads[head]), key=len, reverse=True))
        if chosen not in self._subsets:
            self._subsets[chosen] = _alternation(chosen)
        return self._subsets[chosen]

    def _cut_prefix(self, text: str) -> str:
        """A shortened text (``CUT`` where it was cut) with a prefix of a detected value (``MIN_CUT``
        characters or more, shorter than the value) just before a cut masked too (a value cut short
        is no longer found whole). The longest such prefix wins: the earliest start in the text
        whose rest begins some form, found by bisection in the sorted forms."""
        pieces = text.split(CUT)
        for i, body in enumerate(pieces[:-1]):
            longest = self._longest_cut(body.lower())
            if longest:
                pieces[i] = body[:len(body) - longest] + MASK
        return CUT.join(pieces)

    def _longest_cut(self, lower: str) -> int:
        """The length of the longest tail of ``lower`` (``MIN_CUT`` or more) that is a proper prefix
        of a detected form; 0 when there is none."""
        forms = self._forms
        for start in range(max(len(lower) - self._widest, 0), len(lower) - MIN_CUT + 1):
            tail = lower[start:]
            at = bisect_left(forms, tail)
            # forms starting with ``tail`` follow it in order; at most one equals it (a set)
            for form in forms[at:at + 2]:
                if len(form) > len(tail) and form.startswith(tail):
                    return len(tail)
        return 0

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
        for name in _names(type(obj)):
            old = getattr(obj, name)
            new = self.path(old) if name in _PATHS and isinstance(old, str) else self._value(old)
            if new is not old and new != old:
                changes[name] = new
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


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(kind: type) -> tuple[str, ...]:
    """The fields of dataclass ``kind`` that masking walks (all but the kept ones)."""
    names = _NAMES.get(kind)
    if names is None:
        names = _NAMES[kind] = tuple(item.name for item in fields(kind) if item.name not in _KEPT)
    return names


def _alternation(forms: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive regex matching any of ``forms`` (tried in the order given)."""
    forms = list(forms)
    return re.compile("|".join(map(re.escape, forms)), re.IGNORECASE) if forms else None


def cut(text: str, limit: int) -> str:
    """``text`` shortened to at most ``limit`` characters, ending in ``CUT`` when it was: the report's
    masking then also masks a detected value cut short at the end."""
    return text if len(text) <= limit else text[:max(limit - len(CUT), 0)] + CUT
