"""Kubernetes' URL library: ``url()``, ``isURL`` and the ``get*`` accessors.

Parsing follows Go's ``url.ParseRequestURI`` (what Kubernetes calls): an absolute URL with a
scheme, or an absolute path; no fragment splitting; an opaque rest (``mailto:x``) is refused.
``getEscapedPath`` and ``getQuery`` follow Go's ``EscapedPath`` and ``Query``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes

from gatekeeper.cel import types
from gatekeeper.cel.lib import Library, glob, member

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$", re.S)
_PORT = re.compile(r"^[0-9]*$")
_PATH_SAFE = "$&+,/:;=@-_.~"
_VALID_ENCODED = re.compile(r"^[A-Za-z0-9\-_.~!$&'()*+,;=:@\[\]/%]*$")
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def parse(text: str) -> dict[str, str]:
    """scheme, host, path (raw), query (raw) of a request URI; ValueError when it is not one."""
    if not isinstance(text, str) or not text or len(text) > 8192:
        raise ValueError("URL is empty or too long")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError("net/url: invalid control character in URL")
    rest, scheme = text, ""
    if not text.startswith("/"):
        m = _SCHEME.match(text)
        if not m:
            raise ValueError("parse: invalid URI for request")
        scheme, rest = m.group(1), m.group(2)
    rest, _, query = rest.partition("?")
    if not rest.startswith("/"):
        raise ValueError("parse: invalid URI for request")
    host = ""
    if scheme and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        host = authority.rpartition("@")[2]
        _check_host(host)
    if _PERCENT.search(rest) or _PERCENT.search(host):
        raise ValueError("invalid URL escape")
    return {"scheme": scheme, "host": host, "path": rest, "query": query}


def _check_host(host: str) -> None:
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            raise ValueError("missing ']' in host")
        port = host[end + 1:]
        if port and (not port.startswith(":") or not _PORT.match(port[1:])):
            raise ValueError("invalid port after host")
        return
    _name, colon, port = host.rpartition(":")
    if colon and not _PORT.match(port):
        raise ValueError(f"invalid port {':' + port!r} after host")
    if any(c in " <>\"{}|\\^`" for c in host):
        raise ValueError("invalid character in host name")


def _url(text: str) -> Any:
    parse(text)
    return types.make("URL", text)


def _is_url(text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


def _parts(u: Any) -> dict[str, str]:
    return parse(u.value)


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:host.find("]")]
    return host.rpartition(":")[0] if ":" in host else host


def _port(host: str) -> str:
    if host.startswith("["):
        rest = host[host.find("]") + 1:]
        return rest[1:] if rest.startswith(":") else ""
    return host.rpartition(":")[2] if ":" in host else ""


def _escaped_path(u: Any) -> str:
    raw = _parts(u)["path"]
    decoded = unquote(raw, errors="strict")
    if _VALID_ENCODED.match(raw) and unquote(raw) == decoded:
        return raw
    return quote(decoded, safe=_PATH_SAFE)


def _query(u: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for pair in _parts(u)["query"].split("&"):
        if not pair or ";" in pair:
            continue
        key, _, value = pair.partition("=")
        try:
            k = unquote_to_bytes(key.replace("+", " ")).decode("utf-8", "replace")
            v = unquote_to_bytes(value.replace("+", " ")).decode("utf-8", "replace")
        except ValueError:
            continue
        out.setdefault(k, []).append(v)
    return out


LIBRARY = Library("kubernetes.urls", (
    glob("url", ("string_to_url", ("string",), "URL", _url)),
    glob("isURL", ("is_url_string", ("string",), "bool", _is_url)),
    member("getScheme", ("url_get_scheme", ("URL",), "string", lambda u: _parts(u)["scheme"])),
    member("getHost", ("url_get_host", ("URL",), "string", lambda u: _parts(u)["host"])),
    member("getHostname", ("url_get_hostname", ("URL",), "string", lambda u: _hostname(_parts(u)["host"]))),
    member("getPort", ("url_get_port", ("URL",), "string", lambda u: _port(_parts(u)["host"]))),
    member("getEscapedPath", ("url_get_escaped_path", ("URL",), "string", _escaped_path)),
    member("getQuery", ("url_get_query", ("URL",), "map<string,list<string>>", _query)),
))
