"""``gatekeeper init``: set a repository up for the gate.

Writes ``.gatekeeper.yaml``, copies the starter policy library to ``policies/`` (with the
registries and labels the repository already uses as its constraints' parameters, see
``starter.py``), and writes the GitHub workflow and the ``.pre-commit-config.yaml`` (or prints those two with
``--print-snippets``). Nothing is overwritten without ``--force``: when any target exists,
nothing at all is written.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import click

from gatekeeper import __version__
from gatekeeper.cli import starter

ACTION_REPO = "gitops-gatekeeper/gitops-gatekeeper"
CONFIG_FILE = ".gatekeeper.yaml"
POLICY_DIR = "policies"
WORKFLOW_FILE = ".github/workflows/gatekeeper.yml"
PRE_COMMIT_FILE = ".pre-commit-config.yaml"

CONFIG_TEXT = """\
# gitops-gatekeeper configuration (docs/configuration.md lists every key).
version: 1
# Target Kubernetes minor version for schemas and removed APIs (default: newest bundled).
# kubernetes_version: "1.30"
fail_on: error
exclude:
  - policies/        # the policy library's samples are test data, not manifests
  - .github/
  - .pre-commit-config.yaml
checks:
  policy:
    paths: [policies]
# Per-rule overrides, e.g.:
# rules:
#   image-latest: {severity: warning}
#   cpu-limit: {enabled: true}
# Waivers need a reason (and should have an owner and an expiry):
# waivers:
#   - rule: run-as-root
#     match: {kind: Deployment, name: legacy-*}
#     reason: vendor image needs root until v3
#     owner: team-platform
#     expires: "2026-12-31"
"""


def workflow_text(action_ref: str) -> str:
    """A complete pull-request workflow: checkout with history, the gate, SARIF upload."""
    return f"""\
name: gatekeeper
on:
  pull_request:
  push:
    branches: [main]
  merge_group:
permissions:
  contents: read
  security-events: write   # upload SARIF to code scanning
jobs:
  gate:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0   # the gate needs the merge base of the change
      - name: gatekeeper
        id: gate
        uses: {action_ref}
        with:
          sarif-file: gatekeeper.sarif
      - name: Upload SARIF
        if: always() && steps.gate.outputs.sarif-file != ''
        uses: github/codeql-action/upload-sarif@v3
        with:
          sarif_file: gatekeeper.sarif
          category: gatekeeper
"""


def pre_commit_text(rev: str) -> str:
    """The ``.pre-commit-config.yaml`` with both hooks."""
    return f"""\
repos:
  - repo: https://github.com/{ACTION_REPO}
    rev: {rev}
    hooks:
      - id: gatekeeper
      - id: gatekeeper-secrets
"""


def _policy_library() -> Path:
    from gatekeeper.rego.library import library_path

    return library_path()


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.option("--no-policies", is_flag=True, help="Do not copy the starter policy library.")
@click.option("--print-snippets", is_flag=True,
              help="Print the workflow and pre-commit config instead of writing them.")
@click.option("--action-ref", default=f"{ACTION_REPO}@v{__version__}", show_default=True,
              help="How the workflow refers to the gatekeeper action.")
def init(directory: Path, force: bool, no_policies: bool, print_snippets: bool, action_ref: str) -> None:
    """Set up DIRECTORY (default: here) for the gate: config, policies, workflow, pre-commit."""
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {CONFIG_FILE: CONFIG_TEXT}
    snippets = {WORKFLOW_FILE: workflow_text(action_ref), PRE_COMMIT_FILE: pre_commit_text(f"v{__version__}")}
    if not print_snippets:
        files.update(snippets)
    library = None if no_policies else _policy_library()
    if library is not None and not library.is_dir():
        raise click.ClickException(f"the starter policy library is missing from this installation ({library})")
    targets = [*files, *([POLICY_DIR] if library is not None else [])]
    existing = [t for t in targets if (directory / t).exists()]
    if existing and not force:
        raise InitError(f"{', '.join(existing)} already exist(s) in {directory}; nothing was written "
                        "(use --force to overwrite, or --print-snippets to print the workflow and "
                        "pre-commit config instead of writing them)")
    seen = starter.observe(directory, exclude=(f"{POLICY_DIR}/", ".github/")) if library is not None else None
    for rel, text in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {rel}")
    if library is not None:
        # the Kyverno library is examples to pick from, not a default: copying it would enforce all of it
        shutil.copytree(library, directory / POLICY_DIR, dirs_exist_ok=True, ignore=_top_level("kyverno"))
        click.echo(f"copied the starter policy library to {POLICY_DIR}/")
        for line in starter.fit(directory / POLICY_DIR, seen or starter.Observed()):
            click.echo(line)
    if print_snippets:
        for rel, text in snippets.items():
            click.echo(f"\n# {rel}\n{text}", nl=False)
    click.echo("\nNext: 'gatekeeper check' here, 'pre-commit install' for the hook, and commit the workflow.")


def _top_level(name: str) -> Callable[[str, list[str]], set[str]]:
    """A copytree filter that leaves out one directory directly under the library."""
    def ignore(directory: str, names: list[str]) -> set[str]:
        return {name} if Path(directory) == _policy_library() and name in names else set()
    return ignore


class InitError(click.ClickException):
    """``init`` refused to write: exit 2."""

    exit_code = 2
