"""Fault injection for the crash-safety tests: kill the process at a named stage of a sync.

``GATEKEEPER_SYNC_FAULT=<stage>`` makes the step SIGKILL itself when it reaches that stage,
so a test can prove that a crash anywhere leaves the target branch at its old commit or at
a complete new one. Unset (always, outside tests) it does nothing.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "GATEKEEPER_SYNC_FAULT"
STAGES = (
    "checked",   # rendered and the report passed, nothing written yet
    "objects",   # blobs and trees written to the object store
    "commit",    # the commit and its notes commit written, no ref moved
    "updated",   # the refs moved (local) or the push succeeded (remote), before cleanup
)


def fault(stage: str) -> None:
    """Kill this process when the fault-injection variable names ``stage``."""
    if os.environ.get(FAULT_ENV) == stage:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
