"""The end of a gate process: what a finished run leaves behind needs no garbage collection.

A run keeps hundreds of thousands of objects alive until it ends (documents, node trees, and
whatever a check holds in a reference cycle of its own), and it runs with the cyclic GC paused
(``pipeline.gc_paused``). Re-enabling the collector afterwards makes the next allocation collect
everything allocated during the run, and the interpreter collects once more when it exits: at
10,000 resources that is a few tenths of a second spent only to free memory that the process is
about to hand back to the system anyway.

So the real entry point (``cli.main``) marks its process as one that ends with its command, and
a command whose work is done calls :func:`finished` before the GC is re-enabled: in such a
process every object moves to the GC's permanent generation (``gc.freeze``), which neither
collection walks. A command invoked in a longer-lived process (a test's ``CliRunner``, an
embedding program) is not marked, and its garbage is collected as usual.
"""

from __future__ import annotations

import gc

_state = {"ends_with_command": False}


def process_ends_with_command() -> None:
    """Mark this process as one that exits when its command returns (called by ``cli.main`` only)."""
    _state["ends_with_command"] = True


def ends_with_command() -> bool:
    """Whether this process was marked by :func:`process_ends_with_command`."""
    return _state["ends_with_command"]


def finished() -> None:
    """A command's work is done (its report written): in a process that ends with the command, the
    objects left are frozen so that no collection walks them again; elsewhere, nothing happens."""
    if _state["ends_with_command"]:
        gc.freeze()
