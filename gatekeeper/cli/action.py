"""The GitHub Action's gate step: read the event and the inputs, then run ``gatekeeper check``.

``action.yml`` passes every input through ``env:`` (never ``${{ }}`` inside ``run:``) and
runs ``python -m gatekeeper.cli.action``. The base of the change comes from the event:
``pull_request`` (the PR's base commit), ``push`` (the ``before`` commit) and
``merge_group`` (the queue's base); other events, and a push that creates a branch, check
the whole tree. The output is the ``github`` format plus SARIF, the job summary and the
step outputs.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ZERO_SHA = "0" * 40


@dataclass(slots=True)
class Plan:
    """The ``gatekeeper check`` arguments the step runs, and why (printed to the log)."""

    args: list[str]
    notes: list[str] = field(default_factory=list)


def _event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH", "")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"gatekeeper: cannot read the event payload {path}: {exc.__class__.__name__}", file=sys.stderr)
        raise SystemExit(2) from None
    return data if isinstance(data, dict) else {}


def _dig(data: Any, *keys: str) -> str:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, str) else ""


def event_base(name: str, event: dict[str, Any]) -> tuple[str, str, str]:
    """(base, head, note) for an event: an empty base means check the whole tree."""
    if name in ("pull_request", "pull_request_target"):
        base = _dig(event, "pull_request", "base", "sha")
        head = _dig(event, "pull_request", "head", "sha") if name == "pull_request_target" else ""
        return base, head, f"{name}: changes since the pull request's base {base[:12]}"
    if name == "push":
        before = _dig(event, "before")
        if not before or before == ZERO_SHA:
            return "", "", "push created a branch (no 'before' commit): checking the whole tree"
        return before, "", f"push: changes since {before[:12]}"
    if name == "merge_group":
        base = _dig(event, "merge_group", "base_sha")
        return base, "", f"merge_group: changes since the queue's base {base[:12]}"
    return "", "", f"{name or 'no event'}: checking the whole tree"


def _words(text: str) -> list[str]:
    return [w for line in text.splitlines() for w in shlex.split(line)]


def plan(env: Mapping[str, str]) -> Plan:
    """Build the command line from the inputs (``GATEKEEPER_*``) and the GitHub event."""
    name = env.get("GITHUB_EVENT_NAME", "")
    base, head, note = event_base(name, _event(env))
    explicit = env.get("GATEKEEPER_BASE_REF", "").strip()
    if explicit:
        base, head, note = explicit, "", f"base-ref input: changes since {explicit}"
    args = ["check", "--github"]
    if base:
        args += ["--base", base]
        if head:
            args += ["--head", head]
        args += ["--scope", env.get("GATEKEEPER_SCOPE", "").strip() or "changed"]
        if env.get("GATEKEEPER_NEW_ONLY", "").strip().lower() == "true":
            args.append("--new-only")
    for option, key in (("--config", "GATEKEEPER_CONFIG"), ("--fail-on", "GATEKEEPER_FAIL_ON"),
                        ("--kubernetes-version", "GATEKEEPER_KUBERNETES_VERSION"),
                        ("--sarif", "GATEKEEPER_SARIF_FILE"), ("--markdown", "GATEKEEPER_MARKDOWN_FILE")):
        value = env.get(key, "").strip()
        if value:
            args += [option, value]
    for directory in _words(env.get("GATEKEEPER_POLICY_DIRS", "")):
        args += ["--policy", directory]
    paths = _words(env.get("GATEKEEPER_PATHS", ""))
    if paths:
        args += ["--", *paths]
    return Plan(args, [note])


def main() -> None:
    """Print the plan to the log, then run ``gatekeeper check`` in this process."""
    from gatekeeper.cli import cli

    step = plan(os.environ)
    for note in step.notes:
        print(f"gatekeeper: {note}")
    print("gatekeeper: running: gatekeeper " + shlex.join(step.args), flush=True)
    sys.exit(cli.main(args=step.args, prog_name="gatekeeper", standalone_mode=True))


if __name__ == "__main__":
    main()
