"""The value scanner: walks a parsed object and records hits (rule, field path, value).

One scanner handles every "place" a value can sit in, because the same string means different
things in different places: a literal under ``DB_PASSWORD`` in a pod's ``env`` is a credential
(error), the same under a ConfigMap key is keyword + entropy evidence (warning), and a random
string under a neutral key is only worth an info. Token families are errors everywhere.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import Any

from gatekeeper.checks.secrets import embedded
from gatekeeper.checks.secrets.keys import KeyKind, classify, is_file_reference, words
from gatekeeper.checks.secrets.skips import SKIP_KEYS
from gatekeeper.checks.secrets.tokens import (
    TRIGGER,
    aws_secret_key,
    find_tokens,
    gcp_service_account,
    lower_case_trigger,
    may_hold_token,
)
from gatekeeper.checks.secrets.values import (
    HIGH_ENTROPY_MIN_LENGTH,
    HIGH_ENTROPY_THRESHOLD,
    MAX_MEAN_RUN,
    char_classes,
    decode_base64,
    held_value,
    is_checksum,
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
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_SPECIAL_CONTAINERS = frozenset({"metadata", "sops"})


_KINDS: dict[str, KeyKind] = {}
# A key (YAML, JSON, INI, env or flag) ending in a word every credential-named key ends with
# (``classify`` judges by the last word): embedded text without one cannot hold a keyword finding.
_CREDENTIAL_KEY_HINT = re.compile(r"(?:pass(?:word|wd|phrase|code)?|pwd|secrets?|tokens?|key|credentials?|creds|pat"
                                  r"|bearer|pin|auth(?:orization)?)[\"']?[ \t]*[:=]")  # on lower-cased text
_CLEAN: set[tuple[str, str, Place, bool]] = set()
_CLEAN_MAX = 100_000
def clear_memo() -> None:
    """Forget values judged clean (benchmarks measure a cold run with this)."""
    _CLEAN.clear()


NEUTRAL_MIN = 16  # shortest value under a neutral key worth a look (the shortest token family is 20)
_THRESHOLDS: dict[str, int] = {}


def threshold_of(key: str) -> int:
    return _THRESHOLDS.get(key) or threshold(key)


def threshold(key: str) -> int:
    """Shortest value under ``key`` that any rule can report (memoised)."""
    least = MIN_LITERAL if key_kind(key) is KeyKind.CREDENTIAL else NEUTRAL_MIN
    _THRESHOLDS[key] = least
    return least
# A field path under construction: (parent link, key) pairs, flattened only when needed.
Link = tuple[Any, str | int] | None


def flatten(link: Link) -> FieldPath:
    """The field path a parent link stands for."""
    parts: list[str | int] = []
    while link is not None:
        link, part = link
        parts.append(part)
    parts.reverse()
    return tuple(parts)


def key_kind(key: str) -> KeyKind:
    """``classify`` memoised in a plain dict (the walk's hot path)."""
    kind = _KINDS.get(key)
    if kind is None:
        kind = _KINDS[key] = classify(key)
    return kind


_SPECIAL_DEFAULT = SKIP_KEYS | _SPECIAL_CONTAINERS


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

    __slots__ = ("high_entropy", "hits", "typed_tokens")

    def __init__(self, high_entropy: bool = True, *, typed_tokens: bool = True) -> None:
        self.hits: list[Hit] = []
        self.high_entropy = high_entropy
        # Whether subtrees skipped by schema (labels, selectors, ports...) are searched for token
        # families too. Masking (what a policy may print) searches them; the check's own walk does
        # not (it doubled the walk's time), so a token there is masked but not reported.
        self.typed_tokens = typed_tokens

    # -- walking ----------------------------------------------------------------------------

    def walk(self, obj: Any, base: FieldPath = (), place: Place = Place.CONFIG,
             skip: frozenset[str] = SKIP_KEYS) -> None:
        """Scan every string in ``obj``; ``env``-style name/value lists get env semantics.

        This loop sees every value of every object, so the common case (a short string under a
        neutral key, no token trigger) is decided here, and field paths are kept as cheap parent
        links that are only flattened for the few values worth a closer look. A stack entry is
        only (node, link): the place is the walk's, and a list's key is the link's last key.
        """
        link: Link = None
        for part in base:
            link = (link, part)
        stack: list[tuple[Any, Link]] = [(obj, link)]
        typed: list[tuple[Any, Link]] = []  # subtrees skipped by schema: searched for tokens only
        pop, push, thresholds = stack.pop, stack.append, _THRESHOLDS
        plain = place is Place.CONFIG
        special = _SPECIAL_DEFAULT if skip is SKIP_KEYS else skip | _SPECIAL_CONTAINERS
        trigger, tokenish = TRIGGER.search, _TOKENISH.fullmatch
        while stack:
            node, path = pop()
            if node.__class__ is dict:
                for key, value in node.items():
                    if len(key) >= 16 and trigger(key) is not None:  # a token written as a mapping key
                        self.tokens(key, (*flatten(path), key), "as a mapping key")
                    kind = value.__class__
                    if kind is str:
                        n = len(value)
                        if n < MIN_LITERAL:
                            continue
                        if plain:
                            # A neutral key in ordinary config: only token triggers, embedded config
                            # and long mixed-case token-like strings (entropy-only) need a closer look.
                            least = thresholds.get(key) or threshold(key)
                            if n < least:
                                continue
                            if least == NEUTRAL_MIN and "\n" not in value and not one_line_config(value):
                                # ``may_hold_token`` inlined: a lower-case value without '_' or '@'
                                # can only hold the lower-case trigger literals, and is no
                                # mixed-case entropy candidate either
                                if value.islower() and "_" not in value and "@" not in value:
                                    if not lower_case_trigger(value):
                                        continue
                                elif trigger(value) is None and (n < HIGH_ENTROPY_MIN_LENGTH or value.isupper()
                                                                 or tokenish(value) is None):
                                    continue
                        if key != LAST_APPLIED:
                            self.value(key, value, (*flatten(path), key), place)
                        else:
                            self.last_applied(value, (*flatten(path), key))
                    elif kind is dict or kind is list:
                        if not value:
                            continue
                        if key not in special:
                            push((value, (path, key)))
                        elif key in skip or (key == "sops" and "mac" in value):
                            if key in SKIP_KEYS and self.typed_tokens:
                                typed.append((value, (path, key)))
                            continue
                        elif key == "metadata" and kind is dict:
                            # an object's metadata: only annotations are free-form (names are names)
                            annotations = value.get("annotations")
                            if annotations.__class__ is dict and annotations:
                                push((annotations, ((path, key), "annotations")))
                            elif not value.keys() <= _META_KEYS:
                                push((value, (path, key)))
                        else:
                            push((value, (path, key)))
            elif node.__class__ is list:
                self._list(node, path, _list_key(path), place, stack)
        for node, path in typed:
            self.token_walk(node, path)

    def token_walk(self, obj: Any, link: Link) -> None:
        """Token families only, in a subtree whose schema leaves no room for a free-form value (a
        value that does not fit it is the schema check's finding, but a token is a token anywhere:
        undetected, it would reach every policy that prints its input)."""
        stack: list[tuple[Any, Link]] = [(obj, link)]
        while stack:
            node, path = stack.pop()
            items = node.items() if node.__class__ is dict else enumerate(node) if node.__class__ is list else ()
            for key, value in items:
                if value.__class__ is str:
                    if len(value) >= 16 and may_hold_token(value):
                        self.tokens(value, (*flatten(path), key), f"under '{key}'")
                elif value.__class__ is dict or value.__class__ is list:
                    stack.append((value, (path, key)))

    def _list(self, items: list[Any], path: Link, parent_key: str, where: Place,
              stack: list[tuple[Any, Link]]) -> None:
        """A list's items: env-style name/value pairs, command-line flags and nested values."""
        env = parent_key == "env" and where is Place.CONFIG
        for i, item in enumerate(items):
            kind = item.__class__
            if kind is dict:
                if "value" in item:
                    name, value = item.get("name"), item["value"]
                    if name.__class__ is str:
                        if value.__class__ is str:
                            if not _boring(name, value, Place.CONFIG if env else where):
                                self.value(name, value, (*flatten(path), i, "value"), Place.ENV if env else where)
                        elif value.__class__ is dict and value:  # mis-typed, but its strings are in git
                            stack.append((value, ((path, i), "value")))
                        elif value.__class__ is list and value:  # judged under the variable's name
                            self._list(value, ((path, i), "value"), name, where, stack)
                        if len(item) > 2:
                            stack.append(({k: v for k, v in item.items() if k not in ("name", "value")},
                                          (path, i)))
                        continue
                if "valueFrom" in item and _reference_only(item):
                    continue
                stack.append((item, (path, i)))
            elif kind is str:
                if len(item) < MIN_LITERAL or (where is Place.CONFIG and len(item) < NEUTRAL_MIN
                                               and item[0] != "-" and threshold_of(parent_key) == NEUTRAL_MIN):
                    continue
                flag = _FLAG.match(item) if item.startswith("-") else None
                if flag is not None:
                    self.value(flag.group(1), flag.group(2), (*flatten(path), i), where)
                elif not _boring(parent_key, item, where):
                    self.value(parent_key, item, (*flatten(path), i), where)
            elif kind is list and item:
                stack.append((item, (path, i)))

    # -- one value ----------------------------------------------------------------------------

    def value(self, key: str, value: str, path: FieldPath, place: Place,
              *, anchor: FieldPath | None = None, sub_line: int | None = None) -> None:
        """Judge one string under ``key`` at ``path``.

        GitOps trees repeat the same values (one config file per overlay and environment), so a
        (key, value, place) that produced nothing is remembered for the rest of the process; the
        memo lives in memory only, like the parsed documents it is derived from.
        """
        if anchor is not None:
            self._judge(key, value, path, place, anchor, sub_line)
            return
        memo = (key, value, place, self.high_entropy)
        if memo in _CLEAN:
            return
        before = len(self.hits)
        self._judge(key, value, path, place, None, None)
        if len(self.hits) == before:
            if len(_CLEAN) >= _CLEAN_MAX:
                _CLEAN.clear()
            _CLEAN.add(memo)

    def _judge(self, key: str, value: str, path: FieldPath, place: Place,
               anchor: FieldPath | None, sub_line: int | None) -> None:
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
        if (multi or one_line_config(value)) and anchor is None and self.embedded(value, path, place):
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
        if len(value) >= 16 and may_hold_token(value):
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

    def last_applied(self, value: str, path: FieldPath) -> None:
        """kubectl's record of an object as last applied: the JSON of a whole object, whose Secret
        data is as plain there as in the Secret (and may be another object's, or older), read the way
        its kind is read; text that is no object is searched for token families."""
        obj = None
        if len(value) <= embedded.MAX_EMBEDDED and value.lstrip().startswith("{"):
            try:
                obj = json.loads(value)
            except (ValueError, RecursionError):
                obj = None
        if not (isinstance(obj, dict) and isinstance(obj.get("apiVersion"), str)
                and isinstance(obj.get("kind"), str)):
            self.tokens(value, path, "in the last-applied configuration")
            return
        from gatekeeper.checks.secrets.kubernetes import reader_of

        inner = Scanner(self.high_entropy, typed_tokens=self.typed_tokens)
        reader_of(obj["apiVersion"], obj["kind"])(inner, obj)
        for hit in inner.hits:
            self._add(hit.rule, (*path, *hit.path), hit.value, f"{hit.what} (in the last-applied configuration)",
                      path, 0)

    def embedded(self, text: str, path: FieldPath, place: Place) -> bool:
        """Scan configuration embedded in a multi-line string; True when it held structure."""
        if _CREDENTIAL_KEY_HINT.search(text.lower()) is None and "service_account" not in text and (
                not self.high_entropy or _TOKENISH.search(text) is None):
            return False  # no key in it can be credential-named and no value long enough to matter
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
        a credential unless its key is public information or the value is a reference filled in at
        deploy time; a placeholder-looking value (``changeme``) is a weak credential (warning), and a
        boolean or a number only counts under a credential-named key."""
        if not value.strip() or self.tokens(value, path, what):
            return
        kind = classify(key)
        if kind in (KeyKind.PUBLIC, KeyKind.REFERENCE):
            return
        judged = held_value(value, key)
        if judged == "reference" or (judged == "flag" and kind is not KeyKind.CREDENTIAL):
            return
        if "\n" in value and self._held_config(key, value, path, rule, what):
            return
        if judged == "placeholder":
            self._add("secret-weak-placeholder", path, value, f"{what}: placeholder-looking value", None, None)
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
        if v.islower() or v.isupper() or _TOKENISH.fullmatch(v) is None or char_classes(v) < 3 \
                or is_identifier_hash(v) or is_checksum(key, v):
            return
        if normalised_entropy(v) < HIGH_ENTROPY_THRESHOLD or mean_run(v) > MAX_MEAN_RUN or safe_value(v, key):
            return
        decoded = decode_base64(v) if len(v) % 4 == 0 else None
        if decoded is not None and not looks_random(decoded, min_length=8):
            return  # base64 of words, names or configuration, not key material
        self._add("secret-high-entropy", path, value, f"random-looking value under '{key}'", anchor, sub_line)

    def add(self, rule: str, path: FieldPath, value: str, what: str) -> None:
        """Record a hit found by a place-specific detector."""
        self._add(rule, path, value, what, None, None)

    def _add(self, rule: str, path: FieldPath, value: str, what: str, anchor: FieldPath | None,
             sub_line: int | None) -> None:
        self.hits.append(Hit(rule, path, value, what, sub_line, anchor))


_META_KEYS = frozenset({"name", "namespace", "labels", "generateName", "uid", "resourceVersion",
                        "generation", "creationTimestamp", "finalizers", "ownerReferences", "deletionTimestamp"})


_ENV_REFERENCE = frozenset({"name", "valueFrom"})


def _reference_only(item: dict[str, Any]) -> bool:
    """An env entry whose value comes from a reference (secretKeyRef, fieldRef...): only names."""
    source = item["valueFrom"]
    return item.keys() <= _ENV_REFERENCE and source.__class__ is dict and source.keys() <= SKIP_KEYS


def _list_key(link: Link) -> str:
    """The key a list sits under (the nearest key in its path; "" at the root)."""
    while link is not None:
        link, part = link
        if part.__class__ is str:
            return part
    return ""


def one_line_config(value: str) -> bool:
    """A one-line value that is configuration with a credential-named key in it (a JSON object,
    ``DB_PASSWORD=...``): judged entry by entry, like multi-line embedded configuration."""
    if value.lstrip()[:1] not in ("{", "[") and "=" not in value:
        return False
    return _CREDENTIAL_KEY_HINT.search(value.lower()) is not None


def _boring(key: str, value: str, where: Place) -> bool:
    """The walk's fast path: a value under a neutral key in ordinary config that no rule can report
    (too short, no token trigger, not multi-line, not a long mixed-case token-like string)."""
    n = len(value)
    if n < MIN_LITERAL:
        return True
    if where is not Place.CONFIG or key_kind(key) is KeyKind.CREDENTIAL:
        return False
    return n < 16 or ("\n" not in value and not may_hold_token(value) and not one_line_config(value)
                      and (n < HIGH_ENTROPY_MIN_LENGTH or value.islower() or value.isupper()
                           or _TOKENISH.fullmatch(value) is None))


def _where(place: Place, key: str) -> str:
    if place is Place.ENV:
        return f"literal value of credential-named env var '{key}'"
    if place is Place.KUBECONFIG:
        return f"kubeconfig credential '{key}'"
    return f"secretGenerator literal '{key}'"


