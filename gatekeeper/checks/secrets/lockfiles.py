"""Lock files: only the token families, which have shapes no hash can take.

Every value of a lock file is a version, a URL or a hash, so keyword and entropy rules could only
report hashes (one npm lock file holds thousands of ``sha512-`` integrity values). What a lock
file can leak is a provider token or a password in a private registry URL
(``https://user:token@npm.example.com/...``), and those are recognised by their shape.
"""

from __future__ import annotations

from typing import Any

from gatekeeper.checks.secrets.scan import Scanner
from gatekeeper.checks.secrets.tokens import may_hold_token
from gatekeeper.model import FieldPath


def scan_lock_file(scanner: Scanner, obj: Any) -> None:
    """Record token-family hits (URL passwords included) in every string of a lock file."""
    stack: list[tuple[Any, FieldPath]] = [(obj, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str):
                    _check(scanner, value, (*path, str(key)), str(key))
                elif isinstance(value, (dict, list)):
                    stack.append((value, (*path, str(key))))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                if isinstance(value, str):
                    _check(scanner, value, (*path, i), "")
                elif isinstance(value, (dict, list)):
                    stack.append((value, (*path, i)))


def _check(scanner: Scanner, value: str, path: FieldPath, key: str) -> None:
    if len(value) >= 16 and may_hold_token(value):
        scanner.tokens(value, path, f"in a lock file under '{key}'" if key else "in a lock file")
