"""``.helmignore``: which files of a chart directory are not part of the chart.

Helm leaves them out of the chart (its ``.Files``, its templates, its package), so they are no chart
files: a chart at the repository root does not make every file of the repository one. The rules
are Helm's (``pkg/ignore``): one ``filepath.Match`` pattern per line, ``#`` comments, a trailing
``/`` for directories only, a pattern with a ``/`` matched against the path from the chart
directory and one without against the base name, an ignored directory ignoring all below it, and
``templates/.?*`` always. A ``!`` pattern keeps what it matches (as in ``.gitignore``; Helm's own
reading of negations ignores more, and a file kept here is only ever searched, never rendered).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

NAME = ".helmignore"
DEFAULTS = ("templates/.?*",)


@dataclass(frozen=True, slots=True)
class _Pattern:
    regex: re.Pattern[str]
    negate: bool
    directory: bool
    whole_path: bool


def _translate(pattern: str) -> re.Pattern[str] | None:
    """Go's ``filepath.Match`` as a regular expression (``*`` and ``?`` never match ``/``); None for a
    malformed pattern (Helm refuses the file; a pattern that cannot match ignores nothing here)."""
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                return None
            body = pattern[i + 1:end]
            negated = body.startswith("^")
            body = body[1:] if negated else body
            out.append("[" + ("^" if negated else "") + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    try:
        return re.compile("".join(out) + r"\Z")
    except re.error:
        return None


class HelmIgnore:
    """The ignore rules of one chart."""

    def __init__(self, text: str = "") -> None:
        self.patterns: list[_Pattern] = []
        for raw in [*DEFAULTS, *text.splitlines()]:
            rule = raw.strip()
            if not rule or rule.startswith("#") or "**" in rule:
                continue
            negate = rule.startswith("!")
            rule = rule[1:] if negate else rule
            directory = rule.endswith("/")
            rule = rule.rstrip("/")
            whole = "/" in rule
            rule = rule.lstrip("/")
            regex = _translate(rule) if rule else None
            if regex is not None:
                self.patterns.append(_Pattern(regex, negate, directory, whole))

    def _matches(self, rel: str, is_dir: bool, negate: bool) -> bool:
        name = posixpath.basename(rel)
        return any(p.regex.match(rel if p.whole_path else name) for p in self.patterns
                   if p.negate is negate and (is_dir or not p.directory))

    def _ignored(self, rel: str, is_dir: bool) -> bool:
        return self._matches(rel, is_dir, False) and not self._matches(rel, is_dir, True)

    def ignores(self, rel: str) -> bool:
        """Whether the file at ``rel`` (relative to the chart directory) is left out of the chart."""
        parts = rel.split("/")
        for i in range(1, len(parts)):
            if self._ignored("/".join(parts[:i]), True):
                return True
        return self._ignored(rel, False)
