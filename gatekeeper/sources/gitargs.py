"""Arguments for git: no value that came from a user or a file can be read as an option.

Every git command line the gate builds has the shape ``COMMAND [SUBCOMMAND] OPTIONS... SEPARATOR
VALUES...``: options are written in their stuck form (``--format=%H``, ``-pSHA``), values follow
``--end-of-options`` (or ``--``), and a value that begins with ``-`` or holds a line break or a NUL
is refused even there. ``checked`` enforces that shape on every argv before git runs, so a new
call that puts a value among the options fails in the tests rather than in a user's repository.
"""

from __future__ import annotations

from collections.abc import Sequence

SEPARATORS = frozenset({"--", "--end-of-options"})
# Commands that take no end-of-options marker: their values are built by the gate and checked here.
_NO_SEPARATOR = frozenset({"check-ref-format", "var"})
# Commands whose second word names a subcommand.
_SUBCOMMANDS = frozenset({"remote", "notes"})


class UnsafeArgument(ValueError):
    """A value git could read as an option (or a command line the gate built in the wrong shape)."""


def refuse_option_like(value: str, what: str) -> str:
    """``value`` unchanged, or UnsafeArgument naming ``what`` (the value itself is never quoted:
    a remote URL can carry a token)."""
    if not value or value.startswith("-") or any(c in value for c in "\n\r\0"):
        raise UnsafeArgument(f"{what} must not be empty, begin with '-' or hold a line break")
    return value


def checked(args: Sequence[str]) -> list[str]:
    """``args`` as a list once its shape is verified (see the module docstring)."""
    if not args:
        raise UnsafeArgument("empty git command line")
    argv = list(args)
    start = 2 if argv[0] in _SUBCOMMANDS and len(argv) > 1 else 1
    values = argv[0] in _NO_SEPARATOR
    for arg in argv[start:]:
        if "\0" in arg:
            raise UnsafeArgument(f"git {argv[0]}: an argument holds a NUL byte")
        if not values:
            if arg in SEPARATORS:
                values = True
            elif not arg.startswith("-"):
                raise UnsafeArgument(f"git {argv[0]}: a value comes before --end-of-options "
                                     "(write options in their stuck form, values after the separator)")
        elif arg not in SEPARATORS:
            refuse_option_like(arg, f"a value passed to git {argv[0]}")
    return argv
