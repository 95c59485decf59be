"""Token families: one positive per family (raw and base64-decoded) and the look-alikes they must skip."""

from __future__ import annotations

import base64
import json
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatekeeper.checks.secrets.scan import Place, Scanner
from gatekeeper.checks.secrets.tokens import TRIGGER, find_tokens, may_hold_token
from tests.secrets.fakes import ALNUM, aws_key_id, chars, github_token, pem_private_key, slack_webhook

LOWER_NUM = string.ascii_lowercase + string.digits


def _jwt() -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': chars(ALNUM, 12)})}.{chars(ALNUM + '-_', 43)}"


POSITIVES = {
    "secret-private-key": lambda: pem_private_key("OPENSSH PRIVATE KEY"),
    "secret-aws-access-key": aws_key_id,
    "secret-gcp-api-key": lambda: "AI" + "za" + chars(ALNUM + "-_", 35),
    "secret-github-token": github_token,
    "secret-gitlab-token": lambda: "gl" + "pat-" + chars(ALNUM + "-_", 20),
    "secret-slack-webhook": slack_webhook,
    "secret-slack-token": lambda: "xo" + "xb-" + chars(string.digits, 11) + "-" + chars(string.digits, 12) + "-"
                                  + chars(ALNUM, 24),
    "secret-stripe-key": lambda: "sk" + "_live_" + chars(ALNUM, 24),
    "secret-jwt": _jwt,
    "secret-age-key": lambda: "AGE-SECRET" + "-KEY-1" + chars("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58),
    "secret-vault-token": lambda: "hv" + "s." + chars(ALNUM + "_-", 90),
    "secret-npm-token": lambda: "np" + "m_" + chars(ALNUM, 36),
    "secret-pypi-token": lambda: "pypi-AgEIcHlwaS5vcmc" + chars(ALNUM + "-_", 60),
    "secret-url-password": lambda: "postgres://app:" + chars(ALNUM, 16) + "@db.internal:5432/main",
}


@pytest.mark.parametrize("rule", sorted(POSITIVES))
def test_each_family_is_found_raw_and_base64_decoded(rule: str) -> None:
    value = POSITIVES[rule]()
    assert [t.rule for t in find_tokens(f"prefix {value} suffix")] == [rule]
    scanner = Scanner()
    scanner.value("blob", base64.b64encode(value.encode()).decode(), ("data", "blob"), Place.CONFIG)
    assert [h.rule for h in scanner.hits] == [rule]


@pytest.mark.parametrize("pem", ["RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
                                 "DSA PRIVATE KEY", "OPENSSH PRIVATE KEY"])
def test_every_pem_private_key_kind(pem: str) -> None:
    assert [t.rule for t in find_tokens(pem_private_key(pem))] == ["secret-private-key"]


@pytest.mark.parametrize("text", [
    "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",   # documentation stub
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
    "AKIAIOSFODNN7EXAMPLE",                                                    # AWS's documented example
    "postgres://app:${DB_PASSWORD}@db:5432/main",                              # placeholder in a URL
    "https://user:password@example.com/",                                      # dummy word
    "https://example.com/path?query=1",
    "eyJhbGciOiJIUzI1NiJ9notajwt",
    "ghp_short",
])
def test_look_alikes_are_not_tokens(text: str) -> None:
    assert find_tokens(text) == []


def test_aws_secret_key_needs_an_aws_name() -> None:
    secret = chars(ALNUM + "/+", 40)
    named = Scanner()
    named.value("AWS_SECRET_ACCESS_KEY", secret, ("data", "AWS_SECRET_ACCESS_KEY"), Place.CONFIG)
    assert [h.rule for h in named.hits] == ["secret-aws-secret-key"]
    neutral = Scanner(high_entropy=False)
    neutral.value("checksum", secret, ("data", "checksum"), Place.CONFIG)
    assert neutral.hits == []


def test_token_lines_inside_embedded_text() -> None:
    text = "route:\n  receiver: team\nreceivers:\n- name: team\n  slack_configs:\n  - api_url: " \
           + slack_webhook() + "\n"
    scanner = Scanner()
    scanner.value("alertmanager.yml", text, ("data", "alertmanager.yml"), Place.CONFIG)
    assert [(h.rule, h.sub_line, h.anchor) for h in scanner.hits] == [
        ("secret-slack-webhook", 5, ("data", "alertmanager.yml"))]


def test_lower_case_generated_ids_are_not_flagged_as_entropy() -> None:
    scanner = Scanner()
    scanner.value("podTemplateHash", chars(LOWER_NUM, 10), ("x",), Place.CONFIG)
    scanner.value("uid", "0f8fad5b-d9cb-469f-a165-70867728950e", ("y",), Place.CONFIG)
    scanner.value("commit", chars("0123456789abcdef", 40), ("z",), Place.CONFIG)
    assert scanner.hits == []


_TRIGGER_PIECES = ["glpat-", "xoxb-", "xox", "hooks.slack", "hvs.", "hvb.", "pypi-", "gh", "p_", "github_pat_",
                   "_live_", "eyJ", "npm_", "AKIA", "A3T", "AIza", "PRIVATE KEY", "AGE-SECRET-KEY", "://", ":",
                   "@", "/", ".", "-", "a", "z", "Q", " "]


@given(st.lists(st.sampled_from(_TRIGGER_PIECES), max_size=12))
def test_may_hold_token_never_misses_a_trigger(pieces: list[str]) -> None:
    """The walk's cheap pre-test must say yes wherever the trigger alternation matches."""
    text = "".join(pieces)
    if TRIGGER.search(text) is not None:
        assert may_hold_token(text), text


@pytest.mark.parametrize("rule", sorted(POSITIVES))
def test_may_hold_token_on_every_family(rule: str) -> None:
    token = POSITIVES[rule]()
    assert may_hold_token(token)
    lowered = token.lower()
    if TRIGGER.search(lowered) is not None:  # lower-cased, some families still trigger
        assert may_hold_token(lowered)
