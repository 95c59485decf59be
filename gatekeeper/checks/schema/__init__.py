"""The schema check: every resource against its Kubernetes or CRD JSON schema.

Every error of a document is reported (not just the first), each at the line of the field
it concerns: an unknown field at its key, a wrong type at its value's key, a missing
required field at its parent. Messages never echo values, so a mistyped secret cannot leak.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from gatekeeper.catalogue import REPOSITORY_PATH
from gatekeeper.checks.base import Check, CheckLoadError, Context
from gatekeeper.checks.policy.redact import Redactor, for_run
from gatekeeper.checks.schema import crd, deprecations, validations
from gatekeeper.checks.schema.bundled import (
    BundledSchemas,
    VersionError,
    bundled,
    compile_schema,
    resolve_version,
)
from gatekeeper.checks.schema.celrules import RuleTree
from gatekeeper.checks.schema.messages import describe
from gatekeeper.model import Finding, Resource, Rule, Severity

_E, _W = Severity.ERROR, Severity.WARNING

_CEL_CRD = (
    "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: scalers.example.com\n"
    "spec:\n  group: example.com\n  names: {kind: Scaler, plural: scalers}\n  scope: Namespaced\n  versions:\n"
    "    - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema:\n"
    "          type: object\n          properties:\n            spec:\n              type: object\n"
    "              properties:\n                minReplicas: {type: integer}\n"
    "                maxReplicas: {type: integer}\n              x-kubernetes-validations:\n"
    "                - rule: self.minReplicas <= self.maxReplicas\n"
    "                  message: minReplicas must not exceed maxReplicas\n")

RULES = {
    r.id: r
    for r in (
        Rule("schema-unknown-field", "schema", _E, "A field that the kind's schema does not define.",
             "The API server's strict field validation rejects unknown fields (kubectl's default), or "
             "silently drops them: a misspelt field is a setting that never takes effect.",
             "Fix the field name's spelling or indentation, or remove it.",
             bad_example="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  label: {}\n",
             good_example="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  labels: {}\n"),
        Rule("schema-type", "schema", _E, "A field holds a value of the wrong type.",
             "The API server rejects the object; quoting numbers is the usual cause.",
             "Write the value with the type the schema expects (e.g. replicas: 3, not \"3\").",
             bad_example="apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n"
                         "  replicas: \"3\"\n  selector: {matchLabels: {app: a}}\n  template:\n"
                         "    metadata: {labels: {app: a}}\n    spec:\n      containers: [{name: a, image: a:1}]\n",
             good_example="apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n"
                          "  replicas: 3\n  selector: {matchLabels: {app: a}}\n  template:\n"
                          "    metadata: {labels: {app: a}}\n    spec:\n      containers: [{name: a, image: a:1}]\n"),
        Rule("schema-required", "schema", _E, "A required field is missing.",
             "The API server rejects the object.", "Add the missing field.",
             bad_example="apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n"
                         "    - name: http\n",
             good_example="apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n"
                          "    - name: http\n      port: 80\n"),
        Rule("schema-value", "schema", _E, "A value outside what the schema allows (enum, range, pattern).",
             "The API server rejects the object.", "Use a value the schema allows (see the message)."),
        Rule("schema-cel", "schema", _E, "A CRD's x-kubernetes-validations rule (CEL) fails for the object.",
             "The API server evaluates a CRD's validation rules on every create and rejects the object when "
             "one fails, fails to evaluate or exceeds its cost budget. Transition rules (reading oldSelf) "
             "compare with the stored object and do not run on create, so they are skipped unless "
             "optionalOldSelf is set. A rule the gate cannot evaluate offline is reported as info.",
             "Change the object so the rule holds (the message says what the CRD requires).",
             bad_example=_CEL_CRD + "---\napiVersion: example.com/v1\nkind: Scaler\nmetadata:\n  name: web\n"
                         "spec:\n  minReplicas: 5\n  maxReplicas: 2\n",
             good_example=_CEL_CRD + "---\napiVersion: example.com/v1\nkind: Scaler\nmetadata:\n  name: web\n"
                          "spec:\n  minReplicas: 2\n  maxReplicas: 5\n"),
        Rule("schema-missing", "schema", _W, "No schema is known for the resource's apiVersion and kind.",
             "An object nobody can validate may be misspelt or target an API the cluster lacks.",
             "Add the CRD to the repository, or its JSON schema to a schema dir "
             "({group}/{kind}_{version}.json), or set checks.schema.missing_schema."),
        Rule("removed-api", "schema", _E, "The apiVersion was removed in the target Kubernetes version (for "
             "Flux, cert-manager and Istio resources: in a released version of that project).",
             "The API server no longer serves it: the object cannot be applied. The table covers every "
             "Kubernetes removal since 1.8 and the main GitOps CRDs; a removed field of a tool's configuration "
             "(Argo CD's argocd-cm repositories) is reported the same way.",
             "Migrate to the replacement apiVersion named in the message.",
             bad_example="apiVersion: batch/v1beta1\nkind: CronJob\nmetadata:\n  name: nightly\n",
             good_example="apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\n"),
        Rule("deprecated-api", "schema", _W, "The apiVersion is deprecated in the target Kubernetes version (or "
             "by the project that serves the custom resource).",
             "It will be removed in a later release; migrating now avoids a broken upgrade.",
             "Migrate to the replacement apiVersion named in the message."),
    )
}

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "enabled": {"type": "boolean", "description": "Run this check (default true)."},
        "strict": {"type": "boolean", "description": "Report fields the schema does not define (default true)."},
        "missing_schema": {"enum": ["error", "warning", "info", "ignore"],
                           "description": "Severity for resources with no known schema (default warning)."},
        "schema_dirs": {"type": "array", "items": {"type": "string"}, REPOSITORY_PATH: True,
                        "description": "Directories of JSON schemas in {group}/{kind}_{version}.json layout."},
        "skip_kinds": {"type": "array", "items": {"type": "string"},
                       "description": "Kinds (or apiVersion/kind) never schema-checked."},
    },
}

_SOPS_KEY = "sops"
SHIPPED_CRDS = Path(__file__).resolve().parent.parent.parent / "schemas" / "crds"


def _open_objects(node: Any) -> Any:
    """A shipped (closed) schema with unknown fields allowed, for --no-strict."""
    if isinstance(node, dict):
        return {k: _open_objects(v) for k, v in node.items() if not (k == "additionalProperties" and v is False)}
    if isinstance(node, list):
        return [_open_objects(v) for v in node]
    return node


class SchemaCheck(Check):
    """Validate resources against Kubernetes and CRD schemas."""

    name = "schema"
    summary = "JSON schema validation against Kubernetes and CRD schemas; removed and deprecated APIs."
    config_schema = CONFIG_SCHEMA

    def __init__(self) -> None:
        self.bundled: BundledSchemas | None = None
        self.custom: dict[tuple[str, str], Any] = {}
        self.schema_dirs: list[Path] = []
        self.missing: str = "warning"
        self.skip: set[str] = set()
        self.strict = True
        self.target = ""
        self.validations = validations.Validations()
        self._redactor: Redactor | None = None

    def rules(self) -> Sequence[Rule]:
        return list(RULES.values())

    def prepare(self, ctx: Context) -> None:
        section = ctx.check_config(self.name)
        self.strict = bool(ctx.options.get("strict", section.get("strict", True)))
        self.missing = str(section.get("missing_schema", "warning"))
        self.skip = set(section.get("skip_kinds", []))
        try:
            self.target = resolve_version(ctx.kubernetes_version)
        except VersionError as exc:
            raise CheckLoadError(str(exc)) from None
        self.bundled = bundled(self.target, self.strict)
        base = ctx.config.base_dir if ctx.config is not None and ctx.config.base_dir else ctx.root
        dirs = [*section.get("schema_dirs", []), *ctx.options.get("schema_dirs", [])]
        self.schema_dirs = [(base / d) if not Path(d).is_absolute() else Path(d) for d in dirs]
        for directory in self.schema_dirs:
            if not directory.is_dir():
                raise CheckLoadError(f"schema dir {directory} does not exist")
            _confined(directory)
        for definition in crd.crds_in(ctx.whole):
            self.validations.add_crd(definition)
            try:
                for api_version, kind, schema in crd.crd_schemas(definition.obj, self.strict):
                    self.custom[(api_version, kind)] = compile_schema(schema)
            except Exception as exc:  # a broken CRD schema is the CRD's finding, not a crash
                self.custom.setdefault(("__broken__", definition.path), exc)

    def digest(self, ctx: Context) -> str:
        """Target version, strictness and the content of every schema dir file."""
        h = hashlib.sha256(f"kubernetes={self.target};strict={self.strict};missing={self.missing}".encode())
        for directory in [*self.schema_dirs, SHIPPED_CRDS]:
            for path in sorted(directory.rglob("*.json")):
                h.update(path.relative_to(directory).as_posix().encode() + b"\0" + path.read_bytes())
        return h.hexdigest()

    def _validator(self, resource: Resource) -> Any:
        key = (resource.api_version, resource.kind)
        if key in self.custom:
            return self.custom[key]
        assert self.bundled is not None
        found = self.bundled.validator(*key)
        if found is None:
            for directory in self.schema_dirs:
                schema = crd.load_schema_dir(directory, *key)
                if schema is not None:
                    found = compile_schema(schema)
                    self.validations.add_schema(*key, schema, f"schema dir {directory}")
                    break
        if found is None:  # last: the Argo CD / Flux CRD schemas shipped with the package
            shipped = crd.load_schema_dir(SHIPPED_CRDS, *key)
            if shipped is not None:
                found = compile_schema(shipped if self.strict else _open_objects(shipped))
        self.custom[key] = found
        return found

    def check_resource(self, resource: Resource, ctx: Context) -> Iterable[Finding]:
        if resource.kind in self.skip or f"{resource.api_version}/{resource.kind}" in self.skip:
            return []
        findings: list[Finding] = []
        for entry in deprecations.field_entries(resource.api_version, resource.kind, resource.name):
            field_status = entry.status(self.target)
            if field_status is not None and _has(resource.obj, entry.field):
                findings.append(self._lifecycle_finding(resource, entry, field_status))
        lifecycle = deprecations.lookup(resource.api_version, resource.kind)
        status = lifecycle.status(self.target) if lifecycle is not None else None
        if lifecycle is not None and status is not None:
            findings.append(self._lifecycle_finding(resource, lifecycle, status))
            if status == "removed" and lifecycle.project == deprecations.KUBERNETES:
                return findings  # no schema for it; a project's removed CRD version still has its shipped one
        validator = self._validator(resource)
        if validator is None:
            if self.missing != "ignore":
                findings.append(self.finding(
                    RULES["schema-missing"], resource,
                    f"no schema for {resource.api_version} {resource.kind} "
                    f"(Kubernetes {self.target}, no CRD or schema dir provides it)",
                    ("apiVersion",), severity=Severity.parse(self.missing)))
            return findings
        obj = resource.obj
        if _SOPS_KEY in obj and isinstance(obj[_SOPS_KEY], dict) and "mac" in obj[_SOPS_KEY]:
            obj = {k: v for k, v in obj.items() if k != _SOPS_KEY}  # SOPS metadata is not applied
        valid = validator.is_valid(obj)
        if not valid:
            for error in validator.iter_errors(obj):
                for rule_id, message, path in describe(error):
                    findings.append(self.finding(RULES[rule_id], resource, message, tuple(path),
                                                 evidence=message))
        if resource.kind == "CustomResourceDefinition":
            findings.extend(self.finding(RULES["schema-cel"], resource, f"x-kubernetes-validations rule: {why}",
                                         (*path, "rule"), evidence=why)
                            for path, why in self.validations.limits_of(resource))
        tree = self.validations.tree(resource)
        if tree is not None:
            if self._redactor is None:  # rules see detected secret values redacted, as every policy does
                self._redactor = for_run(ctx)  # the run's scan, shared with the other checks
            findings.extend(self._cel_findings(resource, tree, valid, self._redactor(resource.obj)))
        return findings

    def _cel_findings(self, resource: Resource, tree: RuleTree, valid: bool,
                      seen: dict[str, Any] | None = None) -> list[Finding]:
        """Findings for a custom resource's failed CRD validation rules (evaluation errors only where the
        object is otherwise valid: on an invalid one they repeat the schema findings)."""
        out = []
        for failure in validations.evaluate(tree, resource, seen):
            if failure.kind == "error" and not valid:
                continue
            if failure.kind == "duplicate":
                out.append(self.finding(RULES["schema-value"], resource, failure.message, failure.path,
                                        evidence=failure.message))
                continue
            severity = Severity.INFO if failure.kind == "unsupported" else None
            out.append(self.finding(RULES["schema-cel"], resource, failure.message, failure.path,
                                    severity=severity, evidence=failure.rule.rule if failure.rule else ""))
        return out

    def _lifecycle_finding(self, resource: Resource, entry: deprecations.Deprecation, status: str) -> Finding:
        replacement = f"; use {entry.replacement}" if entry.replacement else ""
        note = f" ({entry.note})" if entry.note else ""
        what = f"{resource.api_version} {resource.kind}"
        if entry.field:
            what = f"{what} {entry.name} field {'.'.join(entry.field)}"
        target = f" (target {self.target})" if entry.project == deprecations.KUBERNETES else ""
        if status == "removed":
            message = f"{what} was removed in {entry.project} {entry.removed}{target}{replacement}{note}"
            rule = RULES["removed-api"]
        else:
            later = f", removal planned in {entry.removed}" if entry.removed and entry.project == \
                deprecations.KUBERNETES else ""
            since = f" since {entry.project} {entry.deprecated}" if entry.deprecated else f" in {entry.project}"
            message = f"{what} is deprecated{since}{later}{replacement}{note}"
            rule = RULES["deprecated-api"]
        if entry.field:
            hint = f"move it to {entry.replacement}" if entry.replacement else rule.hint
        else:
            hint = f"change apiVersion to {entry.replacement}" if entry.replacement else rule.hint
        return self.finding(rule, resource, message, entry.field or ("apiVersion",), hint=hint)


def _confined(directory: Path) -> None:
    """A schema dir is often part of the change under review: a file or directory in it that is a
    symbolic link out of it would feed any file of the machine to the validator (as for policy dirs)."""
    top = directory.resolve()
    for path in directory.rglob("*"):
        if path.is_symlink() and not path.resolve().is_relative_to(top):
            raise CheckLoadError(f"{path} is a symbolic link out of the schema dir {directory}; it was not read")


def _has(obj: Any, path: tuple[str, ...]) -> bool:
    """Whether a nested mapping holds a value at ``path``."""
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return False
        obj = obj[part]
    return True
