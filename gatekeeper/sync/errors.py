"""Errors of the sync step. Every one of them ends the run with exit 2 and the target untouched."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


class SyncError(Exception):
    """The step cannot publish (bad input, git failure, lost every retry): exit 2."""


def redact(text: str) -> str:
    """Drop credentials from URLs (``https://user:token@host`` -> ``https://***@host``)."""
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}***@", text)
