"""The policy check's settings: command-line options over ``checks.policy`` config over defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gatekeeper.catalogue import REPOSITORY_PATH
from gatekeeper.checks.base import CheckLoadError, Context
from gatekeeper.rego.boundary import DEFAULT_MAX_DEPTH, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, Limits

DEFAULT_DIRS = ("policy", "policies")
DEFAULT_NAMESPACES = ("main",)
ENFORCEMENT_POINTS = ("gatekeeper.io/ci", "gator.gatekeeper.sh", "*")

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "enabled": {"type": "boolean", "description": "Run this check (default true when a policy dir exists)."},
        "paths": {"type": "array", "items": {"type": "string"}, REPOSITORY_PATH: True,
                  "description": "Policy directories (default: policy/ or policies/ when present)."},
        "namespaces": {"type": "array", "items": {"type": "string"},
                       "description": "conftest-style packages to evaluate, globs allowed (default main)."},
        "all_namespaces": {"type": "boolean", "description": "Evaluate every package's deny/violation/warn rules."},
        "data": {"type": "array", "items": {"type": "string"}, REPOSITORY_PATH: True,
                 "description": "YAML/JSON files merged into `data` for conftest-style policies."},
        "combine": {"type": "boolean",
                    "description": "conftest --combine: input is the list of {path, contents} of all documents."},
        "rego_version": {"enum": ["auto", "v0", "v1"],
                         "description": "Rego syntax of policies: auto-detect (default), v0 (upgraded) or v1."},
        "opa_url": {"type": "string", "description": "Evaluate conftest-style rules on this OPA server instead."},
        "opa_timeout": {"type": "number", "exclusiveMinimum": 0,
                        "description": "Seconds per OPA request (default 5)."},
        "opa_retries": {"type": "integer", "minimum": 0, "maximum": 10,
                        "description": "Retries per OPA request (default 2)."},
        "jobs": {"type": "integer", "minimum": 0,
                 "description": "Worker processes that evaluate policies (default 0: the machine's cores)."},
        "timeout": {"type": "number", "exclusiveMinimum": 0,
                    "description": "Seconds one evaluation may take before the run fails "
                                   f"(default {DEFAULT_TIMEOUT:g})."},
        "memory_mb": {"type": "integer", "minimum": 64,
                      "description": "Memory (MiB) an evaluation worker may allocate before the run fails "
                                     f"(default {DEFAULT_MEMORY_MB})."},
        "max_depth": {"type": "integer", "minimum": 1, "maximum": 1000,
                      "description": "Deepest nesting of a value given to a policy (documents, data files, "
                                     f"parameters); deeper is refused (default {DEFAULT_MAX_DEPTH})."},
    },
}


@dataclass(slots=True)
class Settings:
    """Resolved settings for one run."""

    dirs: list[Path] = field(default_factory=list)
    explicit: bool = False
    namespaces: list[str] = field(default_factory=lambda: list(DEFAULT_NAMESPACES))
    all_namespaces: bool = False
    data_files: list[Path] = field(default_factory=list)
    combine: bool = False
    rego_version: str = "auto"
    opa_url: str | None = None
    opa_timeout: float = 5.0
    opa_retries: int = 2
    limits: Limits = field(default_factory=Limits)
    notes: list[str] = field(default_factory=list)  # why discovered directories were not used


def resolve(ctx: Context) -> Settings:
    """Build the settings; a configured directory or data file that does not exist is a load error."""
    section = ctx.check_config("policy")
    opts = ctx.options
    base = ctx.config.base_dir if ctx.config is not None and ctx.config.base_dir else ctx.root
    cli_dirs = [Path(p) for p in opts.get("policy", [])]
    cfg_dirs = [_under(base, p) for p in section.get("paths", [])]
    s = Settings()
    if cli_dirs or cfg_dirs:
        s.dirs = list(dict.fromkeys(p.absolute() for p in (cli_dirs or cfg_dirs)))
        s.explicit = True
        for d in s.dirs:
            if not d.is_dir():
                raise CheckLoadError(f"policy directory {d} does not exist")
    else:
        s.dirs, s.notes = discover([base, ctx.root])
    namespaces = list(opts.get("namespace", [])) or list(section.get("namespaces", []))
    if namespaces:
        s.namespaces = namespaces
    s.all_namespaces = bool(opts.get("all_namespaces") or section.get("all_namespaces", False))
    s.data_files = [Path(p).absolute() for p in opts.get("data", [])] or \
        [_under(base, p) for p in section.get("data", [])]
    for f in s.data_files:
        if not f.is_file():
            raise CheckLoadError(f"policy data file {f} does not exist")
    s.combine = bool(opts.get("combine") or section.get("combine", False))
    s.rego_version = str(opts.get("rego_version") or section.get("rego_version", "auto"))
    s.opa_url = opts.get("opa_url") or section.get("opa_url")
    s.opa_timeout = float(section.get("opa_timeout", 5.0))
    s.opa_retries = int(section.get("opa_retries", 2))
    s.limits = limits(opts, section)
    return s


def limits(opts: dict[str, Any], section: dict[str, Any]) -> Limits:
    """Evaluation limits: command-line options over ``checks.policy`` over defaults."""
    def pick(option: str, key: str, default: Any) -> Any:
        value = opts.get(option)
        return value if value is not None else section.get(key, default)

    return Limits(timeout=float(pick("policy_timeout", "timeout", DEFAULT_TIMEOUT)),
                  memory_mb=int(pick("policy_memory", "memory_mb", DEFAULT_MEMORY_MB)),
                  max_depth=int(pick("policy_max_depth", "max_depth", DEFAULT_MAX_DEPTH)),
                  jobs=int(pick("jobs", "jobs", 0)))


KYVERNO_ONLY = "the policy directory holds Kyverno policies only (the kyverno check evaluates them)"


def discover(starts: list[Path]) -> tuple[list[Path], list[str]]:
    """The policy directory found by convention (``policy/`` or ``policies/`` in the first start
    that has one), and notes on conventional directories that were passed over because they hold
    no policy this check evaluates: Kyverno policies only (the kyverno check reads them), or
    nothing the gate evaluates at all (no ``*.rego``, no ConstraintTemplate). Such a folder is
    common, and a convention must not fail a run that named no policy directory. A directory
    named with ``--policy`` or in the config is never passed over (it fails closed)."""
    notes: list[str] = []
    for start in dict.fromkeys(starts):
        for name in DEFAULT_DIRS:
            candidate = start / name
            if not candidate.is_dir():
                continue
            kind = policy_kind(candidate)
            if kind == "rego":
                return [candidate.absolute()], notes
            notes.append(KYVERNO_ONLY if kind == "kyverno" else
                         f"{name}/ holds no Rego module and no ConstraintTemplate, so it is not used as a policy "
                         "directory")
    return [], notes


def policy_kind(directory: Path) -> str | None:
    """``rego`` when the directory (recursively) holds a ``*.rego`` file or a YAML/JSON file that
    declares a ConstraintTemplate, ``kyverno`` when it holds Kyverno policies only, else None."""
    from gatekeeper.checks.kyverno.load import is_kyverno_document
    from gatekeeper.checks.policy.files import walk

    kyverno = False
    for path in walk(directory):
        if path.name.endswith(".rego"):
            return "rego"
        if path.suffix not in (".yaml", ".yml", ".json"):
            continue
        try:
            data = path.read_bytes()[:1_000_000]
        except OSError:
            continue
        if b"ConstraintTemplate" in data:
            return "rego"
        if not kyverno and b"kyverno.io" in data:
            try:
                kyverno = any(is_kyverno_document(d) for d in yaml.safe_load_all(data))
            except (yaml.YAMLError, RecursionError):
                continue
    return "kyverno" if kyverno else None


def _under(base: Path, value: str) -> Path:
    path = Path(value)
    return (path if path.is_absolute() else base / path).absolute()
