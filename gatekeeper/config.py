"""``.gatekeeper.yaml``: discovery, validation against the shipped JSON schema, and typed access.

The schema is assembled from a core part and each check's own section (read from the rule
catalogue the caller passes), so a check owns its settings;
``schemas/gatekeeper-config.schema.json`` is the same schema written out for editors by
``python -m gatekeeper.docs_gen`` (a test keeps it current). Any unknown key or wrong type is a clear error that
names the key and its line, never a silent default.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatekeeper.catalogue import REPOSITORY_PATH, Catalogue
from gatekeeper.model import Severity
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.yamlload import parse

CONFIG_NAMES = (".gatekeeper.yaml", ".gatekeeper.yml")
CONFIG_VERSION = 1
_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]i?B?|B)?\s*$", re.IGNORECASE)

SEVERITY_ENUM = ["error", "warning", "info"]
NOT_BLANK = r"\S"  # a text that says something (not empty, not only spaces)


class ConfigError(Exception):
    """The configuration cannot be used; the run exits 2 with this message."""


def _waiver_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["rule", "reason"],
        "properties": {
            "rule": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
                     "description": "Rule id (or list of ids) the waiver applies to; '*' for every rule."},
            "match": {
                "type": "object", "additionalProperties": False,
                "properties": {
                    "path": {"type": "string", "description": "Glob of file paths relative to the root."},
                    "kind": {"type": "string"}, "namespace": {"type": "string"},
                    "name": {"type": "string", "description": "Object name (glob)."},
                },
            },
            "reason": {"type": "string", "pattern": NOT_BLANK, "description": "Why the finding is acceptable."},
            "owner": {"type": "string", "pattern": NOT_BLANK, "description": "Who answers for the waiver."},
            "expires": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$",
                        "description": "Last day (YYYY-MM-DD) the waiver applies."},
        },
    }


def _render_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["path"],
        "properties": {
            "path": {"type": "string", "minLength": 1, REPOSITORY_PATH: True,
                     "description": "Directory of the kustomization or chart, relative to the repository root."},
            "kind": {"enum": ["kustomize", "helm"], "description": "Renderer (default: from the directory)."},
            "values": {"type": "array", "items": {"type": "string"}, REPOSITORY_PATH: True,
                       "description": "Helm values files, relative to the repository root, in order."},
            "releaseName": {"type": "string", "description": "Helm release name (default: release)."},
            "namespace": {"type": "string", "description": "Helm release namespace (default: default)."},
            "kubeVersion": {"type": "string", "description": "Kubernetes version Helm renders for (helm binary)."},
        },
    }


def config_schema(catalogue: Catalogue) -> dict[str, Any]:
    """The full JSON schema of ``.gatekeeper.yaml``: core keys plus each catalogued check's section."""
    check_props = {entry.name: dict(entry.config_schema) for entry in catalogue.checks}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://gitops-gatekeeper.dev/schemas/gatekeeper-config.schema.json",
        "title": "gitops-gatekeeper configuration (.gatekeeper.yaml)",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "version": {"const": CONFIG_VERSION, "description": "Configuration format version (1)."},
            "kubernetes_version": {"type": "string", "pattern": r"^v?\d+\.\d+(\.\d+)?$",
                                   "description": "Target Kubernetes minor version (default: newest bundled)."},
            "include": {"type": "array", "items": {"type": "string"},
                        "description": "Globs of files to check (default **/*.yaml, **/*.yml, **/*.json)."},
            "exclude": {"type": "array", "items": {"type": "string"},
                        "description": "Globs of files or directories to skip."},
            "fail_on": {"enum": SEVERITY_ENUM, "description": "Lowest severity that fails the run."},
            "max_file_size": {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string"}],
                              "description": "Largest file read, bytes or e.g. '5MiB' (default 5MiB)."},
            "checks": {"type": "object", "additionalProperties": False, "properties": check_props,
                       "description": "Per-check settings."},
            "rules": {
                "type": "object",
                "description": "Per-rule overrides keyed by rule id.",
                "additionalProperties": {
                    "type": "object", "additionalProperties": False,
                    "properties": {
                        "enabled": {"type": "boolean"},
                        "severity": {"enum": SEVERITY_ENUM},
                        "options": {"type": "object", "description": "Rule-specific thresholds."},
                    },
                },
            },
            "waivers": {"type": "array", "items": _waiver_schema(),
                        "description": "Repository-level waivers with reason, owner and expiry."},
            "render": {"type": "array", "items": _render_schema(),
                       "description": "Deployment units to render besides those discovered (docs/rendering.md)."},
        },
    }


@dataclass(slots=True)
class Config:
    """A validated configuration; every field has its default when the file omits it."""

    path: Path | None = None
    kubernetes_version: str | None = None
    include: list[str] | None = None
    exclude: list[str] = field(default_factory=list)
    fail_on: Severity | None = None
    max_file_size: int = 5 * 1024 * 1024
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    waivers: list[dict[str, Any]] = field(default_factory=list)
    render: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path | None:
        """Directory relative paths in the file are resolved against."""
        return self.path.parent if self.path is not None else None

    def check_enabled(self, name: str, default: bool = True) -> bool:
        return bool(self.checks.get(name, {}).get("enabled", default))

    def rule_enabled(self, rule_id: str, default: bool) -> bool:
        return bool(self.rules.get(rule_id, {}).get("enabled", default))

    def rule_severity(self, rule_id: str, default: Severity) -> Severity:
        sev = self.rules.get(rule_id, {}).get("severity")
        return Severity.parse(sev) if sev else default

    def rule_options(self, rule_id: str) -> dict[str, Any]:
        return dict(self.rules.get(rule_id, {}).get("options", {}))


def parse_size(value: int | str) -> int:
    """``5242880``, ``'5MiB'``, ``'512KB'`` -> bytes (binary multiples)."""
    if isinstance(value, int):
        return value
    m = _SIZE.match(value)
    if not m:
        raise ConfigError("max_file_size: cannot read the size (use bytes or e.g. '5MiB')")
    unit = (m.group(2) or "B").upper()[0]
    return int(m.group(1)) * {"B": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[unit]


def discover(start: Path, stop: Path | None = None) -> Path | None:
    """Find ``.gatekeeper.yaml`` in ``start`` or its parents (up to ``stop`` or a git work tree's top)."""
    current = start if start.is_dir() else start.parent
    current = current.absolute()
    while True:
        for name in CONFIG_NAMES:
            candidate = current / name
            if candidate.is_file():
                return candidate
        if stop is not None and current == stop.absolute():
            return None
        if (current / ".git").exists() or current.parent == current:
            return None
        current = current.parent


def load(path: Path | None, catalogue: Catalogue) -> Config:
    """Read and validate a config file against the catalogue's checks and rules; ``None`` gives the defaults."""
    if path is None:
        return Config()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    cfg = load_bytes(data, path, catalogue)
    _confine_on_disk(cfg, path, catalogue)
    return cfg


def load_bytes(data: bytes, path: Path, catalogue: Catalogue) -> Config:
    """``load`` for the bytes of a config file (read from a commit, say); ``path`` names it."""
    parsed = parse(SourceFile(path.name, data))
    if parsed.findings:
        first = parsed.findings[0]
        raise ConfigError(f"{path}:{first.line}:{first.column}: {first.message}")
    if not parsed.documents:
        return Config(path=path)
    if len(parsed.documents) > 1:
        raise ConfigError(f"{path}: expected one YAML document, found {len(parsed.documents)}")
    doc = parsed.documents[0]
    raw = doc.obj if doc.obj is not None else {}
    _validate(raw, path, doc, catalogue)
    _confine(raw, path, doc, catalogue)
    try:
        max_file_size = parse_size(raw.get("max_file_size", 5 * 1024 * 1024))
    except ConfigError as exc:
        raise ConfigError(f"{path}:{doc.locate(['max_file_size'])[0]}: {exc}") from None
    cfg = Config(
        path=path,
        kubernetes_version=raw.get("kubernetes_version"),
        include=raw.get("include"),
        exclude=list(raw.get("exclude", [])),
        fail_on=Severity.parse(raw["fail_on"]) if "fail_on" in raw else None,
        max_file_size=max_file_size,
        checks={k: dict(v) for k, v in raw.get("checks", {}).items()},
        rules={k: dict(v) for k, v in raw.get("rules", {}).items()},
        waivers=list(raw.get("waivers", [])),
        render=list(raw.get("render", [])),
        raw=raw,
    )
    _check_rule_ids(cfg, path, doc, catalogue)
    return cfg


def _validate(raw: Any, path: Path, doc: Any, catalogue: Catalogue) -> None:
    import jsonschema

    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping of keys")
    validator = jsonschema.Draft202012Validator(config_schema(catalogue))
    errors = sorted(validator.iter_errors(raw), key=lambda e: (len(e.absolute_path), list(map(str, e.path))))
    lines = [f"{path}:{doc.locate(loc)[0]}: {_dotted(loc)}: must be a finite number" for loc in _non_finite(raw, [])]
    if not errors and not lines:
        return
    for err in errors[:10]:
        loc = list(err.absolute_path)
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            for key in extra:
                line = doc.locate([*loc, key])[0]
                lines.append(f"{path}:{line}: {_dotted([*loc, key])}: unknown key")
            continue
        line = doc.locate(loc)[0]
        what = "version: this gatekeeper reads config version 1" if err.validator == "const" \
            and loc == ["version"] else f"{_dotted(loc) or '(top level)'}: {_message(err)}"
        lines.append(f"{path}:{line}: {what}")
    raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines))


def _non_finite(value: Any, loc: list[Any]) -> Iterator[list[Any]]:
    """Key paths of every infinite or NaN number (YAML ``.inf``, ``.nan``), wherever it sits: a limit
    of ``.inf`` is no limit and ``.nan`` compares false with everything, both passing any range check."""
    if isinstance(value, float) and not math.isfinite(value):
        yield loc
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite(item, [*loc, key])
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _non_finite(item, [*loc, i])


def path_values(raw: Any, catalogue: Catalogue) -> Iterator[tuple[list[Any], str]]:
    """(key path, value) of every path a configuration names: the values of each key the schema
    marks as a repository path (``REPOSITORY_PATH``), wherever it sits."""
    yield from _marked(config_schema(catalogue), raw, [])


def _marked(schema: Any, value: Any, loc: list[Any]) -> Iterator[tuple[list[Any], str]]:
    if not isinstance(schema, dict):
        return
    if schema.get(REPOSITORY_PATH):
        if isinstance(value, str):
            yield loc, value
        elif isinstance(value, list):
            yield from (([*loc, i], v) for i, v in enumerate(value) if isinstance(v, str))
        return
    if isinstance(value, dict):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, item in value.items():
            yield from _marked(properties.get(key, extra), item, [*loc, key])
    elif isinstance(value, list):
        yield from (item for i, v in enumerate(value) for item in _marked(schema.get("items"), v, [*loc, i]))


def _confine(raw: dict[str, Any], path: Path, doc: Any, catalogue: Catalogue) -> None:
    """Every configured path is relative and stays inside the configuration's directory (the
    repository): a configuration is part of the change under review, and a path to anywhere would
    let it feed any file of the machine to a policy that prints it."""
    for loc, value in path_values(raw, catalogue):
        text = value.replace("\\", "/")
        if text.startswith("/") or re.match(r"^[A-Za-z]:", text) or text.startswith("~"):
            why = "is an absolute path"
        elif posixpath.normpath(text) == ".." or posixpath.normpath(text).startswith("../"):
            why = "leaves the repository ('..')"
        else:
            continue
        raise ConfigError(f"{path}:{doc.locate(loc)[0]}: {_dotted(loc)}: {why}; paths in the configuration "
                          "stay inside the repository (a command-line option can name a path elsewhere)")


def _confine_on_disk(cfg: Config, path: Path, catalogue: Catalogue) -> None:
    """No configured path reaches outside the configuration's directory through a symlink."""
    base = path.parent.resolve()
    for loc, value in path_values(cfg.raw, catalogue):
        real = (base / value).resolve()
        if real != base and base not in real.parents:
            doc = parse(SourceFile(path.name, path.read_bytes())).documents[0]
            raise ConfigError(f"{path}:{doc.locate(loc)[0]}: {_dotted(loc)}: leaves the repository through a "
                              "symlink; paths in the configuration stay inside the repository (a command-line "
                              "option can name a path elsewhere)")


def _message(err: Any) -> str:
    """What is wrong with a value, from the schema alone: never the value (a salt, a token)."""
    kind, want = err.validator, err.validator_value
    if kind == "type":
        return f"expected {want}, got {type(err.instance).__name__}"
    if kind == "enum":
        return f"must be one of {', '.join(map(str, want))}"
    if kind == "required":
        return "missing " + ", ".join(repr(k) for k in want if isinstance(err.instance, dict) and k not in err.instance)
    said = {
        "minLength": f"must be at least {want} characters long",
        "maxLength": f"must be at most {want} characters long",
        "pattern": "must not be blank" if want == NOT_BLANK else f"must match {want}",
        "minimum": f"must be at least {want}", "maximum": f"must be at most {want}",
        "minItems": f"needs at least {want} item(s)", "maxItems": f"takes at most {want} item(s)",
        "const": f"must be {want!r}",
        "oneOf": "matches none of the allowed forms", "anyOf": "matches none of the allowed forms",
    }
    return said.get(kind, f"is not valid ({kind})")


def _dotted(path: list[Any]) -> str:
    return ".".join(str(p) for p in path)


def _check_rule_ids(cfg: Config, path: Path, doc: Any, catalogue: Catalogue) -> None:
    for rule_id in cfg.rules:
        # policy and Kyverno rule ids are dynamic (policy/<package>/<rule>, kyverno/<policy>/<rule>)
        if catalogue.rule(rule_id) is None and not rule_id.startswith(("policy/", "kyverno/")):
            line = doc.locate(["rules", rule_id])[0]
            raise ConfigError(f"{path}:{line}: rules.{rule_id}: unknown rule id (see 'gatekeeper rules')")
