"""Flux's post-build substitution rules, on text."""

from __future__ import annotations

import pytest

from gatekeeper.sources.render.envsubst import SubstitutionError, substitute

VARS = {"NAME": "Web-App", "EMPTY": "", "TAG": "1.2.3"}


@pytest.mark.parametrize(("text", "expected"), [
    ("image: app:${TAG}", "image: app:1.2.3"),
    ("a: ${MISSING}", "a: "),
    ("a: ${MISSING:=fallback} ${EMPTY:-dflt} ${EMPTY=kept} ${MISSING-unset}", "a: fallback dflt  unset"),
    ("a: ${MISSING:=${TAG}}", "a: 1.2.3"),
    ("a: $${TAG} $TAG $ ${TAG}", "a: ${TAG} $TAG $ 1.2.3"),
    ("a: ${#NAME} ${NAME:4} ${NAME:0:3} ${NAME: -3} ${NAME:-3}", "a: 7 App Web App Web-App"),
    ("a: ${NAME/A/a} ${NAME//-/_} ${NAME#Web-} ${NAME%-App}", "a: Web-app Web_App App Web"),
    ("a: ${NAME^^} ${NAME,,} ${NAME,} ${NAME^}", "a: WEB-APP web-app web-App Web-App"),
])
def test_substitution(text: str, expected: str) -> None:
    assert substitute(text, VARS).text == expected


def test_what_was_read_is_reported() -> None:
    result = substitute("${TAG} ${NOPE} ${GONE:=x}", VARS)
    assert (result.used, result.undefined, result.defaulted) == (["TAG"], ["NOPE"], ["GONE"])


@pytest.mark.parametrize("text", ["a: ${TAG", "a: ${1X}", "a: ${TAG:x}", "a: ${TAG@Q}"])
def test_a_reference_that_does_not_parse_is_an_error(text: str) -> None:
    with pytest.raises(SubstitutionError):
        substitute(text, VARS)
