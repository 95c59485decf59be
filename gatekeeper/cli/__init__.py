"""Command-line entry point: ``gatekeeper <command>``. Each command lives in its own module.

A command's module is imported when the command runs (or is listed by ``--help``): the
pre-commit hook runs ``check`` on every commit and pays for no other command's imports.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from gatekeeper import __version__
from gatekeeper.cli import ending

# command name -> "module:attribute"; the order of ``--help`` is click's (alphabetical)
COMMANDS = {
    "check": "gatekeeper.cli.check:check",
    "init": "gatekeeper.cli.init:init",
    "rules": "gatekeeper.cli.rules:rules",
    "explain": "gatekeeper.cli.rules:explain",
    "secrets": "gatekeeper.cli.secrets:secrets",
    "sync": "gatekeeper.cli.sync:sync_command",
    "units": "gatekeeper.cli.units:units",
    "verify": "gatekeeper.cli.verify:verify",
}


class _Commands(click.Group):
    """A group whose commands are imported on first use (see the module's docstring)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, _, attr = COMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attr)
            if not isinstance(command, click.Command) or command.name != cmd_name:
                raise TypeError(f"{COMMANDS[cmd_name]} is not the {cmd_name!r} command")
            self.add_command(command)
        return self.commands.get(cmd_name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gatekeeper")
def cli() -> None:
    """Policy-as-code gate for GitOps repositories.

    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage, configuration,
    policy-load or internal error.
    """


def main() -> None:
    """Run the CLI; an unexpected exception exits 2 with one line (a traceback only with GATEKEEPER_DEBUG).

    The process ends with the command, so a finished run's objects are left to the exit
    (``cli/ending.py``) instead of being walked by the garbage collector."""
    ending.process_ends_with_command()
    try:
        cli.main(prog_name="gatekeeper", standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:
        if os.environ.get("GATEKEEPER_DEBUG"):
            raise
        from gatekeeper.pipeline import describe

        click.echo(f"gatekeeper: internal error: {describe(exc)}", err=True)
        sys.exit(2)
