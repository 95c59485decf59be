"""The policy check: organisation rules in Rego, in the conftest and Gatekeeper dialects.

Policies are read from policy directories (``--policy``, ``checks.policy.paths``, or a
``policy/``/``policies/`` directory that holds policies), compiled once, and evaluated for every
document (conftest) and every matching resource (Gatekeeper) in worker processes behind a hard
boundary (time, memory and crash limits; ``rego/boundary.py``). Without any policy directory the
check is inactive and says so; a directory that loads no rules is an error. Every value the
secrets check detects anywhere in the run is replaced before a policy sees it (``redact``), and
masked again in whatever policies print (``masking``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gatekeeper.checks.base import Check, CheckLoadError, Context
from gatekeeper.checks.policy import conftest as conftest_mod
from gatekeeper.checks.policy import gkdialect
from gatekeeper.checks.policy.files import PolicyFiles, display, inside, read
from gatekeeper.checks.policy.inventory import build as build_inventory
from gatekeeper.checks.policy.inventory import by_unit, cluster_scoped_kinds
from gatekeeper.checks.policy.locate import LOCATION_KEYS, field_of
from gatekeeper.checks.policy.masking import Masker
from gatekeeper.checks.policy.redact import Redactor, for_run, redact
from gatekeeper.checks.policy.settings import CONFIG_SCHEMA, Settings, resolve
from gatekeeper.checks.policy.templates import rego_items
from gatekeeper.checks.policy.values import invalid_value, load_data, may_hold_invalid
from gatekeeper.model import Document, FieldPath, Finding, Resource, Rule, Severity, Waiver, fingerprint
from gatekeeper.rego import boundary
from gatekeeper.rego.engine import Engine, PolicyEvalError, RegorusEngine
from gatekeeper.rego.modules import Module, PolicyLoadError, load_modules, preload
from gatekeeper.rego.remote import safe_url
from gatekeeper.sources.yamlload import MAX_DEPTH as LOADER_DEPTH

__all__ = ["PolicyCheck", "load_data"]

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
         "A ConstraintTemplate with no code the gate evaluates (neither Rego nor K8sNativeValidation CEL).",
         "Saying so keeps an unevaluated template from looking like a pass.",
         "Add Rego or CEL code to the template, or rely on the cluster for it."),
    Rule("policy-input", "policy", Severity.ERROR,
         "An object holds a value no policy can be given exactly (an integer beyond 64 bits, or nesting "
         "deeper than the policy depth limit), so policies were not evaluated on it.",
         "Rego numbers are 64-bit integers or floats: a larger integer would be compared with lost precision, "
         "and a policy could pass an object it never really saw.",
         "Write the value as a string, or within 64 bits.",
         bad_example="spec:\n  replicas: 123456789012345678901234",
         good_example="spec:\n  replicas: 3"),
]


@dataclass(frozen=True, slots=True)
class _Task:
    """One unit of evaluation work: a document (conftest), a resource (Gatekeeper) or all (combined)."""

    dialect: str  # "conftest", "gatekeeper" or "combined"
    item: int  # index into the check's document or resource list
    only: tuple[int, ...] = ()  # Gatekeeper: the constraints that select the resource


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
        self._docs: list[Document] = []
        self._resources: list[Resource] = []
        self._masker = Masker()
        self._redactor: Redactor | None = None
        self._ctx: Context | None = None
        self._policy_dirs: dict[str, bool] = {}
        self._real_dirs: dict[str, Path] = {}

    def rules(self) -> Sequence[Rule]:
        return RULES

    def active(self, ctx: Context) -> str | None:
        return self.inactive

    def digest(self, ctx: Context) -> str:
        return self._digest

    def prepare(self, ctx: Context) -> None:
        self.settings = s = resolve(ctx)
        if not s.dirs and not s.opa_url:
            self.inactive = "; ".join(s.notes) or \
                "no policy directory: pass --policy DIR or create policy/ or policies/"
            return
        self.files = read(s.dirs)
        engine = RegorusEngine()
        self._digest = self._compute_digest()
        # the conftest modules and the templates' Rego are read in one pass behind the boundary
        preload([(path, text, s.rego_version) for path, text in self.files.rego]
                + rego_items(self.files.documents, s.rego_version), s.limits)
        modules = self._load(self.files.rego)
        data = load_data(s.data_files, s.limits.max_depth)
        self._prepare_conftest(modules, data, engine)
        subjects = [r for r in self._subjects(ctx) if not r.document.partial]  # the inventory: whole objects
        self._redactor, self._ctx = None, ctx
        objects = [redact(r.obj) for r in subjects]
        self.cluster_kinds = cluster_scoped_kinds(objects)
        self.namespaces = {str(_meta(o).get("name")): o for o in objects
                           if o.get("kind") == "Namespace" and o.get("apiVersion") == "v1"}
        try:
            # the inventory holds the kinds the templates read (all when one may read any kind)
            self.gatekeeper = gkdialect.load(
                self.files.documents, s.rego_version, engine,
                lambda kinds: build_inventory([self.redactor(r.obj) for r in _of_kinds(subjects, kinds)],
                                              self.cluster_kinds), s.limits)
            if any(r.unit for r in subjects):  # rendered objects see what their own unit applies
                gkdialect.scope_inventory(self.gatekeeper, engine,
                                          lambda kinds: self._unit_inventories(subjects, kinds))
        except PolicyLoadError as exc:
            raise CheckLoadError(str(exc)) from None
        self._check_programs()
        total = (self.conftest.rule_count if self.conftest else 0) + self.gatekeeper.rule_count
        if total == 0 and not s.opa_url and _kyverno_only(self.files):
            self.inactive = "the policy directory holds Kyverno policies only (the kyverno check evaluates them)"
            return
        if total == 0:
            where = ", ".join(display(d) for d in s.dirs) or (safe_url(s.opa_url) if s.opa_url else "")
            raise CheckLoadError(f"policy directory {where} loads no rules (no deny/violation/warn rule in "
                                 "the selected namespaces and no ConstraintTemplate)")

    def _unit_inventories(self, subjects: list[Resource], kinds: frozenset[str] | None) -> dict[str, Any]:
        """Each deployment unit's inventory of the given kinds (``inventory.by_unit``), in the order
        units first appear; a unit without objects of those kinds has an empty one (its objects
        still see only what their unit applies)."""
        found = by_unit([(r.unit, self.redactor(r.obj)) for r in _of_kinds(subjects, kinds)], self.cluster_kinds)
        units = dict.fromkeys(r.unit for r in subjects if r.unit is not None)
        return {unit: found.get(unit) or build_inventory([], self.cluster_kinds) for unit in units}

    @property
    def redactor(self) -> Redactor:
        """What policies see of an object (``redact.Redactor``): the run's documents are scanned for
        secret values once, when first needed (before any worker starts, so workers inherit it)."""
        if self._redactor is None:
            ctx = self._ctx
            self._redactor = for_run(ctx) if ctx is not None else Redactor()
        return self._redactor

    def _check_programs(self) -> None:
        """Evaluate every compiled policy set once on an empty input, behind the boundary, so a rule
        that no object reaches still fails the load when regorus would refuse it (see
        ``RegorusProgram.check``); in the same worker, compute the rules that read no input once
        (``rego/hoist.py``) and give their values to the programs here, before any worker starts.
        A deployment unit's copy of a template is hoisted later, when the plan shows that objects
        evaluate it more than once (``_hoist_scoped``)."""
        programs: list[tuple[str, Any]] = []
        if self.conftest is not None and not self.conftest.remote:
            programs.append(("conftest policies", self.conftest.program))
        if self.gatekeeper is not None:
            programs.extend((f"template {self.gatekeeper.templates[kind].name}", program)
                            for kind, program in self.gatekeeper.programs.items())
        self._prepare_programs(programs, len(programs))

    def _hoist_scoped(self, tasks: Sequence[_Task]) -> None:
        """Hoist the input-independent rules (``rego/hoist.py``) of each deployment unit's copy of
        a template that the planned tasks evaluate at least twice. Hoisting costs about two
        evaluations and a compile, and saves one computation of those rules per evaluation after
        the first: a unit's program evaluated once is left as written (the same results either way)."""
        gk = self.gatekeeper
        if gk is None or not gk.scoped:
            return
        uses: dict[int, int] = {}
        labels: dict[int, tuple[str, Any]] = {}
        for task in tasks:
            if task.dialect != "gatekeeper":
                continue
            unit = self._resources[task.item].unit
            by_kind = gk.scoped.get(unit or "")
            if not by_kind:
                continue
            for i in task.only:
                constraint = gk.constraints[i]
                program = by_kind.get(constraint.kind)
                if program is None or gk.uses_cel(constraint):
                    continue
                key = id(program)
                uses[key] = uses.get(key, 0) + 1
                if key not in labels:
                    labels[key] = (f"template {constraint.template.name} (deployment unit {unit})", program)
        programs = [labels[key] for key, count in uses.items() if count >= 2]
        if programs:
            self._prepare_programs(programs, 0)

    def _prepare_programs(self, programs: list[tuple[str, Any]], checked: int) -> None:
        """Dry-run the first ``checked`` programs and hoist every one of them (one worker)."""
        def work(i: int, mark: boundary.Mark) -> tuple[str | None, dict[Any, Any]]:
            if i < checked:
                try:
                    programs[i][1].check()
                except PolicyLoadError as exc:
                    return f"{programs[i][0]}: {exc}", {}
            hoisted = getattr(programs[i][1], "hoisted_values", None)
            return None, hoisted() if hoisted is not None else {}

        try:
            outcomes = boundary.run(len(programs), work, lambda i, _: f"{programs[i][0]} (checked on an empty input)",
                                    replace(self.settings.limits, jobs=1))
        except boundary.BoundaryError as exc:
            raise CheckLoadError(str(exc)) from None
        failure = next((f for f, _ in outcomes if f), None)
        if failure:
            raise CheckLoadError(failure)
        for (_, program), (_, values) in zip(programs, outcomes, strict=True):
            if values:
                program.use_hoisted(values)

    def _load(self, files: Sequence[tuple[str, str]]) -> list[Module]:
        """The conftest modules, read behind the evaluation boundary (policy text is untrusted)."""
        version = self.settings.rego_version
        try:
            return load_modules([(path, text, version) for path, text in files], self.settings.limits)
        except PolicyLoadError as exc:
            raise CheckLoadError(str(exc)) from None

    def _prepare_conftest(self, modules: list[Module], data: dict[str, Any], engine: RegorusEngine) -> None:
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
        """True for a scanned file inside a policy directory (decided once per directory)."""
        if not self.files.roots:
            return False
        parent = _parent(path)
        known = self._policy_dirs.get(parent)
        if known is None:
            known = self._policy_dirs[parent] = inside(self._real(ctx.root, parent), self.files.roots, resolved=True)
        return known

    def _real(self, root: Path, parent: str) -> Path:
        """The resolved directory ``root/parent``, resolving each directory once (a path's parents
        are resolved for its siblings too): one ``lstat`` per new directory."""
        real = self._real_dirs.get(parent)
        if real is None:
            if parent in (".", "", "/"):
                real = root.resolve()
            else:
                base = self._real(root, _parent(parent))
                real = base / parent.rpartition("/")[2]
                if real.is_symlink() or parent.rpartition("/")[2] in ("..", "."):
                    real = real.resolve()
            self._real_dirs[parent] = real
        return real

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

    # --- evaluation ------------------------------------------------------------------------------

    def check_all(self, ctx: Context) -> Iterable[Finding]:
        limit = self._limit(ctx)
        tasks = self._plan(ctx, limit)
        self._hoist_scoped(tasks)
        remote = self.conftest is not None and self.conftest.remote
        local = [t for t in tasks if not (remote and t.dialect != "gatekeeper")]
        if local:
            self.redactor  # noqa: B018 (scanned here, in this process, so every worker inherits it)
        try:
            outcomes = boundary.run(len(local), lambda i, mark: self._work(local[i], mark),
                                    lambda i, step: self._describe(local[i], step), self.settings.limits)
        except boundary.BoundaryError as exc:
            raise CheckLoadError(Masker(self.redactor.values).mask(str(exc))) from None
        done = dict(zip(local, outcomes, strict=True))
        for task in tasks:
            if task not in done:  # conftest rules on an OPA server: no local code runs
                done[task] = self._work(task, None)
        # masking (a second layer: policies never saw the values) is prepared only when there is text to show
        shown = any(_shows_text(task, done[task]) for task in tasks)
        self._masker = Masker(self.redactor.values if shown else ())
        findings: list[Finding] = self.unsupported_findings()
        seen: set[str] = set()
        for task in tasks:
            for finding in self._findings(task, done[task]):
                if finding.fingerprint not in seen:
                    seen.add(finding.fingerprint)
                    findings.append(finding)
        return findings

    def _plan(self, ctx: Context, limit: set[str] | None) -> list[_Task]:
        tasks: list[_Task] = []
        if self.conftest is not None:
            self._docs = [d for d in ctx.documents if d.obj is not None and not d.consumed  # rendered instead
                          and (limit is None or d.path in limit or (d.inputs and not d.inputs.isdisjoint(limit)))
                          and not self._is_policy_file(ctx, d.path) and ctx.allows(self.name, d.path)]
            if self.settings.combine:
                tasks.extend([_Task("combined", 0)] if self._docs else [])
            else:
                needs = self.conftest.needs
                tasks.extend(_Task("conftest", i) for i, d in enumerate(self._docs) if needs(d.obj))
        gk = self.gatekeeper
        if gk is not None and any(c.severity is not None for c in gk.constraints):
            self._resources = self._subjects(ctx)
            # outside ``limit`` only constraints whose template reads the inventory can change
            referential = tuple(i for i, c in enumerate(gk.constraints) if c.template.uses_inventory)
            # ... unless only the limited files' findings are reported at all
            if ctx.report_paths is not None:
                referential = ()
            for i, resource in enumerate(self._resources):
                inside_limit = limit is None or resource.path in limit
                if not inside_limit and not referential:
                    continue
                s = gkdialect.subject(redact(resource.obj), self.cluster_kinds)
                chosen = gk.chosen(s, self.namespaces, None if inside_limit else referential)
                if not chosen:  # a resource no constraint selects costs no evaluation
                    continue
                reach = gk.reaching(chosen, s)  # nor one whose every template's input guards fail
                if reach:
                    tasks.append(_Task("gatekeeper", i, tuple(reach)))
                elif may_hold_invalid(s.obj, self.settings.limits.max_depth, LOADER_DEPTH):
                    # evaluated, it would be a policy-input finding (its templates skip it otherwise)
                    tasks.append(_Task("gatekeeper", i, tuple(chosen)))
        return tasks

    def _describe(self, task: _Task, step: int) -> str:
        if task.dialect == "combined":
            return "conftest policies on the combined input"
        if task.dialect == "conftest":
            doc = self._docs[task.item]
            packages = ", ".join(sorted(self.conftest.packages)) if self.conftest else ""
            return f"{doc.path}: conftest policies (package {packages}) on document {doc.index + 1}"
        resource = self._resources[task.item]
        assert self.gatekeeper is not None
        constraint = self.gatekeeper.constraints[step] if step < len(self.gatekeeper.constraints) else None
        what = (f"template {constraint.template.name} (constraint {constraint.kind}/{constraint.name})"
                if constraint is not None else "Gatekeeper templates")
        return f"{resource.path}: {what} on {resource.ref.key}"

    def _work(self, task: _Task, mark: boundary.Mark | None) -> tuple[str, Any, list[str]]:
        """Evaluate one task (in a worker): ("ok", results, prints), ("error", message, prints) or
        ("input", (field path, reason), [])."""
        try:
            if task.dialect == "gatekeeper":
                return self._work_gatekeeper(task, mark)
            return self._work_conftest(task)
        except PolicyEvalError as exc:
            return "error", str(exc), self._prints()
        except CheckLoadError as exc:
            return "error", str(exc), self._prints()

    def _prints(self) -> list[str]:
        out: list[str] = []
        if self.conftest is not None:
            take = getattr(self.conftest.program, "take_prints", None)
            out.extend(take() if take is not None else [])
        if self.gatekeeper is not None:
            out.extend(self.gatekeeper.take_prints())
        return out

    def _invalid(self, value: Any, doubt: bool | None = None) -> tuple[FieldPath, str] | None:
        """Where ``value`` holds something no policy can be given exactly, or None; ``doubt``:
        whether a walk of it already found a leaf to doubt (``Redactor.prepare``)."""
        depth = self.settings.limits.max_depth
        if doubt is None or depth < LOADER_DEPTH:
            doubt = may_hold_invalid(value, depth, LOADER_DEPTH)
        return invalid_value(value, depth) if doubt else None

    def _work_conftest(self, task: _Task) -> tuple[str, Any, list[str]]:
        assert self.conftest is not None
        if task.dialect == "combined":
            combined = [{"path": d.path, "document": d.index, "contents": self.redactor(d.obj)} for d in self._docs]
            bad = self._invalid(combined)
            if bad is not None:
                return "input", bad, []
            return "ok", self.conftest.evaluate(combined, None), self._prints()
        doc = self._docs[task.item]
        obj, doubt = self.redactor.prepare(doc.obj)
        bad = self._invalid(obj, doubt)
        if bad is not None:
            return "input", bad, []
        info = {"name": doc.path, "dir": _parent(doc.path)}
        return "ok", self.conftest.evaluate(obj, info), self._prints()

    def _work_gatekeeper(self, task: _Task, mark: boundary.Mark | None) -> tuple[str, Any, list[str]]:
        gk = self.gatekeeper
        assert gk is not None
        resource = self._resources[task.item]
        obj, doubt = self.redactor.prepare(resource.obj)
        s = gkdialect.subject(obj, self.cluster_kinds)
        bad = self._invalid(s.obj, doubt)
        if bad is not None:
            return "input", bad, []
        return "ok", gk.evaluate(s, task.only, mark, self.namespaces, resource.unit), self._prints()

    # --- findings -------------------------------------------------------------------------------

    def _findings(self, task: _Task, outcome: tuple[str, Any, list[str]]) -> list[Finding]:
        status, value, prints = outcome
        mask = self._masker.mask
        for line in prints:
            sys.stderr.write(mask(line) + "\n")
        if prints:
            sys.stderr.flush()
        if status == "error":
            raise CheckLoadError(mask(f"{self._where(task)}: {value}"))
        if status == "input":
            return [self._input_finding(task, value[0], value[1])]
        if task.dialect == "gatekeeper":
            return self._gatekeeper_findings(self._resources[task.item], value)
        if task.dialect == "combined":
            return [self._conftest_finding(r, _combined_target(r, self._docs)) for r in value]
        return [self._conftest_finding(r, self._docs[task.item]) for r in value]

    def _where(self, task: _Task) -> str:
        if task.dialect == "gatekeeper":
            resource = self._resources[task.item]
            return f"{resource.path}: {resource.ref.key}"
        if task.dialect == "combined":
            return "combined input"
        return self._docs[task.item].path

    def _input_finding(self, task: _Task, path: FieldPath, reason: str) -> Finding:
        where = ".".join(str(p) for p in path[:12]) or "the document"
        message = f"{where} {reason}; policies were not evaluated on this object"
        if task.dialect == "gatekeeper":
            return self.finding("policy-input", self._resources[task.item], message, path)
        doc = self._docs[task.item] if task.dialect == "conftest" else self._docs[0]
        if len(doc.resources) == 1 and not doc.resources[0].base:
            return self.finding("policy-input", doc.resources[0], message, path)
        return self.document_finding("policy-input", doc, message, path)

    def _conftest_finding(self, result: conftest_mod.Result, doc: Document) -> Finding:
        mask = self._masker.mask
        path = field_of(result.metadata)
        message = mask(result.message)
        hint = mask(_extra("metadata", result.metadata).lstrip("; "))
        resource = doc.resources[0] if len(doc.resources) == 1 and not doc.resources[0].base else None
        if resource is not None:
            finding = self.finding(result.rule_id, resource, message, path, severity=result.severity,
                                   hint=hint, evidence=message)
        else:
            finding = self.document_finding(result.rule_id, doc, message, path, severity=result.severity,
                                            hint=hint, evidence=message)
        if result.excepted:
            finding = replace(finding, waived=Waiver(f"exception rule in package {result.package}",
                                                     f"data.{result.package}.exception"))
        return finding

    def _gatekeeper_findings(self, resource: Resource, results: gkdialect.Violations) -> list[Finding]:
        gk = self.gatekeeper
        assert gk is not None
        mask = self._masker.mask
        out: list[Finding] = []
        for index, violations in results:
            constraint = gk.constraints[index]
            assert constraint.severity is not None
            for v in violations:
                details: dict[str, Any] = v["details"] if isinstance(v.get("details"), dict) else {}
                msg = mask(v["msg"])
                out.append(self.finding(
                    constraint.rule_id, resource, f"{msg} [{constraint.kind}/{constraint.name}]",
                    field_of(v, details), severity=constraint.severity,
                    hint=mask(f"constraint {constraint.kind}/{constraint.name} ({constraint.doc.path}), "
                              f"template {constraint.template.name}{_extra('details', details)}"),
                    evidence=msg))
        return out

    def unsupported_findings(self) -> list[Finding]:
        gk = self.gatekeeper
        return [self._unsupported(t) for t in gk.unsupported()] if gk is not None else []

    def _unsupported(self, template: Any) -> Finding:
        doc: Document = template.doc
        from gatekeeper.checks.policy.celcode import cel_source

        message = (f"ConstraintTemplate {template.name} has no Rego or K8sNativeValidation (CEL) code, the "
                   "engines this gate evaluates; its constraints were not checked")
        if cel_source(doc.obj) is not None:  # only when the CEL engine is not installed
            message = (f"ConstraintTemplate {template.name} has only CEL code (K8sNativeValidation), which needs "
                       "the cel-expr-python package (Python 3.11 or later); its constraints were not checked")
        return Finding(check=self.name, rule="policy-unsupported", severity=Severity.INFO, message=message,
                       path=doc.path, line=doc.line,
                       fingerprint=fingerprint("policy-unsupported", None, doc.path, "", template.name))


def _shows_text(task: _Task, outcome: tuple[str, Any, list[str]]) -> bool:
    """True when an outcome has policy text to show (messages, print output, an error)."""
    status, value, prints = outcome
    if prints or status == "error":
        return True
    if status != "ok":
        return False
    if task.dialect == "gatekeeper":
        return any(violations for _, violations in value)
    return bool(value)


def _of_kinds(resources: list[Resource], kinds: frozenset[str] | None) -> list[Resource]:
    """The resources whose object's kind is one of ``kinds`` (all for None)."""
    if kinds is None:
        return resources
    return [r for r in resources if isinstance(kind := r.obj.get("kind"), str) and kind in kinds]


def _parent(path: str) -> str:
    """``str(PurePosixPath(path).parent)`` for a scanned file's relative path, without the cost."""
    head, sep, _ = path.rpartition("/")
    return (head.rstrip("/") or "/") if sep else "."


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


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
