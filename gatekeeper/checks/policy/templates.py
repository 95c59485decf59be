"""Gatekeeper ConstraintTemplates and Constraints read from policy directories.

A template gives a constraint kind, a parameters schema and its code: ``spec.targets[0].rego``
+ ``libs`` (legacy), or ``code[]`` entries each naming an engine (``Rego``, whose
``source.version: v1`` is honoured; ``K8sNativeValidation`` for CEL). Every entry is kept in
``Template.code``, so an engine per entry can be added; the Rego entry is loaded into
``Template.modules``. A constraint's parameters are validated against its template's schema,
and its enforcement action is read for the CI enforcement point.

Every field is read defensively: a malformed template or constraint (a list where a mapping
belongs, a ``$ref`` in a schema, an unknown ``match.scope``) is a load error naming the file
and line, never a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from gatekeeper.checks.base import CheckLoadError
from gatekeeper.checks.policy.settings import ENFORCEMENT_POINTS
from gatekeeper.model import Document, FieldPath, Severity, format_field
from gatekeeper.rego.boundary import Limits
from gatekeeper.rego.modules import Module, PolicyLoadError, load_modules

TEMPLATE_API = ("templates.gatekeeper.sh/v1", "templates.gatekeeper.sh/v1beta1", "templates.gatekeeper.sh/v1alpha1")
CONSTRAINT_GROUP = "constraints.gatekeeper.sh"
CONSTRAINT_VERSIONS = ("v1", "v1beta1", "v1alpha1")
REGO = "Rego"
ACTIONS = {"deny": Severity.ERROR, "warn": Severity.WARNING, "dryrun": Severity.INFO}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_SELECTOR = {"type": "object", "properties": {
    "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
    "matchExpressions": {"type": "array", "items": {"type": "object", "required": ["key", "operator"],
                                                    "properties": {"key": {"type": "string"},
                                                                   "operator": {"enum": ["In", "NotIn", "Exists",
                                                                                         "DoesNotExist"]},
                                                                   "values": _STRINGS}}}}}
# The shapes the Constraint CRD admits for spec (the API server rejects anything else)
_SPEC_SCHEMA = {"type": "object", "properties": {
    "match": {"type": "object", "properties": {
        "kinds": {"type": "array", "items": {"type": "object", "properties": {"apiGroups": _STRINGS,
                                                                              "kinds": _STRINGS}}},
        "scope": {"enum": ["*", "Cluster", "Namespaced"]}, "namespaces": _STRINGS, "excludedNamespaces": _STRINGS,
        "labelSelector": _SELECTOR, "namespaceSelector": _SELECTOR, "name": {"type": "string"},
        "source": {"type": "string"}}},
    "enforcementAction": {"type": "string"},
    "scopedEnforcementActions": {"type": "array", "items": {"type": "object", "properties": {
        "action": {"type": "string"},
        "enforcementPoints": {"type": "array", "items": {"type": "object"}}}}}}}


@dataclass(frozen=True, slots=True)
class Code:
    """One entry of a template's code: the engine that runs it and where it is written."""

    engine: str
    source: dict[str, Any]
    label: str  # field path of the source in the template, e.g. ``spec.targets[0].code[1].source``


@dataclass(slots=True)
class Template:
    """A loaded ConstraintTemplate."""

    name: str
    kind: str
    doc: Document
    modules: list[Module] = field(default_factory=list)
    package: tuple[str, ...] = ()
    schema: dict[str, Any] | None = None
    code: list[Code] = field(default_factory=list)

    @property
    def has_rego(self) -> bool:
        return bool(self.modules)

    @property
    def cel_only(self) -> bool:
        """No Rego code: only engines this check does not evaluate (CEL)."""
        return not self.modules

    @property
    def uses_inventory(self) -> bool:
        return any("inventory" in m.source for m in self.modules)


@dataclass(slots=True)
class Constraint:
    """A constraint of a loaded template's kind."""

    kind: str
    name: str
    doc: Document
    template: Template
    match: dict[str, Any]
    parameters: dict[str, Any]
    severity: Severity | None  # None: not enforced at the CI enforcement point

    @property
    def rule_id(self) -> str:
        return f"policy/{self.kind}/{self.name}"


def _at(doc: Document, path: FieldPath) -> str:
    return f"{doc.path}:{doc.locate(path)[0]}"


def _mapping(doc: Document, value: Any, path: FieldPath, what: str) -> dict[str, Any]:
    """``value`` when it is a mapping (None reads as empty); otherwise a load error at its line."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CheckLoadError(f"{_at(doc, path)}: {what} {format_field(path)} must be a mapping, "
                             f"not {_type(value)}")
    return value


def _list(doc: Document, value: Any, path: FieldPath, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise CheckLoadError(f"{_at(doc, path)}: {what} {format_field(path)} must be a list, not {_type(value)}")
    return value


def _type(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def is_template(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") == "ConstraintTemplate" and obj.get("apiVersion") in TEMPLATE_API


def load_template(doc: Document, rego_version: str, limits: Limits | None = None) -> Template:
    """Read one ConstraintTemplate document; CheckLoadError names the file and line."""
    return load_templates([doc], rego_version, limits)[0]


def load_templates(docs: Sequence[Document], rego_version: str, limits: Limits | None = None) -> list[Template]:
    """Read ConstraintTemplate documents, their Rego modules all in one pass behind the evaluation
    boundary (``load_modules``); CheckLoadError names the file and line."""
    read = [_read_template(doc) for doc in docs]
    texts = [_rego_texts(t.doc, code, rego_version) if code is not None else [] for t, code in read]
    try:
        modules = load_modules([item for group in texts for item in group], limits)
    except PolicyLoadError as exc:
        raise CheckLoadError(str(exc)) from None
    start = 0
    for (template, code), group in zip(read, texts, strict=True):
        if code is None:
            continue
        template.modules = modules[start:start + len(group)]
        start += len(group)
        template.package = template.modules[0].package
        if "violation" not in template.modules[0].rules:
            raise CheckLoadError(f"{_at(template.doc, ('spec', 'targets', 0))}: template {template.name}'s Rego "
                                 "defines no 'violation' rule")
    return [template for template, _ in read]


def rego_items(docs: Sequence[Document], rego_version: str) -> list[tuple[str, str, str]]:
    """(path, text, version) of every Rego module of the ConstraintTemplates among ``docs``, to read
    them ahead together with other modules (``modules.preload``); a template that cannot be read
    is left out here (``load_templates`` reports it)."""
    out: list[tuple[str, str, str]] = []
    for doc in docs:
        if not is_template(doc.obj):
            continue
        try:
            _, code = _read_template(doc)
            if code is not None:
                out.extend(_rego_texts(doc, code, rego_version))
        except CheckLoadError:
            continue
    return out


def _read_template(doc: Document) -> tuple[Template, Code | None]:
    """A template without its modules, and its Rego code (None when it has only CEL)."""
    obj = doc.obj
    what = "ConstraintTemplate"
    meta = _mapping(doc, obj.get("metadata"), ("metadata",), what)
    spec = _mapping(doc, obj.get("spec"), ("spec",), what)
    crd = _mapping(doc, spec.get("crd"), ("spec", "crd"), what)
    crd_spec = _mapping(doc, crd.get("spec"), ("spec", "crd", "spec"), what)
    names = _mapping(doc, crd_spec.get("names"), ("spec", "crd", "spec", "names"), what)
    kind = names.get("kind")
    if not isinstance(kind, str) or not kind:
        raise CheckLoadError(f"{_at(doc, ('spec', 'crd'))}: ConstraintTemplate has no spec.crd.spec.names.kind")
    name = meta.get("name")
    if name != kind.lower():
        raise CheckLoadError(f"{_at(doc, ('metadata', 'name'))}: ConstraintTemplate name {name!r} must be the "
                             f"lower-case kind {kind.lower()!r}")
    template = Template(name, kind, doc)
    validation = _mapping(doc, crd_spec.get("validation"), ("spec", "crd", "spec", "validation"), what)
    schema = validation.get("openAPIV3Schema")
    if schema is not None:
        schema_path = ("spec", "crd", "spec", "validation", "openAPIV3Schema")
        template.schema = _mapping(doc, schema, schema_path, what)
        _check_schema(doc, template.schema, schema_path)
    targets = _list(doc, spec.get("targets"), ("spec", "targets"), what)
    if not targets:
        raise CheckLoadError(f"{_at(doc, ('spec',))}: ConstraintTemplate {name} has no spec.targets")
    target = _mapping(doc, targets[0], ("spec", "targets", 0), what)
    template.code = _code(doc, target)
    rego = next((c for c in template.code if c.engine == REGO), None)
    if rego is None and not template.code:
        raise CheckLoadError(f"{_at(doc, ('spec', 'targets', 0))}: ConstraintTemplate has neither "
                             "spec.targets[0].rego nor code[]")
    return template, rego


def _code(doc: Document, target: dict[str, Any]) -> list[Code]:
    """Every code entry of the target; the legacy ``rego``/``libs`` fields as a Rego entry."""
    out: list[Code] = []
    base: FieldPath = ("spec", "targets", 0)
    for i, entry in enumerate(_list(doc, target.get("code"), (*base, "code"), "ConstraintTemplate")):
        entry = _mapping(doc, entry, (*base, "code", i), "ConstraintTemplate")
        engine = entry.get("engine")
        if not isinstance(engine, str) or not engine:
            raise CheckLoadError(f"{_at(doc, (*base, 'code', i))}: code entry has no engine")
        source = _mapping(doc, entry.get("source"), (*base, "code", i, "source"), "ConstraintTemplate")
        out.append(Code(engine, source, f"spec.targets[0].code[{i}].source"))
    if not any(c.engine == REGO for c in out):
        rego = target.get("rego")
        if isinstance(rego, str) and rego.strip():
            out.insert(0, Code(REGO, {"rego": rego, "libs": target.get("libs")}, "spec.targets[0]"))
        elif rego is not None and not isinstance(rego, str):
            raise CheckLoadError(f"{_at(doc, (*base, 'rego'))}: spec.targets[0].rego must be a string")
    return out


def _rego_texts(doc: Document, code: Code, rego_version: str) -> list[tuple[str, str, str]]:
    """(path, text, version) of a template's ``rego`` and ``libs`` modules."""
    source = code.source
    version = "v1" if source.get("version") == "v1" else rego_version
    rego = source.get("rego")
    if not isinstance(rego, str) or not rego.strip():
        raise CheckLoadError(f"{doc.path}:{doc.line}: {code.label}.rego must be a non-empty string")
    libs = source.get("libs")
    if libs is not None and not (isinstance(libs, list) and all(isinstance(lib, str) for lib in libs)):
        raise CheckLoadError(f"{doc.path}:{doc.line}: {code.label}.libs must be a list of strings")
    texts = [(f"{code.label}.rego", rego), *((f"{code.label}.libs[{j}]", lib) for j, lib in enumerate(libs or []))]
    return [(f"{doc.path}:{label}", text, version) for label, text in texts]


def _check_schema(doc: Document, schema: Any, path: FieldPath) -> None:
    """Kubernetes structural schemas have no ``$ref`` (a loop or a remote reference would make
    validation recurse or fetch); refuse one like the API server does."""
    stack: list[tuple[Any, FieldPath]] = [(schema, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            if "$ref" in value:
                raise CheckLoadError(f"{_at(doc, (*where, '$ref'))}: the parameters schema uses $ref, which a "
                                     "Kubernetes structural schema does not allow")
            stack.extend((v, (*where, str(k))) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*where, i)) for i, v in enumerate(value))


def constraint_group(obj: Any) -> tuple[str, str] | None:
    """(group, version) of an object's apiVersion, or None."""
    api = obj.get("apiVersion") if isinstance(obj, dict) else None
    if not isinstance(api, str) or "/" not in api:
        return None
    group, _, version = api.partition("/")
    return group, version


def is_constraint(obj: Any, kinds: set[str]) -> bool:
    found = constraint_group(obj)
    return found is not None and found[0] == CONSTRAINT_GROUP and obj.get("kind") in kinds


def check_constraint_api(doc: Document, kinds: set[str]) -> None:
    """A document of a loaded template's kind must be a constraint (group
    ``constraints.gatekeeper.sh``); a document in that group must be of a loaded kind. A misspelt
    group would otherwise silently never be enforced."""
    obj = doc.obj
    if not isinstance(obj, dict):
        return
    found = constraint_group(obj)
    kind = obj.get("kind")
    if found is None:
        return
    group, version = found
    if group == CONSTRAINT_GROUP:
        if kind not in kinds:
            raise CheckLoadError(f"{doc.path}:{doc.line}: no ConstraintTemplate declares kind {kind!r}")
        if version not in CONSTRAINT_VERSIONS:
            raise CheckLoadError(f"{_at(doc, ('apiVersion',))}: constraint {kind} has unknown version {version!r} "
                                 f"(expected {', '.join(CONSTRAINT_VERSIONS)})")
    elif kind in kinds and (group.startswith("constraint") or group.endswith("gatekeeper.sh")
                            or _close(group, CONSTRAINT_GROUP)):
        raise CheckLoadError(f"{_at(doc, ('apiVersion',))}: {kind} is a constraint kind of a loaded template, but its "
                             f"apiVersion group is {group!r}, not {CONSTRAINT_GROUP!r}; it would never be enforced")


def _close(a: str, b: str) -> bool:
    """True when ``a`` is one edit away from ``b`` (a typo)."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def load_constraint(doc: Document, template: Template) -> Constraint:
    """Read a constraint and validate its parameters against the template schema."""
    obj = doc.obj
    meta = _mapping(doc, obj.get("metadata"), ("metadata",), "constraint")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise CheckLoadError(f"{_at(doc, ('metadata',))}: constraint has no metadata.name")
    spec = obj.get("spec") if obj.get("spec") is not None else {}
    shape = next(iter(sorted(jsonschema.Draft7Validator(_SPEC_SCHEMA).iter_errors(_no_nulls(spec)),
                             key=lambda e: list(map(str, e.absolute_path)))), None)
    if shape is not None:
        path = ("spec", *shape.absolute_path)
        raise CheckLoadError(f"{_at(doc, path)}: constraint {obj['kind']}/{name}: {format_field(path)}: "
                             f"{shape.message[:200]}")
    params: Any = spec.get("parameters") if spec.get("parameters") is not None else {}
    if template.schema is not None:
        _validate_parameters(doc, params, template.schema, f"{obj['kind']}/{name}")
    if not isinstance(params, dict):
        raise CheckLoadError(f"{_at(doc, ('spec', 'parameters'))}: constraint parameters must be a mapping")
    return Constraint(obj["kind"], name, doc, template, spec.get("match") or {}, params,
                      _severity(doc, spec))


def _no_nulls(value: Any) -> Any:
    """The API server drops null fields of a CRD object; so does the shape check."""
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    return [_no_nulls(v) for v in value] if isinstance(value, list) else value


def _validate_parameters(doc: Document, params: Any, schema: dict[str, Any], label: str) -> None:
    try:
        validator = jsonschema.Draft7Validator(_strip_extensions(schema))
        errors = sorted(validator.iter_errors(params), key=lambda e: list(map(str, e.absolute_path)))
    except (jsonschema.SchemaError, RecursionError, TypeError, ValueError) as exc:
        raise CheckLoadError(f"{doc.path}:{doc.line}: constraint {label}: the template's parameters schema is "
                             f"not a valid schema ({exc.__class__.__name__})") from None
    if errors:
        err = errors[0]
        path = ("spec", "parameters", *err.absolute_path)
        where = format_field(tuple(err.absolute_path)) or "(parameters)"
        raise CheckLoadError(f"{_at(doc, path)}: constraint {label}: parameters {where}: {err.message[:200]}")


def _strip_extensions(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_extensions(v) for k, v in schema.items() if not str(k).startswith("x-kubernetes")}
    if isinstance(schema, list):
        return [_strip_extensions(v) for v in schema]
    return schema


def _severity(doc: Document, spec: dict[str, Any]) -> Severity | None:
    action = str(spec.get("enforcementAction") or "deny").lower()
    if action in ACTIONS:
        return ACTIONS[action]
    if action != "scoped":
        raise CheckLoadError(f"{_at(doc, ('spec', 'enforcementAction'))}: unknown enforcementAction {action!r}")
    chosen: Severity | None = None
    for entry in spec.get("scopedEnforcementActions") or []:
        points = {str(p.get("name")) for p in entry.get("enforcementPoints") or [] if isinstance(p, dict)}
        if not points & set(ENFORCEMENT_POINTS):
            continue
        act = str(entry.get("action", "")).lower()
        if act not in ACTIONS:
            raise CheckLoadError(f"{_at(doc, ('spec', 'scopedEnforcementActions'))}: unknown action {act!r}")
        chosen = ACTIONS[act] if chosen is None else max(chosen, ACTIONS[act])
    return chosen
