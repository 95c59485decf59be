"""Render a kustomize unit offline and attribute every output field to its source line.

:func:`plan` walks the unit's kustomizations from the root overlay before any renderer runs:
a remote base is a ``render-remote`` finding, a path that leaves the repository is
``render-outside``, a loop between kustomizations is ``render-cycle``, a missing file is a
``render-error`` at the entry that names it; only a clean plan is rendered. :func:`render` writes
exactly the plan's files into an empty directory and runs ``kubectl kustomize`` (or
``kustomize build``) there, with no plugins, no Helm, no network, and origin annotations turned
on so each output object names its source file; the annotation is taken off again, so the
objects checked and published are kustomize's own output.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gatekeeper.model import Document, FieldPath, Finding, Origin, Severity, fingerprint
from gatekeeper.sources import kustomize as kz
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.render import fastload, limits, replacements
from gatekeeper.sources.render.provenance import (
    ANY,
    MERGE_KEYS,
    Contributor,
    Deletion,
    Op,
    ProvenanceIndex,
    ShiftedPositions,
    Transform,
    as_map,
    existing_prefix,
)
from gatekeeper.sources.tree import Tree
from gatekeeper.sources.yamlload import parse

ORIGIN = "config.kubernetes.io/origin"
DocsOf = Callable[[str], list[Document]]


@dataclass(slots=True)
class Plan:
    """The inputs of a kustomize unit in application order, or why it cannot be rendered."""

    root: str
    kustomizations: list[kz.Kustomization] = field(default_factory=list)
    files: set[str] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)
    renderable: bool = True
    overlay: Any = None  # an ``overrides.Layer``: what a GitOps agent changes when it builds the unit


def render_finding(path: str, line: int, rule: str, message: str, severity: Severity = Severity.ERROR,
                   hint: str = "", column: int = 1) -> Finding:
    """A finding of the render stage (check ``render``) at a source line."""
    return Finding(check="render", rule=rule, severity=severity, message=message, path=path, line=line,
                   column=column, hint=hint, fingerprint=fingerprint(rule, None, path, str(line), message))


def _at(kust: kz.Kustomization, ref: kz.Ref) -> tuple[str, int]:
    """Where a reference is written (computed for findings only: a line of a stored document costs
    a parse of its file)."""
    return kust.path, kust.line(ref.field)


def plan(root: str, kusts: Callable[[str], kz.Kustomization | None], tree: Tree) -> Plan:
    """Walk a unit's kustomizations (depth first, bases before the overlay that includes them);
    ``kusts(dir)`` gives the kustomization of a directory."""
    result = Plan(root)
    visited: set[str] = set()

    # ``again`` is ``visit`` itself, passed in: a closure that named itself would be a reference cycle
    # keeping the renderer (and through it the run's documents) alive until the cyclic GC walks it all
    def visit(directory: str, stack: list[str], again: Callable[..., None]) -> None:
        kust = kusts(directory)
        if kust is None:
            return
        visited.add(directory)
        if not kust.valid:
            result.renderable = False  # the shape finding is reported with the kustomization
        for ref in kust.refs:
            if ref.remote:
                result.findings.append(render_finding(
                    *_at(kust, ref), "render-remote", f"{ref.raw!r} is remote; it cannot be rendered offline, so "
                    f"the unit {root or '.'} is checked file by file", Severity.WARNING,
                    "vendor the base into the repository to have the rendered state checked"))
                result.renderable = False
            elif ref.outside:
                result.findings.append(render_finding(
                    *_at(kust, ref), "render-outside", f"{ref.raw!r} resolves outside the repository; the unit "
                    f"{root or '.'} was not rendered", hint="keep every base and file inside the repository"))
                result.renderable = False
            elif ref.role in (kz.BASE_DIR, kz.COMPONENT) or (
                    ref.role in (kz.TRANSFORMER, kz.GENERATOR, kz.VALIDATOR) and kusts(ref.path) is not None):
                if ref.path in stack:
                    loop = " -> ".join([*stack[stack.index(ref.path):], ref.path])
                    result.findings.append(render_finding(
                        *_at(kust, ref), "render-cycle", f"kustomizations include each other ({loop or '.'}); "
                        "kustomize cannot build them", hint="remove one of the references"))
                    result.renderable = False
                elif kusts(ref.path) is None:
                    result.findings.append(render_finding(
                        *_at(kust, ref), "render-error", f"{ref.raw!r} is a directory without a kustomization"))
                    result.renderable = False
                elif ref.path not in visited:
                    again(ref.path, [*stack, ref.path], again)
            else:
                kind = tree.kind(ref.path)
                if kind != "file":
                    what = "a directory without a kustomization" if kind == "dir" else "not in the repository"
                    result.findings.append(render_finding(*_at(kust, ref), "render-error",
                                                          f"{ref.raw!r} is {what}"))
                    result.renderable = False
                else:
                    result.files.add(ref.path)
        for key in ("helmCharts", "helmChartInflationGenerator"):
            if kust.obj.get(key):
                result.findings.append(render_finding(
                    kust.path, kust.line((key,)), "render-disabled", f"{key} needs kustomize --enable-helm, which "
                    "the gate never runs (it would fetch charts); the unit was not rendered",
                    hint="render the chart as a Helm unit (a chart directory in the repository)"))
                result.renderable = False
        result.files.add(kust.path)
        result.kustomizations.append(kust)

    visit(root, [root], visit)
    return result


# -- running the renderer ------------------------------------------------------------------------

def command(exe: str, directory: Path) -> list[str]:
    """The render command: ``kubectl kustomize DIR`` or ``kustomize build DIR``, plugins off."""
    name = Path(exe).name
    if name.startswith("kustomize"):
        return [exe, "build", "--load-restrictor", "LoadRestrictionsRootOnly", str(directory)]
    return [exe, "kustomize", "--load-restrictor", "LoadRestrictionsRootOnly", str(directory)]


def materialize(unit_plan: Plan, tree: Tree, dest: Path, origins: bool = True) -> list[str]:
    """Write the plan's files under ``dest`` (the root kustomization with origin annotations turned
    on, unless ``origins`` is False); returns the files that could not be read."""
    missing = []
    for rel in sorted(unit_plan.files):
        data = tree.read(rel)
        if data is None:
            missing.append(rel)
            continue
        if rel == unit_plan.kustomizations[-1].path:
            if unit_plan.overlay is not None:
                data = unit_plan.overlay.rewrite(data)
            if origins:
                data = with_origins(data)
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return missing


def with_origins(data: bytes) -> bytes:
    """The root kustomization with ``buildMetadata: [originAnnotations]`` added."""
    try:
        obj = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return data
    if not isinstance(obj, dict):
        return data
    meta = obj.get("buildMetadata")
    meta = list(meta) if isinstance(meta, list) else []
    if "originAnnotations" not in meta:
        meta.append("originAnnotations")
    obj["buildMetadata"] = meta
    return yaml.safe_dump(obj, sort_keys=False).encode()


def keeps_origins(kust: kz.Kustomization) -> bool:
    """True when the author asked for origin annotations (then they are part of the output)."""
    meta = kust.obj.get("buildMetadata")
    return isinstance(meta, list) and "originAnnotations" in meta


def take_origin(obj: dict[str, Any], keep: bool) -> dict[str, Any] | None:
    """The object's origin annotation, parsed; removed from the object unless ``keep``."""
    meta = as_map(obj.get("metadata"))
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict) or ORIGIN not in annotations:
        return None
    raw = annotations[ORIGIN] if keep else annotations.pop(ORIGIN)
    if not keep and not annotations:
        del meta["annotations"]
    return parse_origin(raw) if isinstance(raw, str) else None


_ORIGIN_LINE = re.compile(r"^( *)([A-Za-z]+): ?(.*)$")


def parse_origin(text: str) -> dict[str, Any] | None:
    """kustomize's origin annotation (``path: ...``, or ``configuredIn`` with a ``configuredBy`` map),
    read line by line: it is small, flat and written by kustomize, and this runs once per object."""
    out: dict[str, Any] = {}
    nested: dict[str, Any] | None = None
    for line in text.splitlines():
        found = _ORIGIN_LINE.match(line)
        if found is None:
            continue
        indent, key, value = found.groups()
        value = value.strip().strip("'\"")
        if indent and nested is not None:
            nested[key] = value
        elif not value:
            nested = out[key] = {}
        else:
            nested = None
            out[key] = value
    return out or None


_TMP_PATH = re.compile(r"(/[^\s'\"]*?)/repo/")


def clean_message(text: str, workdir: Path) -> str:
    """A renderer's error with the temporary directory taken out (paths become repository paths)."""
    out = limits.strip_workdir(text, workdir)
    out = _TMP_PATH.sub("", out)
    lines = [ln.strip() for ln in out.strip().splitlines() if ln.strip() and not ln.startswith("# Warning")]
    first = lines[0] if lines else "the renderer failed"
    return first.removeprefix("Error: ").removeprefix("error: ")[:400]


def error_location(message: str, unit_plan: Plan) -> tuple[str, int]:
    """The kustomization file and entry line a renderer's message names (the root's first line else)."""
    for kust in reversed(unit_plan.kustomizations):
        for ref in kust.refs:
            if ref.raw and ref.raw in message:
                return kust.path, kust.line(ref.field)
    for kust in unit_plan.kustomizations:
        if kust.path in message or (kust.dir and f"'{kust.dir}'" in message):
            return kust.path, 1
    root = unit_plan.kustomizations[-1]
    return root.path, 1


# -- provenance ----------------------------------------------------------------------------------

@dataclass(slots=True)
class Patch:
    """A patch some kustomization of the unit applies, with what it targets."""

    contributor: Contributor
    target: dict[str, Any] | None  # a ``patches``/``patchesJson6902`` target selector
    kind: str | None
    name: str | None


def _op_path(text: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for raw in text.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        parts.append(int(part) if part.isdigit() else part)
    return tuple(parts)


def _ops(obj: Any) -> tuple[list[Op], list[Deletion]]:
    """The operations of a JSON 6902 patch that write values (``add``, ``replace``, and ``copy``/``move``,
    whose value is the one at ``from``) and those that delete (``remove``, and the source of a ``move``)."""
    ops: list[Op] = []
    deletes: list[Deletion] = []
    for i, op in enumerate(obj if isinstance(obj, list) else []):
        if not isinstance(op, dict) or not isinstance(op.get("path"), str):
            continue
        kind, path = op.get("op"), _op_path(op["path"])
        if kind in ("add", "replace"):
            ops.append(Op(path, op.get("value"), (i, "value")))
        elif kind in ("copy", "move") and isinstance(op.get("from"), str):
            source = _op_path(op["from"])
            value, where = _written_by(ops, source) or (ANY, (i, "from"))
            ops.append(Op(path, value, where))
            if kind == "move":
                deletes.append(Deletion(source, (i, "from")))
        elif kind == "remove":
            deletes.append(Deletion(path, (i, "path")))
    return ops, deletes


def _written_by(ops: list[Op], source: tuple[str | int, ...]) -> tuple[Any, FieldPath] | None:
    """The value an earlier operation of the patch wrote at ``source``, and where it is written."""
    for op in reversed(ops):
        n = len(op.path)
        if len(source) < n or any(a != b and b != "-" for a, b in zip(source[:n], op.path, strict=False)):
            continue
        if op.value is ANY:
            return ANY, op.where
        node, where = op.value, list(op.where)
        for part in source[n:]:
            child = existing_prefix((part,), node)
            if not child[0]:
                return None
            node = child[1]
            where.append(part)
        return node, tuple(where)
    return None


def _smp_deletes(obj: Any, path: tuple[Any, ...] = (), where: FieldPath = ()) -> list[Deletion]:
    """Deletions a strategic merge patch spells: ``$patch: delete`` (a map, or a list item by its merge
    key) and keys set to null. List items are followed by merge key (``(key, value)`` path parts)."""
    out: list[Deletion] = []
    if isinstance(obj, dict):
        if obj.get("$patch") == "delete":
            return [Deletion(path, (*where, "$patch"))]
        for key, value in obj.items():
            if not isinstance(key, str) or key.startswith("$"):
                continue
            if value is None:
                out.append(Deletion((*path, key), (*where, key)))
            else:
                out.extend(_smp_deletes(value, (*path, key), (*where, key)))
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            key = next((k for k in MERGE_KEYS if k in item), None) if isinstance(item, dict) else None
            if key is not None:
                out.extend(_smp_deletes(item, (*path, (key, item[key])), (*where, i)))
    return out


def _patch_docs(docs: list[Document], entry: Any, json6902: bool) -> list[Patch]:
    out = []
    target = entry.get("target") if isinstance(entry, dict) and isinstance(entry.get("target"), dict) else None
    for doc in docs:
        obj = doc.obj
        if isinstance(obj, list) or json6902:
            ops, deletes = _ops(obj)
            out.append(Patch(Contributor("patch", doc, (), None, ops=ops, deletes=deletes), target, None, None))
        elif isinstance(obj, dict):
            meta = as_map(obj.get("metadata"))
            name = meta.get("name") if isinstance(meta.get("name"), str) else None
            kind = obj.get("kind") if isinstance(obj.get("kind"), str) else None
            out.append(Patch(Contributor("patch", doc, (), obj, deletes=_smp_deletes(obj)), target, kind, name))
    return out


def _inline_docs(kust: kz.Kustomization, inline: kz.Inline) -> list[Document]:
    """An inline patch parsed with its lines placed in the kustomization file."""
    offset = kust.line(inline.field)  # a block scalar's text starts on the line after its key
    lines = kust.doc.text.splitlines()
    first = lines[offset] if offset < len(lines) else ""
    indent = len(first) - len(first.lstrip(" "))
    parsed = parse(SourceFile(kust.path, inline.text.encode("utf-8")))
    return [Document(kust.path, d.index, d.obj, d.line + offset, ShiftedPositions(d.positions, offset, indent),
                     text=kust.doc.text) for d in parsed.documents]


def patches_of(unit_plan: Plan, docs_of: DocsOf) -> list[Patch]:
    """Every patch of the unit, in the order kustomize applies them (bases first)."""
    out: list[Patch] = []
    for kust in _with_overlay(unit_plan):
        for ref in kust.refs:
            if ref.role in (kz.PATCH, kz.PATCH_JSON6902):
                out.extend(_patch_docs(docs_of(ref.path), ref.entry, ref.role == kz.PATCH_JSON6902))
        for inline in kust.inline:
            out.extend(_patch_docs(_inline_docs(kust, inline), inline.entry, inline.key == "patchesJson6902"))
    return out


def _with_overlay(unit_plan: Plan) -> list[kz.Kustomization]:
    """The unit's kustomizations, then the agent's overrides read as one (located in its manifest)."""
    extra = unit_plan.overlay.kust if unit_plan.overlay is not None else None
    return [*unit_plan.kustomizations, extra] if extra is not None else unit_plan.kustomizations


def _selects(selector: Any, labels: Any) -> bool:
    if not isinstance(selector, str) or not selector.strip():
        return True
    if not isinstance(labels, dict):
        return False
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


def applies(patch: Patch, obj: dict[str, Any], names: Sequence[str]) -> bool:
    """Whether a patch can have touched an object (by kind and name, or its target selector)."""
    meta = as_map(obj.get("metadata"))
    if patch.target is not None:
        t = patch.target
        if isinstance(t.get("kind"), str) and t["kind"] != obj.get("kind"):
            return False
        if isinstance(t.get("name"), str):
            try:
                pattern = re.compile(t["name"])
            except re.error:
                return False
            if not any(pattern.fullmatch(n) for n in names):
                return False
        if isinstance(t.get("namespace"), str) and t["namespace"] != meta.get("namespace"):
            return False
        return _selects(t.get("labelSelector"), meta.get("labels")) and \
            _selects(t.get("annotationSelector"), meta.get("annotations"))
    return patch.kind == obj.get("kind") and patch.name in names


def transforms_of(unit_plan: Plan) -> list[Transform]:
    """Field rewrites of the unit's kustomizations (bases first, the root overlay last)."""
    out: list[Transform] = []
    for kust in _with_overlay(unit_plan):
        obj = kust.obj
        ns = obj.get("namespace")
        if isinstance(ns, str):
            out.append(_transform(kust, ("namespace",), _sets_namespace(ns)))
        for key in ("namePrefix", "nameSuffix"):
            value = obj.get(key)
            if isinstance(value, str) and value:
                out.append(_transform(kust, (key,), _sets_name(value, key == "namePrefix")))
        out.extend(_image_transforms(kust))
        out.extend(_label_transforms(kust))
        replicas = obj.get("replicas")
        for i, entry in enumerate(replicas if isinstance(replicas, list) else []):
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                out.append(_transform(kust, ("replicas", i, "count"), _sets_replicas(entry)))
    return out


Test = Callable[[Sequence[str | int], Any, dict[str, Any]], bool]


def _transform(kust: kz.Kustomization, where: tuple[str | int, ...], test: Test) -> Transform:
    line, column = kust.doc.locate(where)
    return Transform(kust.path, line, test, column=column)


def _sets_namespace(ns: str) -> Test:
    def test(path: Sequence[str | int], value: Any, _obj: dict[str, Any]) -> bool:
        return bool(path) and path[-1] == "namespace" and value == ns
    return test


def _sets_name(affix: str, prefix: bool) -> Test:
    def test(path: Sequence[str | int], value: Any, _obj: dict[str, Any]) -> bool:
        if list(path) != ["metadata", "name"] or not isinstance(value, str):
            return False
        return value.startswith(affix) if prefix else value.endswith(affix)
    return test


def _sets_replicas(entry: dict[str, Any]) -> Test:
    def test(path: Sequence[str | int], value: Any, obj: dict[str, Any]) -> bool:
        name = str(as_map(obj.get("metadata")).get("name", ""))
        return list(path) == ["spec", "replicas"] and value == entry.get("count") and entry["name"] in name
    return test


def _sets_pair(key: str, expected: Any, parents: tuple[str, ...]) -> Test:
    def test(path: Sequence[str | int], value: Any, _obj: dict[str, Any]) -> bool:
        return len(path) >= 2 and path[-1] == key and path[-2] in parents and value == expected
    return test


def _image_parts(image: str) -> tuple[str, str, str]:
    name, _, digest = image.partition("@")
    base, sep, tag = name.rpartition(":")
    if not sep or "/" in tag:
        return name, "", digest
    return base, tag, digest


def _image_transforms(kust: kz.Kustomization) -> list[Transform]:
    out = []
    images = kust.obj.get("images")
    for i, entry in enumerate(images if isinstance(images, list) else []):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        field_key = next((k for k in ("newTag", "digest", "newName") if k in entry), "name")

        def test(p: Sequence[str | int], v: Any, _o: dict[str, Any], e: dict[str, Any] = entry) -> bool:
            if not p or p[-1] != "image" or not isinstance(v, str):
                return False
            name, tag, digest = _image_parts(v)
            if name != (e.get("newName") or e["name"]):
                return False
            return ("newTag" in e and tag == str(e["newTag"])) or ("digest" in e and digest == e["digest"]) \
                or ("newName" in e and "newTag" not in e and "digest" not in e)
        out.append(_transform(kust, ("images", i, field_key), test))
    return out


def _label_transforms(kust: kz.Kustomization) -> list[Transform]:
    out = []
    maps: list[tuple[tuple[str | int, ...], Any, tuple[str, ...]]] = [
        (("commonLabels",), kust.obj.get("commonLabels"), ("labels", "matchLabels", "selector")),
        (("commonAnnotations",), kust.obj.get("commonAnnotations"), ("annotations",))]
    labels = kust.obj.get("labels")
    for i, entry in enumerate(labels if isinstance(labels, list) else []):
        if isinstance(entry, dict):
            maps.append((("labels", i, "pairs"), entry.get("pairs"), ("labels", "matchLabels", "selector")))
    for where, values, parents in maps:
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            out.append(_transform(kust, (*where, key), _sets_pair(key, value, parents)))
    return out


def base_contributor(origin: dict[str, Any] | None, unit_root: str, obj: dict[str, Any],
                     docs_of: DocsOf, unit_plan: Plan) -> tuple[Contributor | None, Origin]:
    """The document an output object came from, and the object's home line."""
    root_kust = unit_plan.kustomizations[-1]
    home = Origin(root_kust.path, 1, "kustomization")
    if origin is None:
        return None, home
    if isinstance(origin.get("configuredIn"), str):
        path, outside = kz.resolve(unit_root, origin["configuredIn"])
        kind = as_map(origin.get("configuredBy")).get("kind", "")
        if not outside:
            return None, _generator_home(path, str(kind), obj, unit_plan) or Origin(path, 1, "generator")
        return None, home
    raw = origin.get("path")
    if not isinstance(raw, str) or origin.get("repo"):
        return None, home
    path, outside = kz.resolve(unit_root, raw)
    if outside:
        return None, home
    name = str(as_map(obj.get("metadata")).get("name", ""))
    best: tuple[int, Contributor] | None = None
    for doc in docs_of(path):
        for res in doc.resources or doc.held:
            if res.kind != obj.get("kind") or not res.name or res.name not in name:
                continue
            score = len(res.name)
            if best is None or score > best[0]:
                best = (score, Contributor("base", doc, res.base, res.obj))
    if best is None:
        return None, Origin(path, 1, "base")
    contributor = best[1]
    return contributor, Origin(path, contributor.doc.locate(contributor.base)[0], "base")


def _generator_home(path: str, kind: str, obj: dict[str, Any], unit_plan: Plan) -> Origin | None:
    key = {"ConfigMapGenerator": "configMapGenerator", "SecretGenerator": "secretGenerator"}.get(kind)
    name = str(as_map(obj.get("metadata")).get("name", ""))
    for kust in unit_plan.kustomizations:
        if kust.path != path or key is None:
            continue
        gens = kust.obj.get(key)
        for i, gen in enumerate(gens if isinstance(gens, list) else []):
            if isinstance(gen, dict) and isinstance(gen.get("name"), str) and gen["name"] in name:
                return Origin(path, kust.line((key, i)), "generator")
    return None


# -- one unit end to end --------------------------------------------------------------------------

@dataclass(slots=True)
class Output:
    """A renderer's objects, each with its provenance index, and the findings of the render."""

    objects: list[tuple[dict[str, Any], ProvenanceIndex]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    text: bytes = b""
    rendered: bool = False
    loaded: list[Any] = field(default_factory=list)  # every document of the output, as loaded
    refusal: str | None = None  # kustomize's own message when it refused to build the unit


def run(unit_plan: Plan, tree: Tree, exe: str, workdir: Path, timeout: float, max_output: int) -> Output | bytes:
    """Render a clean plan; the raw output bytes, or an Output holding the error finding."""
    repo = workdir / "repo"
    repo.mkdir(parents=True)
    missing = materialize(unit_plan, tree, repo)
    root = unit_plan.kustomizations[-1]
    if missing:
        return Output(findings=[render_finding(root.path, 1, "render-error", f"{missing[0]} cannot be read "
                                               "(a symlink out of the repository, or over the size limit)")])
    target = repo / unit_plan.root if unit_plan.root else repo
    outcome = limits.run(command(exe, target), repo, limits.sandbox_env(workdir / "home"), timeout=timeout,
                         max_output=max_output)
    if outcome.limit is not None:
        return Output(findings=[render_finding(root.path, 1, "render-limit", f"kustomize {outcome.limit} rendering "
                                               f"{unit_plan.root or '.'}; the unit was not rendered")])
    if outcome.returncode != 0:
        failed = refused(unit_plan, clean_message(outcome.stderr, repo))
        if outcome.returncode < 0:  # killed by a signal: kustomize gave no answer worth keeping
            failed.refusal = None
        return failed
    return with_base(unit_plan.root, outcome.stdout)


def refused(unit_plan: Plan, message: str) -> Output:
    """kustomize refused to build the unit with ``message`` (its error, the work directory taken
    out): the finding at the entry the message names. The message depends on the unit's inputs
    alone, so the render cache can keep it (sealed) in place of an output."""
    path, line = error_location(message, unit_plan)
    if unit_plan.overlay is not None:
        path, line = unit_plan.overlay.error_location(message, (path, line))
    return Output(findings=[render_finding(path, line, "render-error", f"kustomize cannot build "
                                           f"{unit_plan.root or '.'}: {message}")], refusal=message)


ORIGIN_BASE = b"# origin-base: "


def with_base(directory: str, text: bytes) -> bytes:
    """Output prefixed with the directory its origin annotations are relative to."""
    return ORIGIN_BASE + (directory or ".").encode() + b"\n" + text


def _origin_base(text: bytes, default: str) -> str:
    if text.startswith(ORIGIN_BASE):
        base = text[len(ORIGIN_BASE):text.index(b"\n")].decode("utf-8", "replace")
        return "" if base == "." else base
    return default


def load_output(text: bytes) -> tuple[list[Any] | Finding, bool]:
    """The output's objects (the fast loader, else the full parse), or the parse's first finding;
    and whether the fast loader read it (regular output: no alias, no tag, plain JSON values)."""
    try:
        fast = fastload.load(text.decode("utf-8"))
    except UnicodeDecodeError:
        fast = None
    if fast is not None:
        return fast, True
    parsed = parse(SourceFile("(kustomize output)", text))
    return (parsed.findings[0] if parsed.findings else [doc.obj for doc in parsed.documents]), False


def objects(text: bytes, unit_plan: Plan, docs_of: DocsOf, loaded: list[Any] | Finding | None = None) -> Output:
    """Parse kustomize's output (unless ``loaded`` gives it, as ``load_output`` would) and give each
    object its provenance (which takes the origin annotations off the loaded objects)."""
    root = unit_plan.kustomizations[-1]
    if loaded is None:
        loaded = load_output(text)[0]
    if isinstance(loaded, Finding):
        return Output(findings=[render_finding(root.path, 1, "render-error", f"kustomize output of "
                                               f"{unit_plan.root or '.'} cannot be read: {loaded.message}")])
    out = Output(text=text, rendered=True, loaded=loaded)
    keep = keeps_origins(root)
    origin_base = _origin_base(text, unit_plan.root)
    patches = patches_of(unit_plan, docs_of)
    transforms = transforms_of(unit_plan)
    fallback = unit_entry(unit_plan)
    for obj in loaded:
        if not isinstance(obj, dict):
            continue
        origin = take_origin(obj, keep)
        base, home = base_contributor(origin, origin_base, obj, docs_of, unit_plan)
        names = [str(as_map(obj.get("metadata")).get("name", ""))]
        if base is not None and isinstance(base.obj, dict):
            meta = base.obj.get("metadata")
            if isinstance(meta, dict) and isinstance(meta.get("name"), str):
                names.append(meta["name"])
        contributors = ([base] if base is not None else []) + [p.contributor for p in patches
                                                                if applies(p, obj, names)]
        index = ProvenanceIndex(obj, contributors, transforms, home, fallback)
        if unit_plan.overlay is not None:  # the steps the agent runs on the built objects
            obj, index = unit_plan.overlay.finish(obj, index, transforms, out.findings)
        out.objects.append((obj, index))
    transforms.extend(replacements.transforms(unit_plan, docs_of, out.objects))  # they read the objects
    return out


_ENTRY_KEYS = ("replacements", "transformers", "patches", "patchesJson6902", "patchesStrategicMerge", "components",
               "resources")


def unit_entry(unit_plan: Plan) -> Origin:
    """Where a value no source holds is attributed: the root kustomization's entry that can have set
    it (replacements, transformers, patches, ...), never a base line holding another value."""
    root = unit_plan.kustomizations[-1]
    key = next((k for k in _ENTRY_KEYS if k in root.obj), None)
    return Origin(root.path, root.line((key,)) if key else 1, "kustomization")
