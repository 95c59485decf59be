"""Fake credentials for tests, assembled at runtime so no credential-shaped literal is committed."""

from __future__ import annotations

import base64
import random
import string
from pathlib import Path
from typing import Any

from gatekeeper.config import Config
from gatekeeper.model import Finding, Report
from gatekeeper.pipeline import Run, execute

ALNUM = string.ascii_letters + string.digits
_rng = random.Random(20261126)


def chars(alphabet: str, n: int, rng: random.Random = _rng) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def password(rng: random.Random = _rng) -> str:
    """A generated password: 20 shuffled characters mixing all four classes."""
    picked = list(chars(string.ascii_uppercase, 4, rng) + chars(string.ascii_lowercase, 6, rng)
                  + chars(string.digits, 4, rng) + "!#%&" + chars(ALNUM, 2, rng))
    rng.shuffle(picked)
    return "".join(picked)


def github_token() -> str:
    return "gh" + "p_" + chars(ALNUM, 36)


def aws_key_id() -> str:
    return "AK" + "IA" + chars(string.ascii_uppercase + "234567", 16)


def aws_secret() -> str:
    return chars(ALNUM + "/+", 40)


def slack_webhook() -> str:
    return "https://hooks.slack" + ".com/services/T" + chars("ABCDEFGHJK0123456789", 8) + "/B" \
        + chars("ABCDEFGHJK0123456789", 9) + "/" + chars(ALNUM, 24)


def pem_private_key(label: str = "RSA PRIVATE KEY") -> str:
    body = base64.b64encode(_rng.randbytes(300)).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def scan(root: Path, config: Config | None = None) -> Report:
    """Run only the secrets check over ``root`` through the real pipeline."""
    return execute(Run(root=root, config=config or Config(), checks=["secrets"]))


def secret_findings(report: Report) -> list[Finding]:
    assert not report.errors, report.errors
    return [f for f in report.findings if f.check == "secrets"]


def where(findings: list[Finding]) -> list[tuple[str, int, str, str]]:
    """(path, line, rule, field) of each finding, sorted: what tests assert exactly."""
    return sorted((f.path, f.line, f.rule, f.field) for f in findings)


def indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line for line in text.splitlines())


def dump(obj: Any) -> str:
    import json
    return json.dumps(obj, indent=2)
