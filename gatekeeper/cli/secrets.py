"""``gatekeeper secrets baseline``: record today's secrets findings so the gate can be adopted
before history is cleaned; the file holds fingerprints, never values."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gatekeeper import baseline
from gatekeeper.cli.options import build_run
from gatekeeper.pipeline import execute


@click.group()
def secrets() -> None:
    """Secrets-check tools."""


@secrets.command("baseline")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Configuration file (default: .gatekeeper.yaml found from the root upwards).")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path),
              help="Directory findings' paths are relative to [default: the scanned directory].")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the baseline here instead of stdout.")
def baseline_command(paths: tuple[Path, ...], config_path: Path | None, root: Path | None,
                     output: Path | None) -> None:
    """Print a baseline of the current secrets findings under PATHS (default: the current directory).

    Typical use: gatekeeper secrets baseline > .gatekeeper-baseline.json. Later runs report
    findings in the baseline as 'baseline' (they do not fail) and list stale entries.
    Exits 2 (and writes nothing) when the check cannot run.
    """
    path_list = list(paths) or [Path(".")]
    if root is None:
        root = path_list[0] if len(path_list) == 1 and path_list[0].is_dir() else Path(".")
    run = build_run(root.absolute(), [p.absolute() for p in path_list], config_path=config_path,
                    checks="secrets", fail_on=None, kubernetes_version=None, strict=None, schema_dirs=())
    run.progress = None
    run.baseline = False  # never read the baseline being written (the shell's redirect made it empty)
    report = execute(run)
    if report.errors:
        for err in report.errors:
            where = f" ({err.path})" if err.path else ""
            click.echo(f"gatekeeper: {err.check}{where}: {err.message}", err=True)
        click.echo("gatekeeper: baseline not written: the secrets check did not complete", err=True)
        sys.exit(2)
    accepted = [f for f in report.findings if f.check == "secrets" and f.waived is None]
    text = baseline.render(accepted)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        click.echo(f"gatekeeper: wrote {len(accepted)} finding(s) to {output}", err=True)
    else:
        click.echo(text, nl=False)
