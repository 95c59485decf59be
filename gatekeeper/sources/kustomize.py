"""Kustomizations in all their forms: what each one references, and the shapes kustomize rejects.

A kustomization is a file named ``kustomization.yaml``, ``kustomization.yml`` or
``Kustomization`` (the only names kustomize reads); a ``kind: Kustomization`` document under any
other name is inert configuration and references nothing. Every reference is resolved against
the kustomization's directory and classified by the role the file plays for kustomize
(:data:`ROLES`): a base or resource, a component, a patch, a replacement, a transformer or
generator config, a generator input... :func:`reference_roles` answers "what is this file to
kustomize" for the file classifier and the loader; :func:`index` builds the whole graph that
deployment units and the renderer read.

Shape problems are findings at the kustomization's line (``kustomize-invalid``), never internal
errors: ``patches: [path.yaml]`` (rejected since kustomize v5), ``patches: 5``, unknown keys.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from gatekeeper.model import Document, FieldPath, Finding, Severity, fingerprint, format_field

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

# Roles a referenced path plays (``dir`` roles name a directory holding a kustomization).
RESOURCE, BASE_DIR, COMPONENT = "resource", "base", "component"
PATCH, PATCH_JSON6902, REPLACEMENT = "patch", "patch-json6902", "replacement"
TRANSFORMER, GENERATOR, VALIDATOR = "transformer", "generator", "validator"
CONFIGURATION, CRD, OPENAPI, GENERATOR_INPUT = "configuration", "crd", "openapi", "generator-input"
ROLES = (RESOURCE, BASE_DIR, COMPONENT, PATCH, PATCH_JSON6902, REPLACEMENT, TRANSFORMER, GENERATOR,
         VALIDATOR, CONFIGURATION, CRD, OPENAPI, GENERATOR_INPUT)
# Roles whose files are kustomize inputs, not Kubernetes objects to check as they are written.
NOT_OBJECTS = frozenset({PATCH, PATCH_JSON6902, REPLACEMENT, TRANSFORMER, GENERATOR, VALIDATOR,
                         CONFIGURATION, CRD, OPENAPI, GENERATOR_INPUT})

_STRING_LISTS = ("resources", "bases", "components", "crds", "configurations", "generators",
                 "transformers", "validators", "buildMetadata")
_OBJECT_LISTS = ("patches", "patchesJson6902", "replacements", "images", "imageTags", "replicas", "labels",
                 "configMapGenerator", "secretGenerator", "vars", "helmCharts", "helmChartInflationGenerator")
_MAPS = ("commonLabels", "commonAnnotations", "generatorOptions", "openapi", "sortOptions", "helmGlobals",
         "metadata")
_STRINGS = ("apiVersion", "kind", "namespace", "namePrefix", "nameSuffix")
KNOWN_KEYS = frozenset({*_STRING_LISTS, *_OBJECT_LISTS, *_MAPS, *_STRINGS, "patchesStrategicMerge"})
_GO_TYPES = {"patches": "[]types.Patch", "patchesJson6902": "[]types.Patch",
             "replacements": "[]types.ReplacementField", "patchesStrategicMerge": "[]types.PatchStrategicMerge"}
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|github\.com/|gitlab\.com/|bitbucket\.org/)|\?ref=|"
                     r"\.git(?:/|$)|//", re.IGNORECASE)
RULE_INVALID = "kustomize-invalid"


@dataclass(frozen=True, slots=True)
class Ref:
    """One path a kustomization names: where it is written, what it resolves to and its role."""

    key: str  # the kustomization key ('patches', 'resources', ...)
    field: FieldPath  # where the entry is written in the kustomization document
    raw: str  # the entry as written
    path: str  # root-relative normalised path ('' for remote or escaping entries)
    role: str
    remote: bool = False
    outside: bool = False  # resolves outside the repository
    entry: Any = None  # the entry object (patch targets)


@dataclass(frozen=True, slots=True)
class Inline:
    """A patch written inside the kustomization (``patch: |`` or an inline strategic merge)."""

    key: str
    field: FieldPath  # position of the text in the kustomization document
    text: str
    entry: Any


@dataclass(slots=True)
class Kustomization:
    """One kustomization file: its directory, document, references and shape findings."""

    doc: Document
    dir: str
    refs: list[Ref] = field(default_factory=list)
    inline: list[Inline] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.doc.path

    @property
    def obj(self) -> dict[str, Any]:
        return self.doc.obj if isinstance(self.doc.obj, dict) else {}

    @property
    def component(self) -> bool:
        return self.obj.get("kind") == "Component"

    @property
    def valid(self) -> bool:
        return not any(f.rule == RULE_INVALID for f in self.findings)

    def line(self, path: FieldPath) -> int:
        return self.doc.locate(path)[0]


def is_kustomization_file(path: str) -> bool:
    """True for the file names kustomize reads as a kustomization."""
    return path.rpartition("/")[2] in KUSTOMIZATION_NAMES


@lru_cache(maxsize=65536)
def is_remote(entry: str) -> bool:
    """A URL, git or OCI reference that cannot be read offline."""
    return bool(_REMOTE.search(entry))


@lru_cache(maxsize=65536)  # pure, and asked for the same entries by every reader of a run's kustomizations
def resolve(directory: str, entry: str) -> tuple[str, bool]:
    """(root-relative normalised path, True when it leaves the repository)."""
    if entry.startswith("/"):
        return "", True
    joined = posixpath.normpath(posixpath.join(directory, entry)) if directory else posixpath.normpath(entry)
    if joined == ".." or joined.startswith("../"):
        return "", True
    return ("" if joined == "." else joined), False


def _finding(kust: Kustomization, field_path: FieldPath, message: str, rule: str = RULE_INVALID,
             severity: Severity = Severity.ERROR, hint: str = "") -> Finding:
    line, column = kust.doc.locate(field_path)
    fpath = format_field(field_path)
    return Finding(check="render", rule=rule, severity=severity, message=message, path=kust.path, line=line,
                   column=column, field=fpath, hint=hint,
                   fingerprint=fingerprint(rule, None, kust.path, fpath, message))


def _below(path: str, directory: str) -> bool:
    return not directory or path.startswith(directory + "/")


def _type_name(value: Any) -> str:
    return {bool: "bool", int: "number", float: "number", str: "string", list: "list", dict: "map"}.get(
        type(value), "null" if value is None else type(value).__name__)


def _check_shape(kust: Kustomization) -> None:
    """Findings for everything kustomize would refuse to decode (its messages, at the key's line)."""
    obj = kust.obj
    for key, value in obj.items():
        if key not in KNOWN_KEYS:
            kust.findings.append(_finding(kust, (key,), f"kustomize rejects unknown field {key!r}",
                                          hint="remove the key or fix its spelling"))
            continue
        if value is None:
            continue
        if key in _STRING_LISTS and (not isinstance(value, list) or any(not isinstance(v, str) for v in value)):
            bad = value if not isinstance(value, list) else next(v for v in value if not isinstance(v, str))
            kust.findings.append(_finding(kust, (key,), f"{key} must be a list of strings, not a "
                                          f"{_type_name(bad)} (kustomize rejects the kustomization)"))
        elif key in _OBJECT_LISTS:
            _check_object_list(kust, key, value)
        elif key == "patchesStrategicMerge" and (not isinstance(value, list)
                                                 or any(not isinstance(v, str) for v in value)):
            kust.findings.append(_finding(kust, (key,), "patchesStrategicMerge must be a list of file paths or "
                                          "inline patches (kustomize rejects the kustomization)"))
        elif key in _MAPS and not isinstance(value, dict):
            kust.findings.append(_finding(kust, (key,), f"{key} must be a map, not a {_type_name(value)} "
                                          "(kustomize rejects the kustomization)"))
        elif key in _STRINGS and not isinstance(value, str):
            kust.findings.append(_finding(kust, (key,), f"{key} must be a string, not a {_type_name(value)} "
                                          "(kustomize rejects the kustomization)"))


def _check_object_list(kust: Kustomization, key: str, value: Any) -> None:
    if not isinstance(value, list):
        kust.findings.append(_finding(kust, (key,), f"{key} must be a list, not a {_type_name(value)} "
                                      "(kustomize rejects the kustomization)"))
        return
    for i, entry in enumerate(value):
        if isinstance(entry, dict):
            continue
        if key == "patches" and isinstance(entry, str):
            kust.findings.append(_finding(
                kust, (key, i), f"patches entry {entry!r} is a string; kustomize v5 rejects it (cannot "
                f"unmarshal string into {_GO_TYPES[key]})",
                hint=f"write it as '- path: {entry}' (or list it under patchesStrategicMerge)"))
        else:
            kust.findings.append(_finding(kust, (key, i), f"{key} entries must be maps, not a {_type_name(entry)} "
                                          "(kustomize rejects the kustomization)"))


def _looks_inline(entry: str) -> bool:
    """A patchesStrategicMerge/transformers/generators entry written as YAML rather than a path."""
    return "\n" in entry or (": " in entry and not entry.strip().endswith((".yaml", ".yml", ".json")))


def _strings(value: Any) -> Iterable[tuple[int, str]]:
    if isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, str) and v.strip():
                yield i, v.strip()


class _Builder:
    """Collects the references of one kustomization (entries of the wrong shape are skipped:
    the shape check reports them)."""

    def __init__(self, kust: Kustomization, kind_of: Callable[[str], str | None]) -> None:
        self.kust = kust
        self.kind_of = kind_of

    def add(self, key: str, field_path: FieldPath, raw: str, role: str, entry: Any = None) -> None:
        kust = self.kust
        if is_remote(raw):
            kust.refs.append(Ref(key, field_path, raw, "", role, remote=True, entry=entry))
            return
        path, outside = resolve(kust.dir, raw)
        if role == RESOURCE and not outside and self.kind_of(path) == "dir":
            role = BASE_DIR
        if not outside and role not in (BASE_DIR, COMPONENT) and self.kind_of(path) == "file" \
                and not _below(path, kust.dir):
            kust.findings.append(_finding(
                kust, field_path, f"{raw!r} is not in or below {kust.dir or '.'}/; kustomize refuses to load a "
                "file outside the kustomization's directory", hint="move the file next to the kustomization, "
                "or make its directory a base or component"))
            return
        kust.refs.append(Ref(key, field_path, raw, path, role, outside=outside, entry=entry))

    def build(self) -> None:
        obj = self.kust.obj
        for key in ("resources", "bases"):
            for i, raw in _strings(obj.get(key)):
                self.add(key, (key, i), raw, RESOURCE)
        for i, raw in _strings(obj.get("components")):
            self.add("components", ("components", i), raw, COMPONENT)
        for key, role in (("crds", CRD), ("configurations", CONFIGURATION)):
            for i, raw in _strings(obj.get(key)):
                self.add(key, (key, i), raw, role)
        for key, role in (("transformers", TRANSFORMER), ("generators", GENERATOR), ("validators", VALIDATOR)):
            for i, raw in _strings(obj.get(key)):
                if _looks_inline(raw):
                    continue  # an inline config: part of the kustomization itself
                self.add(key, (key, i), raw, role)
        self._patches()
        self._generators()
        openapi = obj.get("openapi")
        if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
            self.add("openapi", ("openapi", "path"), openapi["path"], OPENAPI)

    def _patches(self) -> None:
        obj, kust = self.kust.obj, self.kust
        for key, role in (("patches", PATCH), ("patchesJson6902", PATCH_JSON6902), ("replacements", REPLACEMENT)):
            entries = obj.get(key)
            if not isinstance(entries, list):
                continue
            for i, entry in enumerate(entries):
                if isinstance(entry, str) and key == "patches" and entry.strip() and not _looks_inline(entry):
                    # rejected by kustomize v5 (the shape finding says so), but still a patch, not an object
                    self.add(key, (key, i), entry.strip(), role, None)
                    continue
                if not isinstance(entry, dict):
                    continue
                if isinstance(entry.get("path"), str) and entry["path"].strip():
                    self.add(key, (key, i, "path"), entry["path"].strip(), role, entry)
                elif isinstance(entry.get("patch"), str) and key != "replacements":
                    kust.inline.append(Inline(key, (key, i, "patch"), entry["patch"], entry))
        entries = obj.get("patchesStrategicMerge")
        if isinstance(entries, list):
            for i, raw in enumerate(entries):
                if not isinstance(raw, str):
                    continue
                if _looks_inline(raw):
                    kust.inline.append(Inline("patchesStrategicMerge", ("patchesStrategicMerge", i), raw, None))
                else:
                    self.add("patchesStrategicMerge", ("patchesStrategicMerge", i), raw.strip(), PATCH)

    def _generators(self) -> None:
        obj = self.kust.obj
        for key in ("configMapGenerator", "secretGenerator"):
            gens = obj.get(key)
            if not isinstance(gens, list):
                continue
            for i, gen in enumerate(gens):
                if not isinstance(gen, dict):
                    continue
                for sub in ("files", "envs"):
                    for j, raw in _strings(gen.get(sub)):
                        target = raw.partition("=")[2] if sub == "files" and "=" in raw else raw
                        self.add(key, (key, i, sub, j), target.strip(), GENERATOR_INPUT)
                if isinstance(gen.get("env"), str) and gen["env"].strip():
                    self.add(key, (key, i, "env"), gen["env"].strip(), GENERATOR_INPUT)


def parse(doc: Document, kind_of: Callable[[str], str | None] = lambda _: None) -> Kustomization | None:
    """The kustomization a document is, or None when its file is not a kustomization.

    ``kind_of(path)`` says whether a root-relative path is a ``"file"``, a ``"dir"`` or unknown (None),
    which tells a base directory from a resource file.
    """
    if not is_kustomization_file(doc.path):
        return None
    kust = Kustomization(doc, posixpath.dirname(doc.path))
    if not isinstance(doc.obj, dict):
        if doc.obj is not None:
            kust.findings.append(_finding(kust, (), f"a kustomization must be a map, not a {_type_name(doc.obj)} "
                                          "(kustomize rejects it)"))
        return kust
    _check_shape(kust)
    _Builder(kust, kind_of).build()
    return kust


def find(documents: Iterable[Document], kind_of: Callable[[str], str | None] = lambda _: None
         ) -> dict[str, Kustomization]:
    """Every kustomization among the documents, by directory (the first document of a file counts;
    a directory with two kustomization files is a finding, as kustomize refuses it)."""
    found: dict[str, Kustomization] = {}
    for doc in documents:
        if not is_kustomization_file(doc.path) or doc.index != 0:
            continue
        kust = _parsed(doc, kind_of)
        if kust is None:
            continue
        other = found.get(kust.dir)
        if other is not None:  # a copy: the parse is shared with later calls
            found[kust.dir] = replace(other, findings=[*other.findings, _finding(
                other, (), f"{kust.path} and {other.path} are both kustomizations in one directory; kustomize "
                "refuses to choose")])
            continue
        found[kust.dir] = kust
    return found


class _Asking:
    """A ``kind_of`` that remembers what it was asked and answered."""

    __slots__ = ("asked", "kind_of")

    def __init__(self, kind_of: Callable[[str], str | None]) -> None:
        self.kind_of = kind_of
        self.asked: dict[str, str | None] = {}

    def __call__(self, path: str) -> str | None:
        if path not in self.asked:
            self.asked[path] = self.kind_of(path)
        return self.asked[path]


# (object id, path, index) -> (the object, [(the kind_of answers a parse depended on, the parse)])
_Answers = tuple[tuple[str, str | None], ...]
_PARSES: dict[tuple[int, str, int], tuple[Any, list[tuple[_Answers, Kustomization | None]]]] = {}
_MAX_PARSES = 20_000


def _parsed(doc: Document, kind_of: Callable[[str], str | None]) -> Kustomization | None:
    """``parse(doc, kind_of)``, shared by the several readers of one run's kustomizations (the render
    stage, the classifier, the patch routes, a pass at the base): a parse is reused for the same
    parsed object of the same file when ``kind_of`` gives the same answers to every path the parse
    asked about. (Document shells around one parse share its object and positions.)"""
    key = (id(doc.obj), doc.path, doc.index)
    entry = _PARSES.get(key)
    if entry is not None and entry[0] is doc.obj:
        for asked, kust in entry[1]:
            if all(kind_of(path) == kind for path, kind in asked):
                return kust
    else:
        if len(_PARSES) >= _MAX_PARSES:
            _PARSES.clear()
        entry = _PARSES[key] = (doc.obj, [])
    asking = _Asking(kind_of)
    kust = parse(doc, asking)
    entry[1].append((tuple(asking.asked.items()), kust))
    return kust


def reference_roles(documents: Iterable[Document], kind_of: Callable[[str], str | None] = lambda _: None
                    ) -> dict[str, set[str]]:
    """Root-relative path -> the roles it plays for the kustomizations among ``documents``.

    The public answer to "is this file a kustomize input, and as what": a patch, a component, a
    replacement, a transformer or generator config... Remote and escaping references are left out.
    """
    roles: dict[str, set[str]] = {}
    for kust in find(documents, kind_of).values():
        for ref in kust.refs:
            if ref.path and not ref.remote and not ref.outside:
                roles.setdefault(ref.path, set()).add(ref.role)
    return roles


def patch_paths(documents: Iterable[Document]) -> set[str]:
    """Root-relative paths of every file a kustomization reads as something other than an object
    (patches, replacements, transformer/generator configs, ...)."""
    return {path for path, roles in reference_roles(documents).items() if roles & NOT_OBJECTS}
