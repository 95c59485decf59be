"""The policy check: organisation rules in Rego, in the conftest and Gatekeeper dialects.

Policies are read from policy directories (``--policy``, ``checks.policy.paths``, or a
``policy/``/``policies/`` directory), compiled once, and evaluated in-process for every
document (conftest) and every matching resource (Gatekeeper). Without any policy directory
the check is inactive and says so; a directory that loads no rules is an error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from gatekeeper.checks.base import Check, CheckLoadError, Context
from gatekeeper.checks.policy import conftest as conftest_mod
from gatekeeper.checks.policy import gkdialect
from gatekeeper.checks.policy.files import PolicyFiles, display, inside, read
from gatekeeper.checks.policy.inventory import build as build_inventory
from gatekeeper.checks.policy.inventory import cluster_scoped_kinds
from gatekeeper.checks.policy.locate import LOCATION_KEYS, field_of
from gatekeeper.checks.policy.redact import mask, redact, secret_values
from gatekeeper.checks.policy.settings import CONFIG_SCHEMA, Settings, resolve
from gatekeeper.model import Document, Finding, Resource, Rule, Severity, Waiver, fingerprint
from gatekeeper.rego.engine import Engine, PolicyEvalError, RegoEngine, native_output_filtered, native_output_to_stderr
from gatekeeper.rego.modules import Module, PolicyLoadError, load_module

RULES = [
    Rule("policy/<package>/<rule>", "policy", Severity.ERROR,
         "A conftest-style Rego rule (deny, violation, warn, deny_<name>...) reported a message.",
         "Your organisation's own rules, reviewed in Git; deny and violation are errors, warn warnings.",
         "Follow the policy's message, or add an exception rule / waiver with a reason."),
    Rule("policy/<ConstraintKind>/<constraint>", "policy", Severity.ERROR,
         "A Gatekeeper constraint's template reported a violation for a matching resource.",
         "The same templates the cluster's admission controller enforces, checked before merge; "
         "enforcementAction deny is an error, warn a warning, dryrun info.",
         "Follow the violation message, or narrow the constraint's spec.match."),
    Rule("policy-unsupported", "policy", Severity.INFO,
         "A ConstraintTemplate whose only code is CEL (K8sNativeValidation) is not evaluated yet.",
         "Saying so keeps an unevaluated template from looking like a pass.",
         "Add Rego code to the template, or rely on the cluster for it."),
]


class PolicyCheck(Check):
    """Evaluate Rego policies (conftest and Gatekeeper dialects) against the scanned tree."""

    name = "policy"
    summary = "OPA Rego policies: conftest-style rules and Gatekeeper ConstraintTemplates, in-process."
    config_schema = CONFIG_SCHEMA

    def __init__(self) -> None:
        self.settings = Settings()
        self.inactive: str | None = None
        self.files = PolicyFiles()
        self.conftest: conftest_mod.ConftestPolicies | None = None
        self.gatekeeper: gkdialect.GatekeeperPolicies | None = None
        self.cluster_kinds: set[str] = set()
        self.namespaces: dict[str, dict[str, Any]] = {}
        self._digest = ""

    def rules(self) -> Sequence[Rule]:
        return RULES

    def active(self, ctx: Context) -> str | None:
        return self.inactive

    def digest(self, ctx: Context) -> str:
        return self._digest

    def prepare(self, ctx: Context) -> None:
        self.settings = s = resolve(ctx)
        if not s.dirs and not s.opa_url:
            self.inactive = "no policy directory: pass --policy DIR or create policy/ or policies/"
            return
        self.files = read(s.dirs)
        engine = RegoEngine()
        self._digest = self._compute_digest()
        modules = [self._load(path, text) for path, text in self.files.rego]
        data = load_data(s.data_files)
        with native_output_to_stderr():
            self._prepare_conftest(modules, data, engine)
            objects = [redact(r.obj) for r in self._subjects(ctx)]
            self.cluster_kinds = cluster_scoped_kinds(objects)
            self.namespaces = {str((o.get("metadata") or {}).get("name")): o for o in objects
                               if o.get("kind") == "Namespace" and o.get("apiVersion") == "v1"}
            try:
                self.gatekeeper = gkdialect.load(self.files.documents, s.rego_version, engine,
                                                 build_inventory(objects, self.cluster_kinds))
            except PolicyLoadError as exc:
                raise CheckLoadError(str(exc)) from None
        total = (self.conftest.rule_count if self.conftest else 0) + self.gatekeeper.rule_count
        if total == 0 and not s.opa_url and _kyverno_only(self.files):
            self.inactive = "the policy directory holds Kyverno policies only (the kyverno check evaluates them)"
            return
        if total == 0:
            where = ", ".join(display(d) for d in s.dirs) or s.opa_url or ""
            raise CheckLoadError(f"policy directory {where} loads no rules (no deny/violation/warn rule in "
                                 "the selected namespaces and no ConstraintTemplate)")

    def _load(self, path: str, text: str) -> Module:
        try:
            return load_module(path, text, self.settings.rego_version)
        except PolicyLoadError as exc:
            raise CheckLoadError(str(exc)) from None

    def _prepare_conftest(self, modules: list[Module], data: dict[str, Any], engine: RegoEngine) -> None:
        s = self.settings
        if s.opa_url:
            from gatekeeper.rego.remote import RemoteEngine

            if s.all_namespaces or any(c in ns for ns in s.namespaces for c in "*?["):
                raise CheckLoadError("with --opa-url, name the packages with --namespace (no globs or "
                                     "--all-namespaces: the server's packages are not listed)")
            try:
                remote: Engine = RemoteEngine(s.opa_url, s.opa_timeout, s.opa_retries)
                packages = {ns: {"deny"} for ns in s.namespaces}
                self.conftest = conftest_mod.ConftestPolicies(remote, [], packages, {}, remote=True)
            except PolicyLoadError as exc:
                raise CheckLoadError(str(exc)) from None
            return
        if not modules:
            return
        packages = conftest_mod.select_packages(modules, s.namespaces, s.all_namespaces,
                                                explicit=bool(ctx_namespaces_given(s)))
        if not packages:
            return
        try:
            self.conftest = conftest_mod.ConftestPolicies(engine, modules, packages, data, remote=False)
        except PolicyLoadError as exc:
            raise CheckLoadError(str(exc)) from None

    def _compute_digest(self) -> str:
        h = hashlib.sha256()
        for path, text in sorted(self.files.rego):
            h.update(f"{path}\n{text}\n".encode())
        for doc in self.files.documents:
            h.update(f"{doc.path}#{doc.index}\n".encode())
            h.update(json.dumps(doc.obj, sort_keys=True, default=str).encode())
        s = self.settings
        h.update(f"{s.namespaces}|{s.all_namespaces}|{s.combine}|{s.rego_version}|{s.opa_url}".encode())
        return h.hexdigest()[:16]

    def _subjects(self, ctx: Context) -> list[Resource]:
        """Resources of the scanned tree that are not themselves policy files."""
        return [r for r in ctx.resources if not self._is_policy_file(ctx, r.path)]

    def _is_policy_file(self, ctx: Context, path: str) -> bool:
        return bool(self.files.roots) and inside(ctx.root / path, self.files.roots)

    def _limit(self, ctx: Context) -> set[str] | None:
        """The files whose objects every rule evaluates, or None for all files.

        In a git mode only the changed files' findings are kept, plus findings in unchanged files
        that the change caused; a per-object rule's result for an unchanged object cannot change
        (both the head and the base pass read the same policies), so it is not evaluated.
        Combined input and inventory-reading templates see the whole tree in any case.
        """
        if ctx.hook_paths is None or self.settings.combine:
            return None
        return ctx.hook_paths

    def check_all(self, ctx: Context) -> Iterable[Finding]:
        findings: list[Finding] = []
        limit = self._limit(ctx)
        with native_output_filtered() as native:
            if self.conftest is not None:
                findings.extend(self._conftest_findings(ctx, limit))
            if self.gatekeeper is not None:
                findings.extend(self._gatekeeper_findings(ctx, limit))
        if native.failed:
            raise CheckLoadError("a Rego builtin failed inside rego-cpp during evaluation (its rule came back "
                                 "undefined), so the policy results are incomplete; evaluate these policies "
                                 "on an OPA server (--opa-url) or avoid the builtin")
        return findings

    def _conftest_findings(self, ctx: Context, limit: set[str] | None) -> list[Finding]:
        assert self.conftest is not None
        docs = [d for d in ctx.documents if d.obj is not None and not d.consumed  # rendered objects instead
                and (limit is None or d.path in limit or (d.inputs and not d.inputs.isdisjoint(limit)))
                and not self._is_policy_file(ctx, d.path) and ctx.allows(self.name, d.path)]
        out: list[Finding] = []
        if self.settings.combine:
            if not docs:
                return out
            combined = [{"path": d.path, "document": d.index, "contents": redact(d.obj)} for d in docs]
            results = self._evaluate(combined, None, "combined input")
            values = sorted({v for d in docs for v in secret_values(d.obj)}, key=len, reverse=True) if results else []
            for result in results:
                target = _combined_target(result, docs)
                out.append(self._conftest_finding(result, target, values))
            return out
        for doc in docs:
            pure = PurePosixPath(doc.path)
            info = {"name": doc.path, "dir": str(pure.parent)}
            results = self._evaluate(redact(doc.obj), info, doc.path)
            values = secret_values(doc.obj) if results else []
            for result in results:
                out.append(self._conftest_finding(result, doc, values))
        return out

    def _evaluate(self, input_value: Any, info: dict[str, str] | None, where: str
                  ) -> list[conftest_mod.Result]:
        assert self.conftest is not None
        try:
            return self.conftest.evaluate(input_value, info)
        except PolicyEvalError as exc:
            raise CheckLoadError(f"{where}: {exc}") from None

    def _conftest_finding(self, result: conftest_mod.Result, doc: Document, values: list[str]) -> Finding:
        path = field_of(result.metadata)
        message = mask(result.message, values)  # a message echoing its input must not print a secret
        hint = mask(_extra("metadata", result.metadata).lstrip("; "), values)
        resource = doc.resources[0] if len(doc.resources) == 1 and not doc.resources[0].base else None
        if resource is not None:
            finding = self.finding(result.rule_id, resource, message, path, severity=result.severity,
                                   hint=hint, evidence=message)
        else:
            finding = self.document_finding(result.rule_id, doc, message, path, severity=result.severity,
                                            hint=hint, evidence=message)
        if result.excepted:
            from dataclasses import replace

            finding = replace(finding, waived=Waiver(f"exception rule in package {result.package}",
                                                     f"data.{result.package}.exception"))
        return finding

    def _gatekeeper_findings(self, ctx: Context, limit: set[str] | None) -> list[Finding]:
        gk = self.gatekeeper
        assert gk is not None
        out: list[Finding] = [self._unsupported(t) for t in gk.unsupported()]
        if not any(c.severity is not None for c in gk.constraints):
            return out
        # outside ``limit`` only constraints whose template reads the inventory can change
        referential = [c for c in gk.constraints if c.template.uses_inventory]
        for resource in self._subjects(ctx):
            only = None if limit is None or resource.path in limit else referential
            if only is not None and not only:
                continue
            subj = gkdialect.subject(redact(resource.obj), self.cluster_kinds)
            try:
                results = gk.evaluate(subj, self.namespaces, only)
            except PolicyEvalError as exc:
                raise CheckLoadError(f"{resource.path}: {resource.ref.key}: {exc}") from None
            values = secret_values(resource.obj) if any(v for _, v in results) else []
            for constraint, violations in results:
                assert constraint.severity is not None
                for v in violations:
                    details: dict[str, Any] = v["details"] if isinstance(v.get("details"), dict) else {}
                    msg = mask(v["msg"], values)  # a message echoing the object must not print a secret
                    out.append(self.finding(
                        constraint.rule_id, resource, f"{msg} [{constraint.kind}/{constraint.name}]",
                        field_of(v, details), severity=constraint.severity,
                        hint=mask(f"constraint {constraint.kind}/{constraint.name} ({constraint.doc.path}), "
                                  f"template {constraint.template.name}{_extra('details', details)}", values),
                        evidence=msg))
        return out

    def _unsupported(self, template: Any) -> Finding:
        doc: Document = template.doc
        message = (f"ConstraintTemplate {template.name} has only CEL code (K8sNativeValidation), which this "
                   "gate does not evaluate yet; its constraints were not checked")
        return Finding(check=self.name, rule="policy-unsupported", severity=Severity.INFO, message=message,
                       path=doc.path, line=doc.line,
                       fingerprint=fingerprint("policy-unsupported", None, doc.path, "", template.name))


def _kyverno_only(files: PolicyFiles) -> bool:
    """True when the directories hold Kyverno policies and no Rego at all."""
    from gatekeeper.checks.kyverno.load import is_kyverno_document

    return not files.rego and any(is_kyverno_document(d.obj) for d in files.documents)


def _extra(label: str, values: dict[str, Any]) -> str:
    """``; details: {...}`` for a result's extra keys (location keys left out), at most 300 characters."""
    rest = {k: v for k, v in values.items() if k not in LOCATION_KEYS}
    if not rest:
        return ""
    text = json.dumps(rest, sort_keys=True, default=str)
    return f"; {label}: {text if len(text) <= 300 else text[:297] + '...'}"


def ctx_namespaces_given(s: Settings) -> bool:
    """Namespaces other than the default count as explicitly chosen."""
    return list(s.namespaces) != ["main"]


def _combined_target(result: conftest_mod.Result, docs: list[Document]) -> Document:
    """The document a combined-mode result names with ``file``/``filename`` (and ``document``, the
    index within the file) metadata, else the first document of the run."""
    index = result.metadata.get("document", 0)
    for key in ("file", "filename"):
        name = result.metadata.get(key)
        if isinstance(name, str):
            in_file = [doc for doc in docs if doc.path == name]
            for doc in in_file:
                if doc.index == index:
                    return doc
            if in_file:
                return in_file[0]
    return docs[0]


def load_data(paths: list[Path]) -> dict[str, Any]:
    """Merge ``--data`` YAML/JSON files into one document (later files win on conflicts)."""
    merged: dict[str, Any] = {}
    for path in paths:
        try:
            value = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise CheckLoadError(f"cannot read policy data file {display(path)}: {exc.__class__.__name__}") from None
        if value is None:
            continue
        if not isinstance(value, dict):
            raise CheckLoadError(f"policy data file {display(path)} must hold a mapping")
        _merge(merged, value)
    return merged


def _merge(into: dict[str, Any], value: dict[str, Any]) -> None:
    for key, item in value.items():
        if isinstance(item, dict) and isinstance(into.get(key), dict):
            _merge(into[key], item)
        else:
            into[key] = item
