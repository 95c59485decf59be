"""What a value is: safe by construction (placeholders, ciphertext, hashes, public certificates),
base64 that decodes to text, and how random it looks (Shannon entropy, character classes).

Every recogniser here answers "this cannot be a plaintext credential"; they are deliberately
narrow, because a wrongly safe value is a missed secret.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter

# Entropy threshold for keyword + entropy, as a share of the highest entropy a string of that
# length can have (log2 of min(length, 64)): 0.75 separates generated passwords and keys
# (typically 0.9-1.0) from words, names and repeated characters.
NORMALISED_ENTROPY_THRESHOLD = 0.75
MIN_KEYWORD_LENGTH = 12
# Keyword-free strings must look much more random (and be longer) to be reported at all.
HIGH_ENTROPY_MIN_LENGTH = 24
HIGH_ENTROPY_THRESHOLD = 0.85
MAX_KEYWORD_MEAN_RUN = 3.0  # under a credential name: words joined by dashes are names, not secrets
MAX_MEAN_RUN = 2.5  # keyword-free strings whose character classes change less often read as words

_PLACEHOLDER = re.compile(
    r"""^\s*(?:
        \$\{[^}]*\}                # ${VAR}
      | \$\([^)]*\)                # $(VAR)
      | \{\{.*\}\}                 # {{ template }}
      | <path:[^>]*>               # argocd-vault-plugin
      | <[A-Za-z0-9 _.:/#-]+>      # <token>, <your-password>
      | vault:\S+                  # bank-vaults
      | ref\+[a-z0-9]+://\S+       # vals: ref+vault://...
      | %\([^)]*\)s                # %(name)s
      | \#\{[^}]*\}                # #{VAR}
      | __[A-Z0-9_]+__             # __TOKEN__
      | @[A-Za-z0-9_.-]+@          # @VAR@
    )\s*$""", re.VERBOSE | re.DOTALL)
# A template expression inside a value: each needs its closing delimiter on the same line, and
# ``ref+`` its scheme, so base64 (whose alphabet has ``+`` and ``/`` but no ``:``) never matches.
_TEMPLATE_EXPRESSION = re.compile(r"\$\{[^}\n]*\}|\{\{[^\n]*?\}\}|\$\([^)\n]*\)|<path:[^>\n]*>|ref\+[a-z0-9]+://")
_SOPS_VALUE = re.compile(r"^ENC\[[A-Z0-9_]+,data:")
_HEX = re.compile(r"[0-9a-fA-F]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DIGEST = re.compile(r"(?:[A-Za-z0-9_+.-]+@)?(?:sha256|sha384|sha512|sha1|md5):[0-9a-fA-F]{32,128}")
_SRI = re.compile(r"(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})")
_DIGEST_BYTES = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}
_DIGEST_LENGTHS = frozenset({16, 20, 28, 32, 48, 64})  # md5, sha1, sha224, sha256, sha384, sha512
_CHECKSUM_KEYS = frozenset({"sum", "checksum", "integrity", "shasum", "sha", "sha1", "sha256", "sha512",
                            "digest", "hash", "md5"})
_BASE64 = re.compile(r"[A-Za-z0-9+/\r\n]+={0,2}")
_DIGIT = re.compile(r"[0-9]")
_SYMBOL = re.compile(r"[^A-Za-z0-9]")
_MASKED = re.compile(r"^[*xX•#.\-_ ]+$")
_TRIVIAL = frozenset({"true", "false", "yes", "no", "on", "off", "null", "none", "nil", "undefined",
                      "redacted", "<redacted>", "[redacted]", "masked", "hidden", "secret", "password",
                      "changeme", "change-me", "change_me", "replaceme", "replace-me", "todo", "tbd",
                      "example", "dummy", "placeholder", "notused", "not-used", "unused"})
PUBLIC_PEM = ("-----BEGIN CERTIFICATE", "-----BEGIN PUBLIC KEY", "-----BEGIN RSA PUBLIC KEY",
              "-----BEGIN X509 CRL", "-----BEGIN CERTIFICATE REQUEST", "-----BEGIN NEW CERTIFICATE REQUEST",
              "-----BEGIN PGP PUBLIC KEY BLOCK", "-----BEGIN SSH2 PUBLIC KEY", "-----BEGIN DH PARAMETERS",
              "-----BEGIN EC PARAMETERS", "-----BEGIN AGE ENCRYPTED FILE", "-----BEGIN PGP MESSAGE")


def is_placeholder(value: str) -> bool:
    """A template or reference the deploy tool fills in: ``${VAR}``, ``{{ .x }}``, ``<path:...#key>``...
    Only a one-line value can be one: a placeholder excuses the line that holds it, never its neighbours."""
    return "\n" not in value.strip() and _PLACEHOLDER.match(value) is not None


_UPPER_SNAKE = re.compile(r"[A-Z][A-Z0-9]*(?:[_\-][A-Z0-9]+)+")
_FILL_IN_WORDS = frozenset({"INSERT", "YOUR", "REPLACE", "CHANGE", "CHANGEME", "ENTER", "VAL", "VALUE",
                            "HERE", "PLACEHOLDER", "TODO", "FILL", "EXAMPLE", "DUMMY", "FAKE", "SAMPLE",
                            "SET", "ME"})
_FILL_IN_LOWER = re.compile(r"^(?:your|my|insert|replace|enter|change)[-_ ]?(?:own[-_ ]?)?"
                            r"(?:password|passwd|pass|secret|token|key|api[-_ ]?key|access[-_ ]?key|"
                            r"secret[-_ ]?key|credentials?|pwd)?(?:[-_ ]?here)?$", re.IGNORECASE)


def is_fill_in(value: str, key: str = "") -> bool:
    """A fill-in marker rather than a value: ``INSERT_ETCD_TOKEN``, ``GOOGLE_API_KEY_VAL``,
    ``yourpassword``, or an upper-case identifier that repeats its own key's name."""
    v = value.strip()
    if _FILL_IN_LOWER.match(v):
        return True
    if _UPPER_SNAKE.fullmatch(v) is None:
        return False
    parts = set(re.split(r"[_\-]", v))
    return bool(parts & _FILL_IN_WORDS) or (len(key) >= 4 and key.upper() in v)


def is_templated(value: str) -> bool:
    """A one-line value holding a template expression (its literal parts are not the secret). A
    multi-line value never is as a whole: its lines or entries are judged one by one, so one
    ``url=${DB_URL}`` line does not excuse a literal password on the next."""
    return "\n" not in value.strip() and _TEMPLATE_EXPRESSION.search(value) is not None


def is_sops(value: str) -> bool:
    """A SOPS-encrypted value (``ENC[AES256_GCM,data:...]``)."""
    return value.startswith("ENC[") and _SOPS_VALUE.match(value) is not None


def is_public_material(value: str) -> bool:
    """Public certificates and keys, and PEM armour that is not a private key (e.g. age ciphertext)."""
    stripped = value.lstrip()
    if not stripped.startswith("-----BEGIN"):
        return False
    return stripped.startswith(PUBLIC_PEM) and "PRIVATE KEY" not in stripped


def is_identifier_hash(value: str) -> bool:
    """Image digests, checksums, commit SHAs, UUIDs, subresource-integrity hashes: random-looking
    but not credentials."""
    v = value.strip()
    if _DIGEST.fullmatch(v) or _UUID.fullmatch(v) or is_sri(v):
        return True
    return len(v) in (7, 8, 10, 12, 16, 32, 40, 56, 64, 96, 128) and _HEX.fullmatch(v) is not None \
        and not (v.isdigit())


def is_sri(value: str) -> bool:
    """A subresource-integrity value (``sha512-<base64>``, npm/pnpm lock files, HTML): each
    space-separated hash names its algorithm and decodes to exactly that digest's length."""
    parts = value.split()
    if not parts:
        return False
    for part in parts:
        m = _SRI.fullmatch(part)
        if m is None or _decoded_length(m.group(2)) != _DIGEST_BYTES[m.group(1)]:
            return False
    return True


def is_checksum(key: str, value: str) -> bool:
    """A value under a checksum key (jsonnet-bundler ``sum``, ``checksum``, ``integrity``...) that is
    a digest: hex or base64 of exactly a hash's length."""
    if key.lower() not in _CHECKSUM_KEYS:
        return False
    v = value.strip()
    return is_identifier_hash(v) or _decoded_length(v) in _DIGEST_LENGTHS


def _decoded_length(text: str) -> int:
    """How many bytes a standard base64 text decodes to (-1 when it is not base64)."""
    if len(text) % 4 or _BASE64.fullmatch(text) is None:
        return -1
    try:
        return len(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return -1


def is_trivial(value: str) -> bool:
    """Empty, masked, boolean, numeric, or a well-known dummy word."""
    v = value.strip()
    if not v or v.lower() in _TRIVIAL or _MASKED.match(v):
        return True
    try:
        float(v)
    except ValueError:
        return False
    return True


def is_path(value: str) -> bool:
    """A file path (``/run/secrets/db``, ``./creds``, ``~/.aws``): a reference, not the value. Base64
    that happens to begin with ``/`` (one binary value in 64) is not a path."""
    v = value.strip()
    if not v.startswith(("/", "./", "../", "~/")) or " " in v or "\n" in v:
        return False
    return not (len(v) >= 24 and len(v) % 4 == 0 and _BASE64.fullmatch(v) is not None
                and max(len(part) for part in v.split("/")) >= 16)  # a path's names are short


_FLAGS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "none", "nil", "undefined"})
_FILL_IN_ANGLE = re.compile(r"^\s*<[A-Za-z0-9 _.:/#-]+>\s*$")


def held_value(value: str, key: str = "") -> str:
    """What a value in a secret-bearing place (a Secret's data, a secretGenerator literal) is, where
    every literal is a committed credential: ``reference`` (filled in at deploy time: ``${VAR}``,
    ``<path:...>``, ``vault:...``, SOPS, a file path, public material), ``placeholder`` (a weak
    placeholder-looking value: ``password``, ``changeme``, ``<your-token>``, ``****``: still what
    the cluster gets if nobody replaces it), ``flag`` (a boolean or a number) or ``literal``."""
    v = value.strip()
    if _FILL_IN_ANGLE.match(v) and not v.startswith("<path:"):
        return "placeholder"
    if is_placeholder(v) or is_templated(v) or is_sops(v) or is_path(v) or is_public_material(value):
        return "reference"
    low = v.lower()
    if low in _FLAGS:
        return "flag"
    if low in _TRIVIAL or _MASKED.match(v) or is_fill_in(v, key):
        return "placeholder"
    try:
        float(v)
    except ValueError:
        return "literal"
    return "flag"


def safe_value(value: str, key: str = "") -> bool:
    """True when a value cannot be a plaintext credential by construction."""
    return (is_trivial(value) or is_placeholder(value) or is_sops(value) or is_public_material(value)
            or is_templated(value) or is_path(value) or is_fill_in(value, key))


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(value)
    if n == 0:
        return 0.0
    return -sum((c / n) * math.log2(c / n) for c in Counter(value).values())


def normalised_entropy(value: str) -> float:
    """Entropy divided by the most a string of this length can have (0..1)."""
    n = len(value)
    if n < 2:
        return 0.0
    return entropy(value) / math.log2(min(n, 64))


def char_classes(value: str) -> int:
    """How many of lower case, upper case, digits and symbols the value mixes."""
    return ((value != value.upper()) + (value != value.lower()) + (_DIGIT.search(value) is not None)
            + (_SYMBOL.search(value) is not None))


def mean_run(value: str) -> float:
    """Mean length of runs of one character class: about 1.6 for random base62, 3 or more for
    words and CamelCase identifiers (``NoUTF8EscapingWithSuffixes``)."""
    if not value:
        return 0.0
    runs = 1
    previous = _class_of(value[0])
    for ch in value[1:]:
        current = _class_of(ch)
        if current != previous:
            runs += 1
            previous = current
    return len(value) / runs


def _class_of(ch: str) -> int:
    return 0 if ch.islower() else 1 if ch.isupper() else 2 if ch.isdigit() else 3


def looks_random(value: str, *, min_length: int = MIN_KEYWORD_LENGTH,
                 threshold: float = NORMALISED_ENTROPY_THRESHOLD, min_classes: int = 2) -> bool:
    """Keyword + entropy test: long enough, varied enough, and mixing character classes."""
    v = value.strip()
    if len(v) < min_length or " " in v:
        return False
    return char_classes(v) >= min_classes and normalised_entropy(v) >= threshold \
        and mean_run(v) <= MAX_KEYWORD_MEAN_RUN


def decode_base64(value: str) -> str | None:
    """The UTF-8 text a base64 value decodes to, or None (not base64, binary, or too short)."""
    v = value.strip()
    if len(v) < 8 or _BASE64.fullmatch(v) is None:
        return None
    try:
        raw = base64.b64decode(v.replace("\n", "").replace("\r", ""), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if not text or any(ord(ch) < 9 or (13 < ord(ch) < 32) for ch in text):
        return None
    return text


def decode_secret_data(value: str) -> tuple[str | None, bool]:
    """Decode a Secret ``data`` value: (text or None when binary, whether it was valid base64)."""
    v = value.strip().replace("\n", "").replace("\r", "")
    try:
        raw = base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        return None, False
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return None, True
