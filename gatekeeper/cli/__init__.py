"""Command-line entry point: ``gatekeeper <command>``. Each command lives in its own module."""

from __future__ import annotations

import os
import sys

import click

from gatekeeper import __version__
from gatekeeper.cli import ending
from gatekeeper.cli.check import check
from gatekeeper.cli.init import init
from gatekeeper.cli.rules import explain, rules
from gatekeeper.cli.secrets import secrets
from gatekeeper.cli.sync import sync_command
from gatekeeper.cli.units import units
from gatekeeper.cli.verify import verify
from gatekeeper.pipeline import describe


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gatekeeper")
def cli() -> None:
    """Policy-as-code gate for GitOps repositories.

    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage, configuration,
    policy-load or internal error.
    """


cli.add_command(check)
cli.add_command(init)
cli.add_command(rules)
cli.add_command(explain)
cli.add_command(secrets)
cli.add_command(sync_command)
cli.add_command(units)
cli.add_command(verify)


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
        click.echo(f"gatekeeper: internal error: {describe(exc)}", err=True)
        sys.exit(2)
