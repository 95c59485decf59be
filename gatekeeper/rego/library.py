"""Where the starter policy library ships inside the package (``gatekeeper init`` copies it)."""

from __future__ import annotations

from pathlib import Path


def library_path() -> Path:
    """The directory of the starter library (``policies/`` in the source tree links here)."""
    return Path(__file__).resolve().parent.parent / "library" / "policies"
