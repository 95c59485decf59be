"""``gatekeeper sync``: re-check the whole desired state at a commit, then publish it to a deploy branch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from gatekeeper import config as config_mod
from gatekeeper.checks.schema.bundled import VersionError, resolve_version
from gatekeeper.cli.options import build_run, run_options, use_color
from gatekeeper.cli.output import parse_formats, write_outputs
from gatekeeper.pipeline import Run
from gatekeeper.sync import SyncError, SyncRequest, drift, sync
from gatekeeper.sync import verify_branch as audit_branch
from gatekeeper.sync.render import RENDER_MODES
from gatekeeper.sync.step import DEFAULT_MESSAGE


def _run_factory(opts: dict[str, Any], allow_empty: bool) -> Callable[[Path], Run]:
    """Build the pipeline Run inside the exported source tree; config is read from that commit."""
    def make(root: Path) -> Run:
        config_path = opts.get("config_path")
        found = config_path if config_path is not None else config_mod.discover(root, stop=root)
        run_opts = {**opts, "config_path": found, "allow_empty": allow_empty}
        run = build_run(root, [root], **run_opts)
        if found is None:
            run.config = config_mod.Config()  # never a configuration from outside the source commit
        return run
    return make


@click.command()
@click.option("--path", "paths", multiple=True, metavar="DIR",
              help="Directory of the source repository to publish (an environment or app); repeatable.")
@click.option("--target-branch", "-b", required=True, help="Branch Argo CD or Flux pulls from.")
@click.option("--target-path", "target_paths", multiple=True, metavar="DIR",
              help="Where each --path goes on the branch, in the same order [default: the same path].")
@click.option("--source-ref", default="HEAD", show_default=True, help="Commit whose state is published.")
@click.option("--remote", help="Push the branch to this remote (name or URL) [default: local branch only].")
@click.option("--render", type=click.Choice(RENDER_MODES), default="auto", show_default=True,
              help="plain: the YAML files as they are; kustomize: `kubectl kustomize`; auto: kustomize "
                   "where the path has a kustomization.")
@click.option("--message", default=DEFAULT_MESSAGE, show_default=False,
              help="Commit message template: {paths} {short} {source} {subject} {branch}.")
@click.option("--sign", is_flag=True, help="Sign the commit with git's own signing configuration.")
@click.option("--retries", type=click.IntRange(0, 50), default=5, show_default=True,
              help="Times to start again when another sync moved the branch first.")
@click.option("--repo", "repo", type=click.Path(exists=True, file_okay=False, path_type=Path), default=".",
              help="The source git repository [default: the current directory].")
@click.option("--repo-url", help="Repository URL written to hydrator.metadata [default: the remote's URL].")
@click.option("--allow-empty", is_flag=True,
              help="Allow publishing a path that renders no objects (a run that checked nothing passes).")
@click.option("--promote-hydrated", "promote", is_flag=True,
              help="The source is a hydrated branch: describe the dry commit its root hydrator.metadata "
                   "names (it must be an ancestor of the source commit) instead of the source commit.")
@click.option("--diff", "diff_only", is_flag=True,
              help="Only report what would change on the branch (exit 1 when it differs); writes nothing.")
@click.option("--verify-branch", is_flag=True,
              help="Only check that every commit on the branch carries Gate-Verdict: pass (exit 1 if not).")
@click.option("--since", metavar="REV", help="With --verify-branch: check only commits after REV.")
@click.option("--require-signed", is_flag=True, help="With --verify-branch: every commit must be signed.")
@run_options
@click.option("--format", "-f", "formats", multiple=True, metavar="FORMAT[=FILE]",
              help="Report format (text, json, ...); repeat as FORMAT=FILE to write several.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the (first) report to this file instead of stdout.")
@click.option("--color/--no-color", default=None, help="Colour the text output [default: on a terminal].")
def sync_command(paths: tuple[str, ...], target_branch: str, target_paths: tuple[str, ...], source_ref: str,
                 remote: str | None, render: str, message: str, sign: bool, retries: int, repo: Path,
                 repo_url: str | None, allow_empty: bool, promote: bool, diff_only: bool, verify_branch: bool,
                 since: str | None, require_signed: bool, formats: tuple[str, ...], output: Path | None,
                 color: bool | None, **opts: Any) -> None:
    """Re-check the whole state of --path at --source-ref and, only if it passes, publish it to
    --target-branch as rendered manifests with provenance trailers and a git note.

    Exit codes: 0 published (or nothing to change), 1 findings at or above --fail-on (nothing
    published; with --diff: the branch differs; with --verify-branch: a commit lacks a verdict),
    2 error (nothing published).
    """
    request = SyncRequest(repo=repo.absolute(), paths=list(paths), branch=target_branch,
                          source_ref=source_ref, target_paths=list(target_paths), remote=remote,
                          render=render, message=message,
                          sign=sign, retries=retries, repo_url=repo_url, allow_empty=allow_empty,
                          promote=promote)
    try:
        if verify_branch:
            text, code = audit_branch(request, since, require_signed)
            click.echo(text, nl=False)
            raise SystemExit(code)
        try:
            resolve_version(opts.get("kubernetes_version") or None)
        except VersionError as exc:
            raise click.UsageError(str(exc)) from None
        specs = parse_formats(formats, output)
        make_run = _run_factory(opts, allow_empty)
        if diff_only:
            text, differs = drift(request, make_run)
            click.echo(text, nl=False)
            raise SystemExit(1 if differs else 0)
        result = sync(request, make_run)
    except SyncError as exc:
        click.echo(f"gatekeeper sync: error: {exc}", err=True)
        raise SystemExit(2) from None
    if result.report is not None:
        write_outputs(result.report, specs, color=use_color(color), show_waived=False)
    outcome = result.outcome
    if outcome is None:
        click.echo(f"gatekeeper sync: {result.source[:12]} did not pass the gate; "
                   f"{target_branch} was not changed", err=True)
    elif outcome.status == "published":
        removed = f", removed {len(outcome.removed)} stale file(s)" if outcome.removed else ""
        removed += f", after {outcome.attempts} attempts" if outcome.attempts > 1 else ""
        objects = sum(len(r.objects) for r in result.rendered)
        click.echo(f"gatekeeper sync: published {outcome.commit} to {target_branch} "
                   f"({objects} objects from {result.source[:12]}{removed})", err=True)
    else:
        click.echo(f"gatekeeper sync: no commit: {outcome.detail}", err=True)
    raise SystemExit(result.exit_code)


sync_command.name = "sync"
