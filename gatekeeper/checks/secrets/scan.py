"""The value scanner: walks a parsed object and records hits (rule, field path, value).

One scanner handles every "place" a value can sit in, because the same string means different
things in different places: a literal under ``DB_PASSWORD`` in a pod's ``env`` is a credential
(error), the same under a ConfigMap key is keyword + entropy evidence (warning), and a random
string under a neutral key is only worth an info. Token families are errors everywhere.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from gatekeeper.checks.secrets import embedded
from gatekeeper.checks.secrets.keys import KeyKind, classify, is_file_reference, words
from gatekeeper.checks.secrets.tokens import TRIGGER, aws_secret_key, find_tokens, gcp_service_account
from gatekeeper.checks.secrets.values import (
    HIGH_ENTROPY_MIN_LENGTH,
    HIGH_ENTROPY_THRESHOLD,
    MAX_MEAN_RUN,
    char_classes,
    decode_base64,
    is_identifier_hash,
    looks_random,
    mean_run,
    normalised_entropy,
    safe_value,
)
from gatekeeper.model import FieldPath

MIN_LITERAL = 6  # shortest literal reported as a credential in a secret-bearing place
_TOKENISH = re.compile(r"[A-Za-z0-9+/=_\-]{24,}")
_FLAG = re.compile(r"^--?([A-Za-z][\w.-]*)=(.+)$", re.DOTALL)
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
SKIP_KEYS = frozenset({"managedFields", "status"})
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class Place(enum.Enum):
    """Where a value sits, which decides how literal values are judged."""

    ENV = "env"                # a pod's env list: credential-named literals are errors
    KUBECONFIG = "kubeconfig"  # a kubeconfig user entry
    GENERATOR = "generator"    # a Kustomize secretGenerator
    CONFIG = "config"          # anything else: keyword + entropy


@dataclass(slots=True)
class Hit:
    """A detected secret. ``value`` is the secret itself: only ever digested, never rendered."""

    rule: str
    path: FieldPath
    value: str
    what: str
    sub_line: int | None = None  # 0-based line inside the embedded string at ``path``'s anchor
    anchor: FieldPath | None = None  # field holding the embedded text (for line lookup)


_PLACE_RULES = {Place.ENV: "secret-env-literal", Place.KUBECONFIG: "secret-kubeconfig",
                Place.GENERATOR: "secret-kustomize-generator"}
KUBECONFIG_KEYS = frozenset({"token", "client-key-data", "client-key", "password", "client-secret",
                             "id-token", "refresh-token", "access-token", "idp-certificate-authority-data"})


class Scanner:
    """Collects hits for one object; ``high_entropy`` enables the keyword-free info rule."""

    __slots__ = ("high_entropy", "hits")

    def __init__(self, high_entropy: bool = True) -> None:
        self.hits: list[Hit] = []
        self.high_entropy = high_entropy

    # -- walking ----------------------------------------------------------------------------

    def walk(self, obj: Any, base: FieldPath = (), place: Place = Place.CONFIG,
             skip: frozenset[str] = SKIP_KEYS) -> None:
        """Scan every string in ``obj``; ``env``-style name/value lists get env semantics."""
        stack: list[tuple[Any, FieldPath, str, Place]] = [(obj, base, "", place)]
        while stack:
            node, path, parent_key, where = stack.pop()
            if isinstance(node, dict):
                for key, value in node.items():
                    if not isinstance(key, str) or key in skip or (key == "sops" and "mac" in _dict(value)):
                        continue
                    if isinstance(value, str):
                        if key != LAST_APPLIED:
                            self.value(key, value, (*path, key), where)
                    elif isinstance(value, (dict, list)) and value:
                        stack.append((value, (*path, key), key, where))
            elif isinstance(node, list):
                self._list(node, path, parent_key, where, stack)

    def _list(self, items: list[Any], path: FieldPath, parent_key: str, where: Place,
              stack: list[tuple[Any, FieldPath, str, Place]]) -> None:
        env = parent_key == "env" and where is Place.CONFIG
        for i, item in enumerate(items):
            if isinstance(item, dict):
                name, value = item.get("name"), item.get("value")
                if isinstance(name, str) and "value" in item:
                    if isinstance(value, str):
                        self.value(name, value, (*path, i, "value"), Place.ENV if env else where)
                    rest = {k: v for k, v in item.items() if k not in ("name", "value")}
                    if rest:
                        stack.append((rest, (*path, i), parent_key, where))
                    continue
                stack.append((item, (*path, i), parent_key, where))
            elif isinstance(item, str):
                flag = _FLAG.match(item) if item.startswith("-") else None
                if flag is not None:
                    self.value(flag.group(1), flag.group(2), (*path, i), where)
                else:
                    self.value(parent_key, item, (*path, i), where)
            elif isinstance(item, list) and item:
                stack.append((item, (*path, i), parent_key, where))

    # -- one value ----------------------------------------------------------------------------

    def value(self, key: str, value: str, path: FieldPath, place: Place,
              *, anchor: FieldPath | None = None, sub_line: int | None = None) -> None:
        """Judge one string under ``key`` at ``path``."""
        n = len(value)
        if n < MIN_LITERAL:
            return
        if self.tokens(value, path, f"under '{key}'", anchor=anchor, sub_line=sub_line):
            return
        kind = classify(key)
        if kind is KeyKind.CREDENTIAL and n == 40 and aws_secret_key(words(key), value):
            self._add("secret-aws-secret-key", path, value, f"AWS secret access key under '{key}'",
                      anchor, sub_line)
            return
        multi = "\n" in value
        if multi and anchor is None and self.embedded(value, path, place):
            return
        if kind is KeyKind.CREDENTIAL:
            if is_file_reference(key) or safe_value(value, key) or multi:
                return
            if place is not Place.CONFIG:
                self._add(_PLACE_RULES[place], path, value, _where(place, key), anchor, sub_line)
            elif looks_random(value) and not _URL.match(value) and not is_identifier_hash(value):
                self._add("secret-keyword-entropy", path, value,
                          f"high-entropy value under credential-named key '{key}'", anchor, sub_line)
            return
        if place is Place.KUBECONFIG and key in KUBECONFIG_KEYS and not safe_value(value, key):
            self._add("secret-kubeconfig", path, value, f"kubeconfig user field '{key}'", anchor, sub_line)
            return
        if self.high_entropy and n >= HIGH_ENTROPY_MIN_LENGTH and kind is KeyKind.OTHER and not multi:
            self.entropy_only(key, value, path, anchor, sub_line)

    def tokens(self, value: str, path: FieldPath, where: str, *, anchor: FieldPath | None = None,
               sub_line: int | None = None, decoded: bool = False) -> bool:
        """Report token family matches in a value (and in its base64 decoding); True when any."""
        found = False
        if len(value) >= 16 and TRIGGER.search(value) is not None:
            for token in find_tokens(value):
                line = sub_line
                if "\n" in value and not decoded:
                    line = (sub_line or 0) + value.count("\n", 0, token.start)
                    anchor = anchor if anchor is not None else path
                how = " (base64-decoded)" if decoded else ""
                self._add(token.rule, path, token.value, f"{token.label}{how} {where}", anchor,
                          line if anchor is not None else None)
                found = True
        if not found and not decoded and len(value) >= 24 and len(value) % 4 == 0 and " " not in value:
            text = decode_base64(value)
            if text is not None:
                found = self.tokens(text, path, where, anchor=anchor, sub_line=sub_line, decoded=True)
        return found

    def embedded(self, text: str, path: FieldPath, place: Place) -> bool:
        """Scan configuration embedded in a multi-line string; True when it held structure."""
        structured = embedded.parse_structured(text)
        if gcp_service_account(structured):
            assert isinstance(structured, dict)
            self._add("secret-gcp-service-account", path, str(structured["private_key"]),
                      "GCP service-account key", None, None)
            return True
        any_pair = False
        for pair in embedded.pairs(text):
            any_pair = True
            inner = Place.CONFIG if place is Place.ENV else place
            self.value(pair.key, pair.value, (*path, *pair.path), inner, anchor=path, sub_line=pair.line)
        return any_pair

    def held(self, key: str, value: str, path: FieldPath, rule: str, what: str) -> None:
        """A value in a secret-bearing container (Secret data, secretGenerator): every literal is
        a credential unless its key is public information or the value is safe by construction."""
        if not value.strip() or self.tokens(value, path, what):
            return
        if classify(key) in (KeyKind.PUBLIC, KeyKind.REFERENCE) or safe_value(value, key):
            return
        if "\n" in value and self._held_config(key, value, path, rule, what):
            return
        self._add(rule, path, value, what, None, None)

    def _held_config(self, key: str, value: str, path: FieldPath, rule: str, what: str) -> bool:
        """A configuration file kept in a secret-bearing place: judge its entries, not the whole file
        (credential-named entries are this place's rule, the rest are ordinary config)."""
        pairs = list(embedded.pairs(value))
        if not pairs:
            return False
        for pair in pairs:
            where = (*path, *pair.path)
            if classify(pair.key) is KeyKind.CREDENTIAL and not is_file_reference(pair.key):
                if self.tokens(pair.value, where, what, anchor=path, sub_line=pair.line):
                    continue
                if not safe_value(pair.value, pair.key) and "\n" not in pair.value:
                    self._add(rule, where, pair.value, f"{what}: entry '{pair.key}'", path, pair.line)
            else:
                self.value(pair.key, pair.value, where, Place.CONFIG, anchor=path, sub_line=pair.line)
        return True

    def entropy_only(self, key: str, value: str, path: FieldPath, anchor: FieldPath | None,
                     sub_line: int | None) -> None:
        """Keyword-free: report only strings that look like generated key material (info)."""
        v = value.strip()
        if _TOKENISH.fullmatch(v) is None or char_classes(v) < 3 or is_identifier_hash(v):
            return
        if normalised_entropy(v) < HIGH_ENTROPY_THRESHOLD or mean_run(v) > MAX_MEAN_RUN or safe_value(v, key):
            return
        self._add("secret-high-entropy", path, value, f"random-looking value under '{key}'", anchor, sub_line)

    def add(self, rule: str, path: FieldPath, value: str, what: str) -> None:
        """Record a hit found by a place-specific detector."""
        self._add(rule, path, value, what, None, None)

    def _add(self, rule: str, path: FieldPath, value: str, what: str, anchor: FieldPath | None,
             sub_line: int | None) -> None:
        self.hits.append(Hit(rule, path, value, what, sub_line, anchor))


def _where(place: Place, key: str) -> str:
    if place is Place.ENV:
        return f"literal value of credential-named env var '{key}'"
    if place is Place.KUBECONFIG:
        return f"kubeconfig credential '{key}'"
    return f"secretGenerator literal '{key}'"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
