"""``gatekeeper check``: run every enabled check on paths and report."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gatekeeper.checks.schema.bundled import VersionError, resolve_version
from gatekeeper.cli import ending, gitmode
from gatekeeper.cli.options import build_run, run_options, use_color
from gatekeeper.cli.output import OutputSpec, parse_formats, people, people_options, write_outputs
from gatekeeper.model import Report
from gatekeeper.pipeline import execute, gc_paused
from gatekeeper.sources.files import SourceFile


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, allow_dash=True, path_type=Path))
@run_options
@gitmode.git_options
@click.option("--format", "-f", "formats", multiple=True, metavar="FORMAT[=FILE]",
              help="Output format (text, json, ...); repeat as FORMAT=FILE to write several.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the (first) report to this file instead of stdout.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path),
              help="Directory findings' paths are relative to [default: the scanned directory].")
@click.option("--color/--no-color", default=None, help="Colour the text output [default: on a terminal].")
@click.option("--show-waived", is_flag=True, help="List waived findings in text output too.")
@click.option("--allow-empty", is_flag=True,
              help="Pass a run that checked nothing (no file read, or no check ran) instead of exiting 2.")
@people_options
@click.option("--stdin-name", metavar="PATH",
              help="With '-' (read manifests from stdin): the path findings report [default: <stdin>].")
@click.option("--render", "render", type=click.Choice(["auto", "none"]), default="auto", show_default=True,
              help="auto: render kustomize overlays and Helm charts and check what they produce, at the source "
                   "lines that set it; none: check every file as it is written.")
def check(paths: tuple[Path, ...], formats: tuple[str, ...], output: Path | None, root: Path | None,
          color: bool | None, show_waived: bool, stdin_name: str | None, render: str, **opts: object) -> None:
    """Check the manifests under PATHS (files or directories; default: the current directory).

    PATHS '-' reads one stream of YAML documents from stdin (e.g. 'helm template ... | gatekeeper
    check -'); lines are counted in that stream."""
    git_opts = gitmode.pop_options(opts)
    render_options = people(opts, show_waived)
    specs: list[OutputSpec] = parse_formats(gitmode.extra_formats(formats, git_opts), output)
    if STDIN in paths:
        with gc_paused():
            report = _check_stdin(paths, git_opts.mode, root, stdin_name, opts)
            write_outputs(report, specs, color=use_color(color), show_waived=show_waived, options=render_options)
            ending.finished()
        raise SystemExit(report.exit_code)
    if stdin_name is not None:
        raise click.UsageError("--stdin-name applies only when PATHS is '-' (stdin)")
    path_list = list(paths) or [Path(".")]
    repo = None
    if git_opts.mode is not None:  # git modes: paths are repo-relative, the root is the work tree
        repo, root = gitmode.repo_root(path_list)
    if root is None:
        root = path_list[0] if len(path_list) == 1 and path_list[0].is_dir() else Path(".")
    try:
        resolve_version(opts.get("kubernetes_version") or None)  # type: ignore[arg-type]
    except VersionError as exc:
        raise click.UsageError(str(exc)) from None
    run = build_run(root.absolute(), [p.absolute() for p in path_list], **opts)  # type: ignore[arg-type]
    run.render = render
    selection = gitmode.prepare(run, git_opts, repo, list(paths)) if repo is not None else None
    if selection is None and run.render != "none":
        run.render_cache = gitmode.render_cache(run.root, git_opts)
    with gc_paused():  # writing the report allocates; a collection then would walk the whole run's objects
        report = execute(run) if selection is None else gitmode.execute_git(run, git_opts, repo, selection)
        write_outputs(report, specs, color=use_color(color), show_waived=show_waived, options=render_options)
        ending.finished()  # before the collector is on again: nothing of the finished run is walked
    gitmode.github_environment(report, specs)
    raise SystemExit(report.exit_code)


STDIN = Path("-")


def _check_stdin(paths: tuple[Path, ...], mode: object, root: Path | None, name: str | None,
                 opts: dict[str, object]) -> Report:
    """Check one stream read from stdin, reported under ``name``."""
    if len(paths) != 1:
        raise click.UsageError("'-' (stdin) cannot be combined with other paths")
    if mode is not None:
        raise click.UsageError("'-' (stdin) cannot be combined with a git mode")
    label = name if name is not None else "<stdin>"
    if not label.strip() or "\0" in label:
        raise click.UsageError("--stdin-name must be a non-empty path")
    data = sys.stdin.buffer.read()
    base = (root or Path(".")).absolute()
    run = build_run(base, [base], **opts)  # type: ignore[arg-type]
    run.files = [SourceFile(label, data)]
    return execute(run)
