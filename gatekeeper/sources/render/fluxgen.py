"""The kustomization Flux generates for a path that has none.

kustomize-controller builds a ``Kustomization``'s ``spec.path``; when that directory holds no
kustomization file, it writes one listing every ``.yaml``/``.yml`` file below the directory, and
each subdirectory that holds a kustomization file as a whole (not descended into), and applies
the Kustomization's overrides (``targetNamespace``, ``patches``, ``postBuild`` substitution...)
to what that builds. The gate does the same: such a path becomes a kustomize unit whose root
kustomization exists only in the run (served by :class:`WithGenerated`), so its objects are
checked as the cluster receives them instead of as files without the overrides.

Generated only for a directory that no kustomization of the repository names (kustomize would
refuse one without a kustomization there, and so does the gate); dot-files and dot-directories
are left out, as a Git source's ignore rules leave out ``.git`` and its kind. Findings the
renderer places in the generated file are moved to the Kustomization's ``spec.path`` line.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, replace

from gatekeeper.model import Document, Finding, Origin
from gatekeeper.sources import kustomize as kz
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.tree import Tree
from gatekeeper.sources.yamlload import parse

FLUX_GROUP = "kustomize.toolkit.fluxcd.io"
NAME = "kustomization.yaml"


@dataclass(frozen=True, slots=True)
class Generated:
    """A kustomization generated for ``directory``, and the Flux object that asked for it."""

    directory: str
    data: bytes
    by_path: str  # the file holding the Flux Kustomization
    by_line: int  # its spec.path line

    @property
    def path(self) -> str:
        return posixpath.join(self.directory, NAME) if self.directory else NAME


class WithGenerated:
    """A tree that also holds the generated kustomizations (read-only; everything else is the tree's)."""

    def __init__(self, tree: Tree, generated: Iterable[Generated]) -> None:
        self.base = tree
        self.files = {g.path: g.data for g in generated}

    def kind(self, path: str) -> str | None:
        return "file" if path in self.files else self.base.kind(path)

    def read(self, path: str) -> bytes | None:
        data = self.files.get(path)
        return data if data is not None else self.base.read(path)

    def files_under(self, directory: str) -> list[str]:
        prefix = directory + "/" if directory else ""
        extra = [p for p in self.files if p.startswith(prefix)]
        return sorted({*self.base.files_under(directory), *extra})

    def __getattr__(self, name: str) -> object:  # prefetch and the like: the tree's own
        return getattr(self.base, name)


def flux_paths(documents: Iterable[Document]) -> list[tuple[str, Document, int]]:
    """(directory, document, spec.path line) of every Flux Kustomization path inside the repository."""
    out = []
    for doc in documents:
        for res in doc.resources or doc.held:
            if res.kind != "Kustomization" or res.group != FLUX_GROUP:
                continue
            spec = res.obj.get("spec")
            if not isinstance(spec, dict) or not isinstance(spec.get("path"), str) or not _from_git(spec):
                continue
            raw = spec["path"]
            directory, outside = kz.resolve("", raw.strip().lstrip("/"))
            if not outside:
                out.append((directory, doc, doc.locate((*res.base, "spec", "path"))[0]))
    return out


def _from_git(spec: dict[str, object]) -> bool:
    """Whether the Kustomization builds a Git source (the repository's own, as far as the gate can
    tell); an OCI artifact, a bucket or an ExternalArtifact holds something else at that path."""
    ref = spec.get("sourceRef")
    kind = ref.get("kind") if isinstance(ref, dict) else None
    return kind in (None, "GitRepository")


def generate(documents: list[Document], kusts: dict[str, kz.Kustomization], tree: Tree) -> list[Generated]:
    """The kustomizations Flux generates for the Kustomization paths of ``documents`` that have none."""
    named = {ref.path for kust in kusts.values() for ref in kust.refs if ref.path}
    out: dict[str, Generated] = {}
    for directory, doc, line in flux_paths(documents):
        if directory in out or directory in kusts or directory in named or tree.kind(directory) != "dir":
            continue
        if tree.kind(posixpath.join(directory, "Chart.yaml") if directory else "Chart.yaml") == "file":
            continue  # a chart is a Helm unit (the path names it through at_path)
        resources = _scan(directory, tree)
        if resources:
            body = "".join(f"- {_quoted(r)}\n" for r in resources)
            data = ("# generated as Flux generates it for a path without a kustomization\n"
                    f"resources:\n{body}").encode()
            out[directory] = Generated(directory, data, doc.path, line)
    return list(out.values())


def _scan(directory: str, tree: Tree) -> list[str]:
    """Flux's generator: YAML files below ``directory``, and subdirectories with a kustomization as
    a whole (their files left out), relative to ``directory``."""
    prefix = directory + "/" if directory else ""
    with_kustomization: set[str] = set()
    files = tree.files_under(directory)
    for path in files:
        head, _, name = path.rpartition("/")
        if name in kz.KUSTOMIZATION_NAMES and head != directory:
            with_kustomization.add(head)
    chosen: list[str] = []
    for path in files:
        rel = path[len(prefix):]
        parts = rel.split("/")
        if any(p.startswith(".") for p in parts):
            continue
        inner = _inside_any(path, with_kustomization)
        if inner is not None:
            entry = inner[len(prefix):]
            if entry not in chosen:
                chosen.append(entry)
            continue
        if rel.endswith((".yaml", ".yml")):
            chosen.append(rel)
    return chosen


def _inside_any(path: str, directories: set[str]) -> str | None:
    """The outermost directory of ``directories`` holding ``path``."""
    parts = path.split("/")
    for i in range(1, len(parts)):
        head = "/".join(parts[:i])
        if head in directories:
            return head
    return None


def _quoted(path: str) -> str:
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def documents_of(generated: Iterable[Generated]) -> list[Document]:
    """The generated kustomizations parsed (for the kustomization lookup; never checked as files)."""
    return [doc for g in generated for doc in parse(SourceFile(g.path, g.data)).documents]


def relocate(findings: list[Finding], generated: Iterable[Generated]) -> list[Finding]:
    """Findings placed in a generated file (or naming one among their origins), moved to the Flux
    Kustomization's ``spec.path`` line: every location a report shows is in the repository."""
    by_path = {g.path: g for g in generated}
    if not by_path:
        return findings
    out = []
    for f in findings:
        g = by_path.get(f.path)
        if g is not None:
            f = replace(f, path=g.by_path, line=g.by_line, column=1, end_line=None,
                        message=f"{f.message} (in the kustomization Flux generates for {g.directory or '.'})")
        if any(o.path in by_path for o in f.origin):
            f = replace(f, origin=tuple(dict.fromkeys(
                Origin(by_path[o.path].by_path, by_path[o.path].by_line, "flux") if o.path in by_path else o
                for o in f.origin)))
        out.append(f)
    return out
