"""What a key name says about its value: a credential, a reference that only names a secret,
a file path, or public information.

Names are split into lower-case words (``DB_PASSWORD`` -> db, password; ``existingSecretKey``
-> existing, secret, key) and judged mostly by the last word, which is where English puts
the noun: ``PASSWORD_MIN_LENGTH`` is a length, ``TOKEN_URL`` a URL, ``API_TOKEN`` a token.
Results are cached: real repositories repeat a small vocabulary of keys.
"""

from __future__ import annotations

import enum
import itertools
import re
from functools import lru_cache


class KeyKind(enum.Enum):
    """How a key's value should be treated."""

    CREDENTIAL = "credential"  # the value is a credential when it is a literal
    REFERENCE = "reference"    # the value names a secret, a key in one, or a file holding one
    PUBLIC = "public"          # identity or public material (username, host, ca.crt)
    OTHER = "other"


_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_CREDENTIAL_LAST = frozenset({
    "password", "passwd", "pwd", "pass", "passphrase", "passcode", "secret", "secrets", "token", "tokens",
    "apikey", "privatekey", "secretkey", "accesskey", "credential", "credentials", "creds", "pat",
    "clientsecret", "authtoken", "accesstoken", "refreshtoken", "bearer", "pin",
})
_KEY_QUALIFIERS = frozenset({"api", "private", "access", "secret", "signing", "encryption", "master",
                             "client", "license", "auth", "session", "hmac", "shared", "account", "app",
                             "crypt", "cipher", "consumer", "jwt", "ssh", "gpg", "pgp", "deploy", "root",
                             "admin", "storage", "subscription", "service", "webhook", "decryption"})
# The last word of names whose value is never the credential itself.
_REFERENCE_LAST = frozenset({
    "name", "names", "ref", "refs", "reference", "file", "files", "path", "paths", "dir", "directory",
    "mount", "volume", "selector", "namespace", "store", "provider", "arn", "id", "ids", "uri", "url",
    "urls", "endpoint", "env", "var", "variable", "field", "fields", "header", "prefix", "suffix", "length",
    "len", "size", "ttl", "expiry", "expires", "expiration", "expire", "timeout", "age", "enabled", "enable",
    "disabled", "disable", "required", "policy", "policies", "type", "types", "mode", "format", "count",
    "min", "max", "minimum", "maximum", "regex", "pattern", "version", "hash", "annotation", "annotations",
    "label", "labels", "template", "templates", "source", "sources", "location", "kind", "algorithm",
    "strategy", "rotation", "interval", "period", "duration", "lifetime", "audience", "issuer", "scope",
    "scopes", "claim", "claims", "user", "username", "login", "owner", "creation", "create", "created",
    "generation", "generator", "manager", "secretstore", "backend", "engine", "role", "roles", "method",
    "config", "configuration", "settings", "options", "reset", "recovery", "validation", "verify",
    "complexity", "strength", "hint", "hints", "rule", "rules", "request", "requests", "review",
    "reviews", "status", "state", "check", "checks", "cache", "timestamp", "date", "time", "seconds",
    "minutes", "hours", "days", "ms", "s", "m", "h", "d", "lookup", "helper", "command", "cmd", "script",
    "description", "desc", "help", "message", "msg", "text", "title", "comment", "docs", "doc",
})
_REFERENCE_NAMES = frozenset({"secretkeyref", "secretref", "valuefrom", "secretname", "existingsecret",
                              "externalsecret", "secretstoreref", "passwordsecret", "secretproviderclass"})
_PUBLIC_NAMES = frozenset({
    "username", "user", "login", "email", "host", "hostname", "port", "url", "uri", "server", "endpoint",
    "database", "db", "dbname", "name", "namespace", "project", "region", "type", "kind", "ca.crt",
    "tls.crt", "ca.pem", "ca-bundle", "cabundle", "ca_cert", "cacert", "ca.cert", "cert", "certificate",
    "service-ca.crt", "client.crt", "cert.pem", "fullchain.pem", "chain.pem", "ca-certificates.crt",
    "client-certificate-data", "certificate-authority-data", "issuer", "audience", "account", "tenant",
    "tenant-id", "tenantid", "client-id", "clientid", "client_id", "subscription", "subscriptionid",
    "organization", "org", "owner", "repo", "repository", "branch", "path", "version", "protocol", "scheme",
    "sslmode", "insecure", "enabled", "mode", "provider", "team", "channel", "group", "role", "domain",
})
_SECRET_KEY_OWNERS = frozenset({"aws", "access", "app", "api", "client", "jwt", "s3", "minio", "master"})
_IDENTITY_WORDS = frozenset({"username", "user", "login", "address", "host", "hostname", "port", "email"})
_IDENTITY_ENDINGS = ("accountname", "username", "hostname", "address")
_PUBLIC_SUFFIXES = (".crt", ".cert", ".pub", "-cert", "_cert", ".csr", "ca.pem")


def words(name: str) -> tuple[str, ...]:
    """Split a key name into lower-case words (camelCase, snake_case, kebab-case, dots)."""
    return tuple(w.lower() for w in _WORDS.findall(name))


@lru_cache(maxsize=8192)
def classify(name: str) -> KeyKind:
    """Classify a key (a YAML key, an env var name, a file name)."""
    low = name.lower()
    if low in _PUBLIC_NAMES or low.endswith(_PUBLIC_SUFFIXES):
        return KeyKind.PUBLIC
    squashed = low.replace("_", "").replace("-", "").replace(".", "")
    if squashed in _REFERENCE_NAMES:
        return KeyKind.REFERENCE
    parts = words(name)
    if not parts:
        return KeyKind.OTHER
    if parts[0] == "existing" or (len(parts) > 1 and parts[-1] in _REFERENCE_LAST and _mentions(parts)):
        return KeyKind.REFERENCE
    if parts[-1] in _REFERENCE_LAST:
        return KeyKind.PUBLIC if parts[-1] in ("user", "username", "login") else KeyKind.OTHER
    if not _mentions(parts) and (set(parts) & _IDENTITY_WORDS or low.endswith(_IDENTITY_ENDINGS)):
        return KeyKind.PUBLIC  # username_in, apiAddress, azurestorageaccountname
    if _credential(parts, name):
        return KeyKind.CREDENTIAL
    return KeyKind.OTHER


def _mentions(parts: tuple[str, ...]) -> bool:
    return any(p in _CREDENTIAL_LAST or p == "key" for p in parts)


def _credential(parts: tuple[str, ...], name: str) -> bool:
    last = parts[-1]
    if last in _CREDENTIAL_LAST:
        return True
    if last == "key" and len(parts) >= 2:
        prev = parts[-2]
        if prev in ("password", "token", "username", "user", "name", "data", "cert", "ca", "public"):
            return False  # passwordKey, tokenKey: the key inside a Secret that holds the value
        if prev == "secret" and len(parts) >= 3 and _camel(name) and parts[-3] not in _SECRET_KEY_OWNERS:
            return False  # existingSecretKey, userSecretKey: names a key in a Secret
        return prev in _KEY_QUALIFIERS
    if last in ("auth", "authorization") and len(parts) >= 2 and parts[-2] in ("basic", "bearer", "http"):
        return True
    return len(parts) >= 2 and parts[-2:] in (("private", "key"), ("api", "key"))


def _camel(name: str) -> bool:
    return any(a.islower() and b.isupper() for a, b in itertools.pairwise(name))


def is_file_reference(name: str) -> bool:
    """``*_FILE`` / ``*File`` / ``*Path`` names point at a file that holds the secret."""
    parts = words(name)
    return bool(parts) and parts[-1] in ("file", "path", "dir", "files")
