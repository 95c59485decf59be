"""``gatekeeper units``: list the deployment units of a repository, their inputs and how each was found."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from gatekeeper.cli.options import load_config
from gatekeeper.pipeline import Run, load
from gatekeeper.sources import kustomize
from gatekeeper.sources.render import Renderer, fluxgen
from gatekeeper.sources.tree import DiskTree


@click.command()
@click.argument("path", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Configuration file (default: .gatekeeper.yaml found from the root upwards).")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def units(path: Path | None, config_path: Path | None, fmt: str) -> None:
    """List the deployment units under PATH (default: the current directory): root kustomizations,
    Helm charts (once per values set), paths named by Flux and Argo CD objects, and the
    ``render:`` entries of .gatekeeper.yaml; with the files each is rendered from."""
    root = (path or Path(".")).absolute()
    run = Run(root=root, paths=[root], config=load_config(config_path, root), render="none")
    loaded = load(run)
    outcome = loaded.render
    found = outcome.units if outcome is not None else []
    generated = outcome.generated if outcome is not None else []
    tree = fluxgen.WithGenerated(DiskTree(root), generated)  # Flux paths without a kustomization
    documents = [*loaded.documents, *fluxgen.documents_of(generated)]
    renderer = Renderer(tree, documents, kustomize.find(documents, tree.kind))
    try:
        listed = [_entry(unit, renderer, set(tree.files)) for unit in found]
    finally:
        renderer.close()
    if fmt == "json":
        problems = [{"rule": f.rule, "path": f.path, "line": f.line, "message": f.message}
                    for f in (outcome.findings if outcome is not None else []) if f.check == "render"]
        click.echo(json.dumps({"units": listed, "findings": problems}, indent=2))
        return
    if not listed:
        click.echo("no deployment units found (every file is checked as it is)")
        return
    for item in listed:
        click.echo(f"{item['kind']:<9} {item['name']}")
        click.echo(f"          found by: {'; '.join(item['found_by'])}")
        if item["values"]:
            click.echo(f"          values: {', '.join(item['values'])}")
        click.echo(f"          inputs: {len(item['inputs'])} file(s)")


def _entry(unit: Any, renderer: Renderer, generated: set[str]) -> dict[str, Any]:
    return {
        "name": unit.display(), "kind": unit.kind, "path": unit.path or ".", "found_by": list(unit.found_by),
        "values": [v.path + (f"#{'.'.join(str(p) for p in v.field)}" if v.field else "") for v in unit.values],
        "release": unit.release, "namespace": unit.namespace,
        "inputs": [p for p in renderer.inputs(unit) if p not in generated],  # files in the repository
    }
