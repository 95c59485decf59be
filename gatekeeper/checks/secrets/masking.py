"""No report shows a secret: every text of a finished report is masked, whichever check wrote it.

Checks quote manifest content on purpose (a port name, an object's name, a policy message that
prints its input), so a credential written where no one expects one (a token as a name, in a
label, under a field the schema does not know) could reach a report through any of them. The
pipeline's last step replaces, in every message, hint, field path, object identity, note and
error, each value a check detected (raw and JSON-escaped) and each token-family match.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import replace

from gatekeeper.checks.secrets.tokens import find_tokens, may_hold_token
from gatekeeper.model import CheckError, Finding, Report

MASK = "<redacted>"
MIN_MASKED = 6  # shorter detected values are not masked in free text (they would match words)


class Masker:
    """Masks a set of detected values and every token-family match in any text."""

    def __init__(self, values: Iterable[str]) -> None:
        forms: set[str] = set()
        for value in values:
            value = value.strip()
            if len(value) >= MIN_MASKED:
                forms.update({value, json.dumps(value)[1:-1]})
        ordered = sorted(forms, key=len, reverse=True)  # the longest form first: no partial masks
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def text(self, text: str) -> str:
        """``text`` with every detected value and token masked."""
        if not text:
            return text
        if self._pattern is not None and self._pattern.search(text) is not None:
            text = self._pattern.sub(MASK, text)
        if len(text) >= 16 and may_hold_token(text):
            for token in sorted(find_tokens(text), key=lambda t: len(t.value), reverse=True):
                text = text.replace(token.value, MASK)
        return text

    def finding(self, f: Finding) -> Finding:
        masked = replace(f, message=self.text(f.message), hint=self.text(f.hint), field=self.text(f.field))
        ref = f.resource
        if ref is not None:
            name = self.text(ref.name) if ref.name else ref.name
            namespace = self.text(ref.namespace) if ref.namespace else ref.namespace
            if name != ref.name or namespace != ref.namespace:
                masked = replace(masked, resource=replace(ref, name=name, namespace=namespace))
        waiver = f.waived
        if waiver is not None:
            reason, owner = self.text(waiver.reason), self.text(waiver.owner) if waiver.owner else waiver.owner
            if reason != waiver.reason or owner != waiver.owner:
                masked = replace(masked, waived=replace(waiver, reason=reason, owner=owner))
        return masked if masked != f else f

    def report(self, report: Report) -> None:
        """Mask every text the report's formats render, in place."""
        report.findings = [self.finding(f) for f in report.findings]
        report.notes = [self.text(n) for n in report.notes]
        report.errors = [CheckError(e.check, self.text(e.message), e.path) for e in report.errors]
        report.subjects = [(path, self.text(key)) for path, key in report.subjects]
