"""The policy output masker (``checks/policy/masking.py``): every form of a detected value and every
run of 8 or more of its characters is masked, whatever padding its base64 forms have."""

from __future__ import annotations

import base64
import json

import pytest

from gatekeeper.checks.policy.masking import MASK, WINDOW, Masker

# lengths giving base64 forms with no, two and one padding characters; a quote and a slash-making byte
VALUES = ["Zq7#mW2x9LpR", "Zq7#mW2x9LpR4", "Zq7#mW2x9LpR4v", 'pa"ss\\word-\u00e9>?>?>?', "k" * 40]


def _forms(value: str) -> list[str]:
    raw = value.encode()
    b64, url = base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()
    return [value, json.dumps(value)[1:-1], b64, b64.rstrip("="), url, url.rstrip("=")]


@pytest.mark.parametrize("value", VALUES)
def test_every_form_and_every_run_of_its_characters_is_masked(value: str) -> None:
    masker = Masker([value])
    for form in _forms(value):
        assert masker.mask(f"got {form}!") == f"got {MASK}!"
        for start in range(len(form) - WINDOW + 1):
            piece = form[start:start + WINDOW]
            masked = masker.mask(f"<{piece}>")
            assert piece not in masked and masked.startswith("<") and masked.endswith(">"), (form, piece)
        tail = form[-WINDOW:]  # the last run of an unpadded form, which its padded form holds too
        assert tail not in masker.mask(f"x {tail} y")


def test_text_without_a_run_of_a_value_is_left_as_it_is() -> None:
    masker = Masker(VALUES)
    text = "container web has no cpu limit; image nginx:1.2.3 in namespace shop"
    assert masker.mask(text) == text
    assert Masker([]).mask(VALUES[0]) == VALUES[0]
