"""Say what was found without saying what it is: keyed digests and redacted descriptions.

The digest is HMAC-SHA256 over (rule, normalised value) with a per-repository salt, so a
fingerprint is stable across line moves and machines but cannot be reversed by hashing a
dictionary of weak passwords without the salt. Descriptions show at most a 4-character
prefix (only of long values, where it names the token family rather than the secret), the
length and the digest.
"""

from __future__ import annotations

import hashlib
import hmac
import subprocess
from pathlib import Path

from gatekeeper.sources.gitargs import checked

PREFIX_CHARS = 4
PREFIX_MIN_LENGTH = 16


def normalise(value: str) -> str:
    """Whitespace-insensitive form, so re-wrapped PEM blocks or trailing newlines keep their digest."""
    return "".join(value.split())


class Redactor:
    """Digests and describes secret values with one salt."""

    __slots__ = ("_key",)

    def __init__(self, salt: str) -> None:
        self._key = hashlib.sha256(("gatekeeper-secrets\x1f" + salt).encode("utf-8")).digest()

    def digest(self, rule: str, value: str) -> str:
        """Hex HMAC-SHA256 of (rule, normalised value)."""
        msg = (rule + "\x1f" + normalise(value)).encode("utf-8", "surrogatepass")
        return hmac.digest(self._key, msg, "sha256").hex()

    @staticmethod
    def describe(value: str, digest: str) -> str:
        """``'ghp_…' (40 chars, hmac 1a2b3c4d)``: at most a short prefix, the length and the digest."""
        n = len(value.strip())
        prefix = value.strip()[:PREFIX_CHARS] if n >= PREFIX_MIN_LENGTH else ""
        shown = f"'{prefix}…', " if prefix and prefix.isprintable() and "'" not in prefix else ""
        return f"({shown}{n} chars, hmac {digest[:12]})"


def repo_salt(root: Path, configured: str | None) -> str:
    """The configured salt, else the repository's root commit id, else the root path.

    The root commit is the same on every clone, so fingerprints (and baselines) match between
    a laptop and CI; outside git the absolute path is the best stable value there is.
    """
    if configured:
        return configured
    top = _git_dir(root)
    if top is not None:
        try:
            out = subprocess.run(["git", *checked(("rev-list", "--max-parents=0", "--end-of-options", "HEAD"))],
                                 cwd=top, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is not None and out.returncode == 0 and out.stdout.strip():
            return "git:" + sorted(out.stdout.split())[0]
    return "path:" + str(root.absolute())


def _git_dir(root: Path) -> Path | None:
    current = root.absolute()
    for candidate in (current, *current.parents):
        if (candidate / ".git").exists():
            return candidate
    return None
