"""Provider token families: patterns that identify a credential by its shape alone.

Each family is one compiled pattern plus an optional validator that rejects documented
examples and templates. A cheap trigger (a literal each family's tokens must contain) keeps
the scan off the great majority of strings, which hold none.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from gatekeeper.checks.secrets.values import is_placeholder


@dataclass(frozen=True, slots=True)
class Family:
    """One provider token family: the rule it reports and how to find it in a string."""

    rule: str
    label: str
    pattern: re.Pattern[str]
    valid: Callable[[str], bool] | None = None
    needles: tuple[str, ...] = ()  # literals a match must contain (none: always tried)


@dataclass(frozen=True, slots=True)
class TokenMatch:
    """A token family match; ``value`` is the matched credential (never rendered)."""

    rule: str
    label: str
    value: str
    start: int


def _not_example(value: str) -> bool:
    return not value.upper().endswith("EXAMPLE") and "XXXXXXXX" not in value.upper()


def _jwt_ok(value: str) -> bool:
    head = value.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
        header = json.loads(decoded)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and ("alg" in header or "typ" in header)


_PEM_BODY = re.compile(r"[A-Za-z0-9+/=]{40,}")


def _pem_ok(value: str) -> bool:
    """A private key block with a real body (not a documentation stub like '...')."""
    parts = value.split("-----")
    body = parts[2] if len(parts) >= 3 else value
    return _PEM_BODY.search(body.replace("\n", "").replace("\r", "").replace(" ", "")) is not None


def _url_password_ok(value: str) -> bool:
    m = _URL_PASSWORD_PARTS.search(value)
    if m is None:
        return False
    password = m.group("password")
    if len(password) < 3 or is_placeholder(password) or "$" in password or "{" in password:
        return False
    low = password.lower()
    return not (len(set(low)) <= 2 or low in _URL_DUMMY_PASSWORDS or low.startswith(("<", "%3c")))


_URL_DUMMY_PASSWORDS = frozenset({"password", "passwd", "pass", "pwd", "secret", "redacted", "xxxxx",
                                  "changeme", "example", "user", "username", "token"})
_URL_PASSWORD_PARTS = re.compile(
    r"[a-zA-Z][a-zA-Z0-9+.-]{1,20}://(?P<user>[^/\s:@'\"]*):(?P<password>[^/\s@'\"]+)@[^\s/'\"]+")

_PEM_KIND = r"(?:(?:RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY(?: BLOCK)?"

FAMILIES: tuple[Family, ...] = (
    Family("secret-private-key", "PEM private key",
           re.compile(rf"-----BEGIN {_PEM_KIND}-----[\s\S]*?-----END {_PEM_KIND}-----"), _pem_ok,
           ("PRIVATE KEY",)),
    Family("secret-aws-access-key", "AWS access key id",
           re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Z0-9])"),
           _not_example, ("AKIA", "ASIA", "ABIA", "ACCA", "A3T")),
    Family("secret-gcp-api-key", "GCP API key", re.compile(r"(?<![\w-])AIza[0-9A-Za-z_\-]{35}(?![\w-])"),
           needles=("AIza",)),
    Family("secret-github-token", "GitHub token",
           re.compile(r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{50,255})"),
           _not_example, ("gh",)),
    Family("secret-gitlab-token", "GitLab token", re.compile(r"(?<![\w-])glpat-[A-Za-z0-9_\-]{20,}"),
           _not_example, ("glpat-",)),
    Family("secret-slack-webhook", "Slack webhook URL",
           re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+\-]{20,}"),
           needles=("hooks.slack",)),
    Family("secret-slack-token", "Slack token",
           re.compile(r"(?<![\w-])xox[abposr]-(?:[0-9]+-){1,3}[A-Za-z0-9\-]{8,}"), _not_example, ("xox",)),
    Family("secret-stripe-key", "Stripe live key", re.compile(r"(?<![\w-])(?:sk|rk)_live_[A-Za-z0-9]{20,}"),
           needles=("_live_",)),
    Family("secret-jwt", "JSON web token",
           re.compile(r"(?<![\w-])eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
           _jwt_ok, ("eyJ",)),
    Family("secret-age-key", "age secret key",
           re.compile(r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"), needles=("AGE-SECRET",)),
    Family("secret-vault-token", "Vault token", re.compile(r"(?<![\w.-])hv[sb]\.[A-Za-z0-9_\-]{24,}"),
           needles=("hvs.", "hvb.")),
    Family("secret-npm-token", "npm token", re.compile(r"(?<![\w-])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"),
           needles=("npm_",)),
    Family("secret-pypi-token", "PyPI token", re.compile(r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}"),
           needles=("pypi-",)),
    Family("secret-url-password", "URL with an embedded password", _URL_PASSWORD_PARTS, _url_password_ok,
           ("@",)),
)

# One literal every family's match contains; a string without any of them cannot match.
TRIGGER = re.compile(r"PRIVATE KEY|AKIA|ASIA|ABIA|ACCA|A3T|AIza|gh[pousr]_|github_pat_|glpat-|hooks\.slack"
                     r"|xox[abposr]-|_live_|eyJ|AGE-SECRET-KEY|hv[sb]\.|npm_|pypi-|://[^\s/@]*:[^\s/@]*@")
# The trigger literals a value can hold without an upper-case letter, '_' or '@' (every other
# alternative of TRIGGER has one of those): most values are lower-case names, paths and hosts,
# and five substring tests cost less than one pass of the alternation.
_LOWER_CASE_TRIGGERS = ("glpat-", "xox", "hooks.slack", "hvs.", "hvb.", "pypi-")


def may_hold_token(value: str) -> bool:
    """Whether ``TRIGGER`` can match ``value`` (never False where it matches; cheaper for the
    common lower-case value)."""
    if value.islower() and "_" not in value and "@" not in value:
        return lower_case_trigger(value)
    return TRIGGER.search(value) is not None


def lower_case_trigger(value: str) -> bool:
    """For a value without upper-case letters, '_' or '@': whether it holds a trigger literal."""
    for literal in _LOWER_CASE_TRIGGERS:  # noqa: SIM110 (a generator costs more than the tests)
        if literal in value:
            return True
    return False


def find_tokens(text: str) -> list[TokenMatch]:
    """Every token family match in ``text`` (overlapping families keep the first, longest one)."""
    if TRIGGER.search(text) is None:
        return []
    found: list[TokenMatch] = []
    taken: list[tuple[int, int]] = []
    for family in FAMILIES:
        if family.needles and not any(n in text for n in family.needles):
            continue
        for m in family.pattern.finditer(text):
            span = m.span()
            if any(span[0] < end and start < span[1] for start, end in taken):
                continue
            value = m.group(0)
            if family.valid is not None and not family.valid(value):
                continue
            if family.rule == "secret-url-password":
                value = m.group("password")
            taken.append(span)
            found.append(TokenMatch(family.rule, family.label, value, span[0]))
    found.sort(key=lambda t: t.start)
    return found


_AWS_SECRET = re.compile(r"[A-Za-z0-9/+]{40}")


def aws_secret_key(key_tokens: tuple[str, ...], value: str) -> bool:
    """An AWS secret access key: a 40-character base64 value under an AWS secret-key name."""
    if len(value) != 40 or _AWS_SECRET.fullmatch(value) is None:
        return False
    joined = "".join(key_tokens)
    return "secretaccesskey" in joined or ("aws" in key_tokens and "secret" in key_tokens)


def gcp_service_account(obj: object) -> bool:
    """A GCP service-account key file: ``type: service_account`` with a private key."""
    return isinstance(obj, dict) and obj.get("type") == "service_account" \
        and isinstance(obj.get("private_key"), str) and bool(obj.get("private_key"))
