"""Text from manifests made safe for people's screens.

Messages quote names, keys and paths from the scanned files; a terminal interprets control
characters in them (an OSC sequence can retitle the window or write a hyperlink, BEL rings, a
bare CR rewrites the line a reader trusts). Every human-readable format passes text through
``clean`` (controls removed) and paths through ``show_path`` (controls escaped, so a file whose
name holds a newline is still one visible, unambiguous name).
"""

from __future__ import annotations

import re

# C0 controls but TAB, DEL, and C1 controls (which some terminals read as ESC sequences too).
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_CONTROLS_ALL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROLS_BUT_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def clean(text: str) -> str:
    """``text`` without control characters (a line break or CR becomes a space, a tab stays)."""
    if _CONTROLS.search(text) is None:
        return text
    return _CONTROLS.sub(lambda m: " " if m.group() in "\r\n" else "", text)


def show_path(path: str) -> str:
    """A path with every control character escaped (``\\n``, ``\\x1b``), so it stays one line."""
    if _CONTROLS_ALL.search(path) is None:
        return path
    return _CONTROLS_ALL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"), path)


def strip_controls(text: str) -> str:
    """``text`` without control characters but line breaks (for formats that escape those)."""
    return _CONTROLS_BUT_BREAKS.sub("", text)
