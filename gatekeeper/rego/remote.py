"""The remote backend: evaluate rule references on an OPA server through opa-python-client.

Policies live on the server; each evaluation is one Data API call per query
(``POST /v1/data/<path>`` with ``{"input": ...}``), with a timeout and bounded retries.
Any failure (unreachable, HTTP error, a reply without ``result`` where one was expected to
be possible) raises ``PolicyEvalError`` so the run fails closed. Needs the ``opa`` extra.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from gatekeeper.rego.engine import PolicyEvalError
from gatekeeper.rego.modules import Module, PolicyLoadError

DEFAULT_TIMEOUT = 5.0
DEFAULT_RETRIES = 2


def safe_url(url: str) -> str:
    """The URL as messages may show it: scheme, host and port only (no user, password, path,
    query or fragment, any of which can hold a credential)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    if not parts.scheme or not host:
        return "<invalid URL>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}"


def _client(url: str, timeout: float, retries: int) -> Any:
    try:
        from opa_client.opa import OpaClient
    except ImportError:
        raise PolicyLoadError("--opa-url needs the 'opa' extra: pip install 'gitops-gatekeeper[opa]'") from None
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise PolicyLoadError(f"OPA URL {safe_url(url)} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PolicyLoadError(f"OPA URL must be http(s)://host[:port], got {safe_url(url)}")
    if parts.path not in ("", "/"):
        raise PolicyLoadError("OPA URL must not have a path (the Data API is at /v1/data)")

    return OpaClient(host=parts.hostname, port=port, ssl=parts.scheme == "https", timeout=timeout,
                     retries=retries)


class RemoteProgram:
    """Queries evaluated on the server for each input."""

    def __init__(self, client: Any, queries: Mapping[str, Sequence[str]], url: str) -> None:
        self._client = client
        self._queries = dict(queries)
        self._url = url

    def evaluate(self, input_value: Any, conftest: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, path in self._queries.items():
            try:
                reply = self._client.query_rule(input_data=input_value, package_path="/".join(path))
            except Exception as exc:
                raise PolicyEvalError(f"OPA server {self._url} failed: {_reason(exc)}") from None
            if not isinstance(reply, dict):
                raise PolicyEvalError(f"OPA server {self._url} sent a reply that is not a JSON object")
            if "result" in reply:
                out[name] = reply["result"]
        return out


def _reason(exc: Exception) -> str:
    """A short reason without URLs' query strings or headers."""
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status_code", None):
        return f"HTTP {response.status_code}"
    return exc.__class__.__name__


class RemoteEngine:
    """Engine that sends inputs to an OPA server instead of compiling modules locally."""

    name = "opa"

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES) -> None:
        self.url = safe_url(url)
        self._client = _client(url, timeout, retries)

    def compile(self, modules: Sequence[Module], data: Mapping[str, Any],
                queries: Mapping[str, Sequence[str]]) -> RemoteProgram:
        return RemoteProgram(self._client, queries, self.url)
