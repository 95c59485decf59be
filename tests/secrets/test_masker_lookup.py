"""The report masker's fast lookup masks exactly what one regex of every detected value masks.

The masker looks a text up by the first characters of each detected value before it runs a
regex, and finds a value cut short by bisection; both must agree with the plain definitions
(one case-insensitive alternation of every form; the longest proper prefix before a cut) on any
text, including the non-ASCII characters a case-insensitive regex matches to ASCII letters.
"""

from __future__ import annotations

import json
import re
import sys

from hypothesis import given
from hypothesis import strategies as st

from gatekeeper.checks.secrets.masking import _ASCII_FOLD, CUT, MASK, MIN_CUT, MIN_MASKED, Masker, cut


def reference(values: list[str], text: str) -> str:
    """The masker's definition, written plainly: every form by one regex, then each cut's prefix."""
    forms = {form for v in values if len(v.strip()) >= MIN_MASKED
             for form in (v.strip(), json.dumps(v.strip())[1:-1])}
    ordered = sorted(forms, key=len, reverse=True)
    if ordered:
        text = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE).sub(MASK, text)
    text = Masker._tokens(text)
    if CUT not in text or not ordered:
        return text
    lowered = [f.lower() for f in ordered]
    pieces = text.split(CUT)
    for i, body in enumerate(pieces[:-1]):
        lower = body.lower()
        longest = max((k for form in lowered for k in range(MIN_CUT, len(form)) if lower.endswith(form[:k])),
                      default=0)
        if longest:
            pieces[i] = body[:len(body) - longest] + MASK
    return CUT.join(pieces)


def test_the_fold_table_lists_every_non_ascii_character_that_matches_an_ascii_one() -> None:
    ascii_class = re.compile(r"[\x00-\x7f]", re.IGNORECASE)
    found = {c: chr(a).lower() for c in map(chr, range(128, sys.maxunicode + 1)) if ascii_class.fullmatch(c)
             for a in range(128) if re.fullmatch(re.escape(chr(a)), c, re.IGNORECASE)}
    assert {chr(k): v for k, v in _ASCII_FOLD.items()} == found


VALUE = st.text(alphabet="abcdefghiksxyzABKS0123456789-_/+=\"\\", min_size=4, max_size=24)
LOOKALIKE = str.maketrans({"i": "\u0131", "I": "\u0130", "s": "\u017f", "k": "\u212a"})


@st.composite
def texts(draw: st.DrawFn, values: list[str]) -> str:
    """A text built from pieces of the values (whole, cut short, case-changed or with the
    characters a case-insensitive regex still matches), filler and cut marks."""
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(("value", "prefix", "filler", "cut")))
        if kind in ("value", "prefix") and values:
            value = draw(st.sampled_from(values))
            if kind == "prefix":
                value = value[:draw(st.integers(0, len(value)))]
            value = draw(st.sampled_from((value, value.upper(), value.translate(LOOKALIKE), json.dumps(value))))
            parts.append(value)
        elif kind == "cut":
            parts.append(CUT)
        else:
            parts.append(draw(st.text(alphabet="abksi -:'\u00e9\u0131", max_size=12)))
    return "".join(parts)


@given(st.data())
def test_the_masker_agrees_with_one_regex_of_every_form(data: st.DataObject) -> None:
    values = data.draw(st.lists(VALUE, max_size=6))
    masker = Masker(values)
    for _ in range(5):
        text = data.draw(texts(values))
        assert masker.text(text) == reference(values, text), text


def test_a_value_written_with_case_lookalikes_or_in_another_case_is_masked() -> None:
    masker = Masker(["secret-kiss-token"])
    for shown in ("SECRET-KISS-TOKEN", "\u017fecret-\u212a\u0131ss-token", "x=Secret-Kiss-Token;"):
        assert "kiss" not in masker.text(shown).lower().translate(_ASCII_FOLD), shown


def test_a_non_ascii_value_is_masked_in_another_case() -> None:
    masker = Masker(["p\u00e4sswort-geheim"])
    assert masker.text("P\u00c4SSWORT-GEHEIM in the message") == f"{MASK} in the message"


def test_a_value_cut_short_is_masked_up_to_the_cut() -> None:
    masker = Masker(["hunter2-correct-horse"])
    assert masker.text(cut("password is hunter2-correct-horse", 24)) == f"password is {MASK}{CUT}"
    assert masker.text(cut("a message about a hunting trip", 12)) == f"a message a{CUT}"  # no prefix of 4+
