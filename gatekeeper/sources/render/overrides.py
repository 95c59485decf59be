"""What a GitOps agent changes in a kustomize unit when it builds it, applied as the agent applies it.

A Flux ``Kustomization`` (``targetNamespace``, ``namePrefix``/``nameSuffix``, ``patches``,
``images``, ``components``) and an Argo CD source's ``kustomize`` block (``namespace``,
``namePrefix``/``nameSuffix``, ``images``, ``replicas``, ``commonLabels``/``commonAnnotations``,
``patches``, ``components``) edit the unit's kustomization before it is built: kustomize-controller
writes the fields into it, Argo CD runs ``kustomize edit``. The gate does the same to its copy of
the root kustomization in the staged render directory (never in the repository) and builds it
with the same kustomize renderer. Flux's ``commonMetadata`` (labels and annotations on every
object's metadata, nothing else) and ``postBuild`` substitution (:mod:`envsubst`) run on the built
objects, as in kustomize-controller.

Provenance: the edits are also read as a kustomization whose positions are the GitOps object's
lines, so a value an override set (an image tag, a namespace, a patch's field) is located at the
line of the Flux or Argo CD manifest that set it, and a substituted value at the variable's
definition (the ``substitute`` key, or the ConfigMap/Secret key), with the line that references it.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from gatekeeper.model import Document, FieldPath, Finding, Origin, PositionIndex, Severity
from gatekeeper.sources import kustomize as kz
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.render import envsubst, fastload
from gatekeeper.sources.render import kustomize as kz_render
from gatekeeper.sources.render.provenance import Attribution, ProvenanceIndex, Transform, as_map
from gatekeeper.sources.tree import Tree
from gatekeeper.sources.units import ARGO, FLUX, Overrides
from gatekeeper.sources.yamlload import parse

RULE_SUBSTITUTE = "render-substitute"
DocsOf = Callable[[str], list[Document]]
Kusts = Callable[[str], kz.Kustomization | None]
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Chained(list[Transform]):
    """The unit's transforms (a list still growing while the unit's objects are read) followed by
    one object's own; only iteration is needed, and an object's own come last (they win)."""

    def __init__(self, shared: list[Transform], own: list[Transform]) -> None:
        super().__init__()
        self.shared, self.own = shared, own

    def __iter__(self) -> Iterator[Transform]:
        yield from self.shared
        yield from self.own

    def __reversed__(self) -> Iterator[Transform]:
        yield from reversed(self.own)
        yield from reversed(self.shared)

    def __len__(self) -> int:
        return len(self.shared) + len(self.own)


class MappedPositions(PositionIndex):
    """Positions of the edits, read as a kustomization, answered with the GitOps object's lines:
    each edit's path prefix maps to where the agent's manifest writes it."""

    __slots__ = ("_doc", "_map")

    def __init__(self, doc: Document, mapping: dict[tuple[Any, ...], tuple[FieldPath, bool]]) -> None:
        super().__init__(None, (doc.line, 1))
        self._doc = doc
        self._map = mapping  # edit path prefix -> (document path, keep the rest of the path)

    def _target(self, path: Sequence[str | int]) -> FieldPath:
        for k in range(len(path), -1, -1):
            found = self._map.get(tuple(path[:k]))
            if found is not None:
                target, keep = found
                return (*target, *path[k:]) if keep else target
        return ()

    def lookup(self, path: Sequence[str | int]) -> tuple[int, int]:
        return self._doc.locate(self._target(path))

    def exists(self, path: Sequence[str | int]) -> bool:
        return self._doc.positions.exists(self._target(path))


@dataclass(slots=True)
class Layer:
    """One unit's overrides, ready to apply to its render."""

    overrides: Overrides
    doc: Document  # the GitOps document
    edits: dict[str, Any] = field(default_factory=dict)  # kustomization fields, in kustomization form
    mapping: dict[tuple[Any, ...], tuple[FieldPath, bool]] = field(default_factory=dict)
    components: list[tuple[str, str, FieldPath]] = field(default_factory=list)  # (raw, path, edit field)
    # (the path is resolved from the unit's directory when the plan is extended)
    metadata: dict[str, dict[str, tuple[str, FieldPath]]] = field(default_factory=dict)  # Flux commonMetadata
    variables: dict[str, tuple[str, Attribution]] = field(default_factory=dict)  # name -> (value, definition)
    substitute: bool = False
    ignore_missing: bool = False  # Argo CD ignoreMissingComponents
    findings: list[Finding] = field(default_factory=list)
    kust: kz.Kustomization | None = None  # the edits as a kustomization located in the GitOps object
    _metadata_for: Any = None  # the transforms list commonMetadata's transforms were added to
    block: dict[str, Any] = field(default_factory=dict)  # the agent's fields as written

    @property
    def references(self) -> frozenset[str]:
        """Files the overrides read: inputs of the unit that are not consumed by it."""
        return frozenset(self.overrides.files)

    # -- building -------------------------------------------------------------------------------

    def at(self, where: FieldPath) -> tuple[int, int]:
        return self.doc.locate((*self.overrides.field, *where))

    def finding(self, where: FieldPath, rule: str, message: str, hint: str,
                severity: Severity = Severity.ERROR) -> None:
        line, column = self.at(where)
        self.findings.append(kz_render.render_finding(self.doc.path, line, rule, message, severity, hint, column))

    def set(self, key: str, value: Any, where: FieldPath) -> None:
        self.edits[key] = value
        self.mapping[(key,)] = ((*self.overrides.field, *where), True)

    def append(self, key: str, value: Any, where: FieldPath, keep: bool = True) -> None:
        items = self.edits.setdefault(key, [])
        self.mapping[(key, len(items))] = ((*self.overrides.field, *where), keep)
        items.append(value)

    def merge(self, key: str, values: dict[str, Any], where: FieldPath) -> None:
        self.edits.setdefault(key, {}).update(values)
        for name in values:
            self.mapping[(key, name)] = ((*self.overrides.field, *where, name), True)

    # -- applying -------------------------------------------------------------------------------

    def rewrite(self, data: bytes) -> bytes:
        """The root kustomization with the edits written into it, as the agent writes them."""
        try:
            obj = yaml.load(data, Loader=_LOADER)
        except yaml.YAMLError:
            return data
        if not isinstance(obj, dict):
            return data
        for key, value in self.edits.items():
            if key in ("namespace", "namePrefix", "nameSuffix"):
                obj[key] = value
            elif key in ("images", "replicas"):
                items = [i for i in obj.get(key) or [] if isinstance(i, dict)]
                for entry in value:
                    items = [i for i in items if i.get("name") != entry.get("name")] + [dict(entry)]
                obj[key] = items
            elif key in ("commonLabels", "commonAnnotations"):
                merged = dict(obj.get(key) or {}) if isinstance(obj.get(key), dict) else {}
                merged.update(value)
                obj[key] = merged
            else:  # patches, components, labels: appended after the kustomization's own
                existing = obj.get(key)
                obj[key] = [*(existing if isinstance(existing, list) else []), *copy.deepcopy(value)]
        return yaml.safe_dump(obj, sort_keys=False).encode()

    def error_location(self, message: str, default: tuple[str, int]) -> tuple[str, int]:
        """A renderer error caused by an override is located at it (a patch that does not apply, a
        component that does not build); others keep the default location."""
        for raw, path, where in self.components:
            if (path and path in message) or raw in message:
                return self.doc.path, self.kust_line(where)
        named: list[tuple[int, str]] = []  # (patch, a name it targets): only for messages about patches
        for i, entry in enumerate(self.edits.get("patches", [])):
            specific = [entry["path"]] if isinstance(entry.get("path"), str) else []
            named.append((i, str(as_map(entry.get("target")).get("name") or "")))
            try:
                body = yaml.load(entry["patch"], Loader=_LOADER) if isinstance(entry.get("patch"), str) else None
            except yaml.YAMLError:
                return self.doc.path, self.kust_line(("patches", i))
            if isinstance(body, list):  # JSON 6902: kustomize names the operation's path
                specific.extend(str(op["path"]) for op in body if isinstance(op, dict) and op.get("path"))
            named.append((i, str(as_map(as_map(body).get("metadata")).get("name") or "")))
            if any(s and s in message for s in specific):
                return self.doc.path, self.kust_line(("patches", i))
        if "patch" not in message.lower() or not named:
            return default
        hit = next((i for i, name in named if name and name in message), 0)
        return self.doc.path, self.kust_line(("patches", hit))

    def kust_line(self, where: tuple[Any, ...]) -> int:
        assert self.kust is not None
        return self.kust.line(where)

    def finish(self, obj: dict[str, Any], index: ProvenanceIndex, transforms: list[Transform],
               findings: list[Finding]) -> tuple[dict[str, Any], ProvenanceIndex]:
        """An object after the steps the agent runs on the built output: Flux ``postBuild``
        substitution (a substituted value is located at its variable's definition), then
        ``commonMetadata``, which kustomize-controller sets as it applies."""
        if self._metadata_for is not transforms:  # once per render: where commonMetadata's values are written
            self._metadata_for = transforms
            for section, pairs in self.metadata.items():
                for key, (value, where) in pairs.items():
                    line, column = self.at(where)
                    transforms.append(Transform(self.doc.path, line, _sets_meta(section, key, value), column=column))
        obj, index = self._substituted(obj, index, transforms, findings)
        for section, pairs in self.metadata.items():  # kustomize-controller sets them as it applies
            meta = obj.setdefault("metadata", {})
            if isinstance(meta, dict) and pairs:
                target = meta.get(section)
                target = meta[section] = target if isinstance(target, dict) else {}
                target.update({k: v for k, (v, _) in pairs.items()})
        return obj, index

    def _substituted(self, obj: dict[str, Any], index: ProvenanceIndex, transforms: list[Transform],
                     findings: list[Finding]) -> tuple[dict[str, Any], ProvenanceIndex]:
        if not self.substitute or _disabled(obj):
            return obj, index
        text = yaml.dump(obj, Dumper=_DUMPER, sort_keys=False, width=1 << 20, allow_unicode=True)
        if not envsubst.has_references(text):
            return obj, index
        kind_name = f"{obj.get('kind')}/{as_map(obj.get('metadata')).get('name')}"
        values = {name: value for name, (value, _) in self.variables.items()}
        try:
            result = envsubst.substitute(text, values)
        except envsubst.SubstitutionError as exc:
            line, _ = self.at(("postBuild",))
            findings.append(kz_render.render_finding(
                self.doc.path, line, "render-error", f"Flux cannot substitute variables in {kind_name}: {exc}",
                hint="fix the reference (write $${var} for a literal ${var})"))
            return obj, index
        new = _load_one(result.text)
        if not isinstance(new, dict):
            line, _ = self.at(("postBuild",))
            findings.append(kz_render.render_finding(
                self.doc.path, line, "render-error", f"{kind_name} is no longer valid YAML after Flux's variable "
                "substitution; Flux fails to apply the unit", hint="quote the values or the references"))
            return obj, index
        own: list[Transform] = []  # this object's substituted leaves (a unit-wide list would grow with them)
        self._attribute(obj, new, index, own, findings, kind_name)
        return new, ProvenanceIndex(new, index.contributors, _Chained(transforms, own), index.home, index.fallback)

    def _attribute(self, old: dict[str, Any], new: dict[str, Any], index: ProvenanceIndex,
                   transforms: list[Transform], findings: list[Finding], kind_name: str) -> None:
        """Transforms for every leaf the substitution changed: the variable's definition, with the line
        that references it; an undefined variable without a default is a finding at that line."""
        values = {name: value for name, (value, _) in self.variables.items()}
        for path, before in _leaves(old):
            if not isinstance(before, str) or not envsubst.has_references(before):
                continue
            try:
                used = envsubst.substitute(before, values)
            except envsubst.SubstitutionError:
                continue
            written = index.attribute(path)  # where the reference is written (the object as built)
            if used.undefined:
                names = ", ".join(dict.fromkeys(used.undefined))
                findings.append(kz_render.render_finding(
                    written.path, written.line, RULE_SUBSTITUTE, f"{kind_name} {'.'.join(map(str, path))} "
                    f"references {names}, which the Flux Kustomization at {self.doc.path}:{self.at(())[0]} does not "
                    "define: Flux substitutes an empty string (and fails to reconcile with strict substitution)",
                    Severity.WARNING, "define the variable in postBuild.substitute or substituteFrom, or give the "
                    "reference a default (${var:=default})", written.column))
            name = next(iter(used.used), None)
            if name is None:  # a default, or nothing: the referencing line itself
                transforms.append(Transform(written.path, written.line, _leaf_test(new, path), "base",
                                            written.column))
                continue
            transforms.append(Transform(written.path, written.line, _leaf_test(new, path), "base", written.column,
                                        source=_definition(self.variables[name][1])))


def _load_one(text: str) -> Any:
    """The one object of a substituted text: the fast loader, else the full parse (same values;
    None when the text is no longer one valid document)."""
    fast = fastload.load(text)
    if fast is not None:
        return fast[0] if len(fast) == 1 else None
    parsed = parse(SourceFile("(substituted)", text.encode("utf-8")))
    return parsed.documents[0].obj if len(parsed.documents) == 1 and not parsed.findings else None


def _sets_meta(section: str, key: str, expected: str) -> Callable[[Sequence[str | int], Any, dict[str, Any]], bool]:
    def test(path: Sequence[str | int], value: Any, _obj: dict[str, Any]) -> bool:
        return list(path) == ["metadata", section, key] and value == expected
    return test


def _definition(found: Attribution) -> Callable[[], Attribution]:
    """A transform's source: the variable's definition (a fresh copy, the index appends to it)."""
    return lambda: Attribution(found.path, found.line, found.column, list(found.origins))


def _leaf_test(obj: dict[str, Any], leaf: tuple[Any, ...]) -> Callable[[Sequence[str | int], Any,
                                                                         dict[str, Any]], bool]:
    def test(path: Sequence[str | int], _value: Any, target: dict[str, Any]) -> bool:
        return target is obj and tuple(path) == leaf
    return test


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    out: list[tuple[tuple[Any, ...], Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_leaves(value, (*path, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_leaves(value, (*path, i)))
    else:
        out.append((path, node))
    return out


def _disabled(obj: dict[str, Any]) -> bool:
    meta = as_map(obj.get("metadata"))
    return any(as_map(meta.get(section)).get(envsubst.DISABLE_KEY) == "disabled"
               for section in ("annotations", "labels"))


# -- reading the agent's fields -----------------------------------------------------------------

def layer(overrides: Overrides, docs_of: DocsOf) -> Layer | None:
    """The overrides of a unit, read from the GitOps object (None when the object is gone)."""
    docs = [d for d in docs_of(overrides.path) if d.index == overrides.doc_index]
    if not docs:
        return None
    doc = docs[0]
    node: Any = doc.obj
    for part in overrides.field:
        node = node.get(part) if isinstance(node, dict) else (
            node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None)
    if not isinstance(node, dict):
        return None
    found = Layer(overrides, doc, block=node)
    if overrides.agent == FLUX:
        _flux(found, node, docs_of)
    elif overrides.agent == ARGO:
        _argo(found, node)
    pseudo = Document(doc.path, doc.index, found.edits, doc.line, MappedPositions(doc, found.mapping), text=doc.text)
    found.kust = kz.Kustomization(pseudo, "")
    for i, entry in enumerate(found.edits.get("patches", [])):
        if isinstance(entry.get("patch"), str):
            found.kust.inline.append(kz.Inline("patches", ("patches", i, "patch"), entry["patch"], entry))
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _flux(found: Layer, spec: dict[str, Any], docs_of: DocsOf) -> None:
    if _string(spec.get("targetNamespace")):
        found.set("namespace", spec["targetNamespace"], ("targetNamespace",))
    for key in ("namePrefix", "nameSuffix"):
        if _string(spec.get(key)):
            found.set(key, spec[key], (key,))
    for i, image in enumerate(_list(spec.get("images"))):
        if isinstance(image, dict) and _string(image.get("name")):
            found.append("images", {k: str(image[k]) for k in ("name", "newName", "newTag", "digest")
                                    if image.get(k) is not None}, ("images", i))
        else:
            found.finding(("images", i), "render-error", "an images entry needs a name; Flux rejects it",
                          "write the image name the override applies to")
    _patches(found, spec.get("patches"), ("patch", "target"))
    _components(found, spec)
    meta = as_map(spec.get("commonMetadata"))
    for section in ("labels", "annotations"):
        pairs = as_map(meta.get(section))
        found.metadata[section] = {str(k): (str(v), ("commonMetadata", section, k)) for k, v in pairs.items()
                                   if v is not None}
    post = as_map(spec.get("postBuild"))
    if "substitute" in post or "substituteFrom" in post:
        found.substitute = True
        for source in found.overrides.variables:  # in order; a later one overrides an earlier one
            _variables_from(found, source, docs_of)
        inline = post.get("substitute")
        for name, value in (inline.items() if isinstance(inline, dict) else ()):
            where = ("postBuild", "substitute", name)
            if _valid_name(found, str(name), found.doc, (*found.overrides.field, *where)):
                line, column = found.at(where)
                text = value if isinstance(value, str) else "" if value is None else str(value)
                found.variables[str(name)] = (text, Attribution(found.doc.path, line, column,
                                                                [Origin(found.doc.path, line, "substitute")]))


def _valid_name(found: Layer, name: str, doc: Document, where: FieldPath) -> bool:
    if envsubst.VALID_NAME.match(name):
        return True
    line, column = doc.locate(where)
    found.findings.append(kz_render.render_finding(
        doc.path, line, "render-error", f"variable name {name!r} is invalid (it must match "
        "^[_a-zA-Z][_a-zA-Z0-9]*$); Flux fails to reconcile the Kustomization", column=column,
        hint="rename the variable"))
    return False


def _variables_from(found: Layer, source: Any, docs_of: DocsOf) -> None:
    docs = [d for d in docs_of(source.path) if d.index == source.doc_index]
    if not docs:
        return
    doc = docs[0]
    obj: Any = doc.obj
    for part in source.field:
        obj = obj[part] if isinstance(obj, (dict, list)) else None
    obj = as_map(obj)
    sections = ("data",) if source.kind == "ConfigMap" else ("data", "stringData")  # stringData wins, as applied
    for section in sections:
        for name, value in as_map(obj.get(section)).items():
            where = (*source.field, section, name)
            if not _valid_name(found, str(name), doc, where):
                continue
            text = value if isinstance(value, str) else "" if value is None else str(value)
            if source.kind == "Secret" and section == "data":
                try:
                    text = base64.b64decode(text, validate=True).decode("utf-8")
                except (binascii.Error, ValueError):
                    line, column = doc.locate(where)
                    found.findings.append(kz_render.render_finding(
                        doc.path, line, "render-error", f"Secret key {name!r} is not base64 text; Flux cannot "
                        "read it as a substitution variable", column=column, hint="encode the value, or use "
                        "stringData"))
                    continue
            line, column = doc.locate(where)
            found.variables[str(name)] = (text, Attribution(doc.path, line, column,
                                                            [Origin(doc.path, line, "substitute")]))


def _patches(found: Layer, listed: Any, keys: tuple[str, ...]) -> None:
    """Patch entries with the keys the agent reads (a file ``path`` for Argo CD only); an entry
    without a body is a finding and left out."""
    for i, patch in enumerate(_list(listed)):
        if isinstance(patch, dict) and (isinstance(patch.get("patch"), str)
                                        or ("path" in keys and _string(patch.get("path")))):
            found.append("patches", {k: copy.deepcopy(patch[k]) for k in keys if k in patch}, ("patches", i))
        else:
            body = "an inline patch or a path" if "path" in keys else "an inline patch"
            found.finding(("patches", i), "render-error", f"a patches entry needs {body}; the agent rejects it",
                          "write the patch inline under patch: |")


def _components(found: Layer, spec: dict[str, Any]) -> None:
    """``components`` (relative to the unit's path) and ``ignoreMissingComponents``."""
    found.ignore_missing = spec.get("ignoreMissingComponents") is True
    for i, raw in enumerate(_list(spec.get("components"))):
        if isinstance(raw, str) and raw.strip():
            found.append("components", raw.strip(), ("components", i))
            found.components.append((raw.strip(), "", ("components", len(found.edits["components"]) - 1)))


# -- Argo CD --------------------------------------------------------------------------------------

def _argo(found: Layer, block: dict[str, Any]) -> None:
    for key in ("namePrefix", "nameSuffix", "namespace"):
        if _string(block.get(key)):
            found.set(key, block[key], (key,))
    for i, image in enumerate(_list(block.get("images"))):
        entry = _argo_image(image) if isinstance(image, str) else None
        if entry is None:
            found.finding(("images", i), "render-error", f"images entry {image!r} is not an image override "
                          "(name=newName:tag, name:tag or name@digest); Argo CD fails to render",
                          "write the override as kustomize edit set image takes it")
            continue
        found.append("images", entry, ("images", i), keep=False)
    for i, entry in enumerate(_list(block.get("replicas"))):
        count = entry.get("count") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not _string(entry.get("name")) or not _is_count(count):
            found.finding(("replicas", i), "render-error", "a replicas entry needs a name and an integer count; "
                          "Argo CD fails to render", "write name: and count:")
            continue
        found.append("replicas", {"name": entry["name"], "count": int(str(count))}, ("replicas", i))
    labels = {str(k): str(v) for k, v in as_map(block.get("commonLabels")).items()}
    if labels and block.get("labelWithoutSelector") is True:
        pairs = {"pairs": labels, "includeSelectors": False,
                 "includeTemplates": block.get("labelIncludeTemplates") is True}
        found.append("labels", pairs, ())
        found.mapping[("labels", 0, "pairs")] = ((*found.overrides.field, "commonLabels"), True)
    elif labels:
        found.merge("commonLabels", labels, ("commonLabels",))
    annotations = {str(k): str(v) for k, v in as_map(block.get("commonAnnotations")).items()}
    if annotations:
        found.merge("commonAnnotations", annotations, ("commonAnnotations",))
    _patches(found, block.get("patches"), ("patch", "path", "target", "options"))
    _components(found, block)
    for key in ("commonAnnotationsEnvsubst", "kubeVersion", "apiVersions"):
        if block.get(key):
            found.finding((key,), "render-unapplied", f"Argo CD applies kustomize.{key}; the gate renders "
                          "without it", "check that part of the rendered state by other means, or waive the rule",
                          Severity.WARNING)


def _is_count(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.strip().isdigit())


def _argo_image(text: str) -> dict[str, str] | None:
    """An image override as ``kustomize edit set image`` reads it: ``[name=]newName[:tag][@digest]``."""
    name, sep, new = text.strip().partition("=")
    if not sep:
        name, new = "", name
    new, _, digest = new.partition("@")
    base, colon, tag = new.rpartition(":")
    if not colon or "/" in tag:
        base, tag = new, ""
    if not base:
        return None
    entry = {"name": name or base}
    if name and base != "*":
        entry["newName"] = base
    if tag:
        entry["newTag"] = tag
    if digest:
        entry["digest"] = digest
    return entry


# -- the plan ---------------------------------------------------------------------------------------

def extend(unit_plan: kz_render.Plan, overrides: Overrides, kusts: Kusts, tree: Tree, docs_of: DocsOf) -> None:
    """Add a unit's overrides to its plan: the components and patch files they name join its inputs
    (a remote, escaping or missing one is a finding), and the plan carries the layer."""
    found = layer(overrides, docs_of)
    if found is None or not unit_plan.kustomizations:
        return
    unit_plan.overlay = found
    _refused_overwrites(found, unit_plan.kustomizations[-1].obj)
    unit_plan.findings.extend(found.findings)  # an entry the agent rejects is left out, the rest applies
    root = unit_plan.root
    assert found.kust is not None
    for i, entry in enumerate(found.edits.get("patches", [])):
        if isinstance(entry.get("path"), str):
            raw = entry["path"].strip()
            path, outside = kz.resolve(root, raw)
            line = found.kust.line(("patches", i))
            if outside or kz.is_remote(raw):
                _plan_finding(unit_plan, found, line, "render-outside", f"patch {raw!r} resolves outside the "
                              "repository")
            elif tree.kind(path) != "file":
                _plan_finding(unit_plan, found, line, "render-error", f"patch {raw!r} is not in the repository")
            else:
                unit_plan.files.add(path)
                found.kust.refs.append(kz.Ref("patches", ("patches", i, "path"), raw, path, kz.PATCH, entry=entry))
    kept: list[str] = []
    for n, (raw, _, where) in enumerate(list(found.components)):
        line = found.kust.line(where)
        path, outside = kz.resolve(root, raw)
        found.components[n] = (raw, path, where)
        if kz.is_remote(raw):
            _plan_finding(unit_plan, found, line, "render-remote", f"component {raw!r} is remote; it cannot be "
                          "rendered offline", Severity.WARNING)
            continue
        if outside:
            _plan_finding(unit_plan, found, line, "render-outside", f"component {raw!r} resolves outside the "
                          "repository")
            continue
        if kusts(path) is None:
            if found.ignore_missing:
                continue
            _plan_finding(unit_plan, found, line, "render-error", f"component {raw!r} is not a directory with a "
                          "kustomization in the repository")
            continue
        kept.append(raw)
        sub = kz_render.plan(path, kusts, tree)
        unit_plan.files |= sub.files
        unit_plan.findings.extend(sub.findings)
        unit_plan.renderable = unit_plan.renderable and sub.renderable
        known = {k.path for k in unit_plan.kustomizations}
        at = len(unit_plan.kustomizations) - 1  # applied after the resources, before the root's own fields
        unit_plan.kustomizations[at:at] = [k for k in sub.kustomizations if k.path not in known]
    if "components" in found.edits and len(kept) < len(found.edits["components"]):
        found.edits["components"] = [c for c in found.edits["components"] if c in kept]


def _refused_overwrites(found: Layer, root: dict[str, Any]) -> None:
    """Argo CD runs ``kustomize edit add label``/``annotation`` with ``--force`` only when
    ``forceCommonLabels``/``forceCommonAnnotations`` is set; without it a key the kustomization
    already sets makes the edit, and so the Application's render, fail."""
    if found.overrides.agent != ARGO:
        return
    block = found.block
    for key, force in (("commonLabels", "forceCommonLabels"), ("commonAnnotations", "forceCommonAnnotations")):
        existing = as_map(root.get(key))
        for name in as_map(block.get(key)):
            if name in existing and block.get(force) is not True:
                found.finding((key, name), "render-error", f"{key} {name!r} is already set by the kustomization; "
                              f"Argo CD's kustomize edit refuses to overwrite it without {force}: true, so the "
                              "Application fails to render", f"set {force}: true, or drop one of the two")


def _plan_finding(unit_plan: kz_render.Plan, found: Layer, line: int, rule: str, message: str,
                  severity: Severity = Severity.ERROR) -> None:
    unit_plan.findings.append(kz_render.render_finding(
        found.doc.path, line, rule, f"{message}; the unit {unit_plan.root or '.'} was not rendered"
        if severity == Severity.ERROR else message, severity, "fix the override at this line"))
    if severity == Severity.ERROR:
        unit_plan.renderable = False
