"""The render stage of the loader: units found, rendered, and their objects put in the checked set.

After parsing, :func:`apply` finds the kustomizations (their shape findings join the run's),
discovers or takes the deployment units, renders each, and rearranges the documents:

- each rendered object becomes a document of its own whose positions answer with source lines
  (``Document.unit`` names the unit, ``Document.inputs`` its input files, for PR scoping);
- source objects a rendered unit consumed are held aside (``Document.held``): the checks see
  them through the rendered objects, checks that read sources (secrets) still see them;
- files a kustomization reads as patches, replacements or transformer configs are never
  checked as whole objects;
- a unit that cannot be rendered leaves its files checked as files, with the reason as a finding;
  when that reason is no error (a remote base), its patches are checked as partial objects
  (:mod:`partial`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.model import Document, Finding, Resource
from gatekeeper.sources import kustomize as kz
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.render import MissingRenderer, RenderCache, Rendered, Renderer, fluxgen, partial
from gatekeeper.sources.resources import extract
from gatekeeper.sources.tree import DiskTree, Tree
from gatekeeper.sources.units import CHART_FILE, KUSTOMIZE, Unit, discover
from gatekeeper.sources.yamlload import ParsedFile, parse

MODES = ("auto", "none")


@dataclass(slots=True)
class Outcome:
    """What the stage did, for the report and the sync step."""

    units: list[Unit] = field(default_factory=list)
    rendered: list[Rendered] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None  # a renderer is missing: the run fails closed
    documents: list[Document] = field(default_factory=list)  # the rendered objects' documents
    adopted_files: int = 0  # input files read from the tree because the run had not collected them
    partial: list[Document] = field(default_factory=list)  # patches of units not rendered, as objects
    generated: list[fluxgen.Generated] = field(default_factory=list)  # kustomizations Flux would generate


def start(files: Iterable[SourceFile], tree: Tree, *, mode: str = "auto", units: list[Unit] | None = None,
          configured: Iterable[dict[str, Any]] = (), cache: RenderCache | None = None,
          focus: set[str] | None = None, parser: Callable[[SourceFile], ParsedFile] = parse) -> Renderer | None:
    """Start rendering before the run's files are parsed, so renderer processes work while the gate
    parses: the units found from kustomization files and chart directories alone (or the given
    ``units``) begin in the background. :func:`apply` takes the renderer over and uses a result
    only for exactly the inputs it was rendered from; anything it finds later renders then.
    ``parser`` reads a file (the run's own, when it keeps parses, so nothing is parsed twice)."""
    if mode == "none":
        return None
    docs: list[Document] = []
    files = list(files)
    for source in files:
        if kz.is_kustomization_file(source.path) or source.path.rpartition("/")[2] == CHART_FILE:
            docs.extend(parser(source).documents)
    kusts = kz.find(docs, tree.kind)
    if units is None:
        units = discover(docs, tree.kind, kusts, configured)[0]
    # on disk, the run's bytes serve the input digests (a git tree holds the run's blobs already)
    renderer = Renderer(tree, docs, kusts, cache, read=files if isinstance(tree, DiskTree) else ())
    try:
        if focus is not None:
            units = [u for u in units if not focus.isdisjoint(renderer.inputs(u))]
        renderer.begin(units)
    except Exception:
        renderer.close()
        raise
    return renderer


def apply(documents: list[Document], tree: Tree, *, mode: str = "auto", units: list[Unit] | None = None,
          configured: Iterable[dict[str, Any]] = (), cache: RenderCache | None = None,
          published: frozenset[str] = frozenset(), focus: set[str] | None = None,
          early: Renderer | None = None) -> Outcome:
    """Run the stage over parsed documents (changed in place); see the module doc.

    ``units`` replaces discovery (the sync step's paths): then the units' input files the run did
    not collect are read from the tree and join the checked documents (the secrets check reads
    them). ``published`` are files published as they are, so they are always whole objects.
    With ``focus`` (a git mode's changed paths) only units with an input among them are rendered:
    the others' hooks do not run, and their files serve as context as they are written.
    ``early`` is the renderer :func:`start` returned (closed here in every case).
    """
    try:
        return _apply(documents, tree, mode, units, configured, cache, published, focus, early)
    finally:
        if early is not None:
            early.close()


def _apply(documents: list[Document], tree: Tree, mode: str, units: list[Unit] | None,
           configured: Iterable[dict[str, Any]], cache: RenderCache | None, published: frozenset[str],
           focus: set[str] | None, early: Renderer | None) -> Outcome:
    adopt = units is not None
    out = Outcome()
    kusts = kz.find(documents, tree.kind)
    for kust in kusts.values():
        out.findings.extend(kust.findings)
    _drop_kustomize_inputs(documents, kusts, published)
    generated_docs: list[Document] = []
    if units is None:
        out.generated = fluxgen.generate(documents, kusts, tree)
        if out.generated:  # Flux paths without a kustomization: built as Flux builds them
            tree = fluxgen.WithGenerated(tree, out.generated)
            generated_docs = fluxgen.documents_of(out.generated)
            kusts = {**kusts, **kz.find(generated_docs, tree.kind)}
        units, found = discover(documents, tree.kind, kusts, configured,
                                generated=frozenset(g.directory for g in out.generated))
        out.findings.extend(found)
    out.units = units
    if not units:
        return out
    if mode == "none":
        out.notes.append(f"{len(units)} deployment unit(s) not rendered (--render none): their files are "
                         "checked as files")
        return out
    if early is not None:
        renderer = early
        renderer.attach([*documents, *generated_docs], kusts, tree)
    else:
        renderer = Renderer(tree, [*documents, *generated_docs], kusts, cache)
    try:
        if focus is not None:
            chosen = [u for u in units if not focus.isdisjoint(renderer.inputs(u))]
            if len(chosen) < len(units):
                out.notes.append(f"{len(units) - len(chosen)} deployment unit(s) with no changed input were not "
                                 "rendered (their files are context as written)")
            units = chosen
        out.rendered.extend(renderer.render_many(units))
        for result in out.rendered:
            if result.unit.kind == KUSTOMIZE and not result.rendered:
                unit_plan = renderer.plan_of(result.unit)
                if partial.unrenderable(unit_plan):
                    patches = partial.collect(unit_plan, result.unit.display(), result.inputs, renderer.docs_of)
                    out.partial.extend(patches.documents)
                    out.findings.extend(patches.findings)
    except MissingRenderer as exc:
        out.error = str(exc)
        return out
    finally:
        renderer.close()
    out.findings.extend(renderer.found)
    adopted = renderer.adopted if adopt else []
    _drop_kustomize_inputs(adopted, {k: v for k, v in renderer.kustomizations.items() if v is not None},
                           published)
    # a file a Flux path applies as it is (kept whole above) is consumed when that path's generated
    # build rendered: its objects are checked as the build gives them, once
    built = {path for r in out.rendered if r.rendered and r.unit.path in {g.directory for g in out.generated}
             for path in r.inputs}
    _place([*documents, *adopted], out, published - built)
    out.documents[:0] = adopted
    out.documents.extend(out.partial)
    out.adopted_files = len({d.path for d in adopted})
    return out


def _drop_kustomize_inputs(documents: list[Document], kusts: dict[str, kz.Kustomization],
                           published: frozenset[str]) -> None:
    """Patches, replacements, transformer and generator configs are inputs, not objects."""
    inputs: set[str] = set()
    for kust in kusts.values():
        for ref in kust.refs:
            if ref.path and ref.role in kz.NOT_OBJECTS:
                inputs.add(ref.path)
    for doc in documents:
        if doc.path in inputs and doc.path not in published:
            doc.resources = []
            doc.consumed = True


def _place(documents: list[Document], out: Outcome, published: frozenset[str]) -> None:
    consumed: set[str] = set()
    seen_findings: set[tuple[str, str, int, str]] = set()
    for result in out.rendered:
        for finding in result.findings:
            key = (finding.rule, finding.path, finding.line, finding.message)
            if key not in seen_findings:
                seen_findings.add(key)
                out.findings.append(finding)
        if not result.rendered:
            continue
        consumed |= result.inputs - result.references
        name = result.unit.display()
        for i, (obj, positions) in enumerate(result.objects):
            home = positions.source(())
            index = getattr(positions, "home_index", None)
            doc = Document(home[0] or name, i if index is None else index, obj, home[1], positions, unit=name,
                           inputs=result.inputs, generated=any(o.role == "generator" for o in home[3]))
            extract(doc)
            out.documents.append(doc)
    consumed -= published
    for doc in documents:
        if doc.path in consumed and doc.resources:
            doc.held, doc.resources = doc.resources, []
            doc.consumed = True
    rendered = [r for r in out.rendered if r.rendered]
    if out.rendered:
        cached = sum(1 for r in rendered if r.cached)
        seconds = sum(r.seconds for r in out.rendered)
        out.notes.append(f"rendered {len(rendered)} of {len(out.rendered)} deployment unit(s) into "
                         f"{len(out.documents)} object(s) in {seconds:.2f}s ({cached} from the render cache)")


def resources_of(documents: list[Document]) -> list[Resource]:
    return [r for doc in documents for r in doc.resources]
