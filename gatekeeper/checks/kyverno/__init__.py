"""The kyverno check: a team's Kyverno policies (ClusterPolicy, Policy) judge the scanned tree
offline, with each failure at the field where the pattern failed.

Policies come from the policy directories (``--policy``, ``checks.policy.paths``, or an
auto-discovered ``policy/``/``policies/``) and from the scanned tree itself (what the cluster
will enforce). PolicyExceptions in either place waive the rules they name, with the exception's
name as the reason. Rules Kyverno runs but this gate cannot (mutate, generate, verifyImages,
CEL until the CEL engine lands) are listed in a note.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from gatekeeper.catalogue import REPOSITORY_PATH
from gatekeeper.checks.base import Check, CheckLoadError, Context
from gatekeeper.checks.kyverno import exceptions as exc_mod
from gatekeeper.checks.kyverno import load as load_mod
from gatekeeper.checks.policy.files import inside, read
from gatekeeper.checks.policy.masking import Masker
from gatekeeper.checks.policy.match import CLUSTER_SCOPED
from gatekeeper.checks.policy.redact import for_run, mask, redact, secret_values
from gatekeeper.checks.policy.settings import limits
from gatekeeper.checks.policy.settings import resolve as resolve_policy_dirs
from gatekeeper.checks.secrets.masking import cut
from gatekeeper.kyverno import celeval
from gatekeeper.kyverno.engine import DEFAULT_BUDGET, ERROR, FAIL, Environment, Evaluator, Result
from gatekeeper.kyverno.exceptions import PolicyException
from gatekeeper.kyverno.match import uses_user_filters
from gatekeeper.kyverno.policy import NOT_OFFLINE
from gatekeeper.kyverno.shape import MAX_MESSAGE
from gatekeeper.kyverno.values import Values
from gatekeeper.model import Finding, Resource, Rule, Severity, Waiver
from gatekeeper.rego import boundary

RULE_ERROR = "kyverno-rule-error"
EXCEPTION_CHANGED = "kyverno-exception-changed"
# one result as it crosses the boundary: policy and rule numbers, status, message, field path, action,
# exception number (-1: none)
_Compact = tuple[int, int, str, str, tuple[Any, ...], str, int]
CONTEXT_UNAVAILABLE = "kyverno-context-unavailable"

_POD_GOOD = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: web\n"
             "      image: nginx:1.27\n      securityContext:\n        privileged: false\n")
RULES = [
    Rule("kyverno/<policy>/<rule>", "kyverno", Severity.ERROR,
         "A Kyverno validate rule (pattern, anyPattern, deny, foreach, podSecurity) failed for a resource.",
         "The ClusterPolicies and Policies the cluster's Kyverno enforces, checked before merge at the field "
         "that failed; validationFailureAction (or failureAction) Enforce is an error, Audit a warning.",
         "Follow the policy's message, or add a PolicyException naming the policy and rule.",
         bad_example="apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: web\n"
                     "      image: nginx:1.27\n      securityContext:\n        privileged: true\n",
         good_example=_POD_GOOD),
    Rule(RULE_ERROR, "kyverno", Severity.ERROR,
         "A Kyverno rule could not be decided for a resource (unresolved variable, JMESPath error, time budget).",
         "Kyverno would return an error for this request; an undecided rule is never a pass.",
         "Guard optional fields with `|| ''` in variables, or fix the expression the message names.",
         bad_example="# deny key \"{{ request.object.metadata.labels.team }}\" on an object without labels",
         good_example="# deny key \"{{ request.object.metadata.labels.team || '' }}\""),
    Rule(CONTEXT_UNAVAILABLE, "kyverno", Severity.WARNING,
         "A Kyverno rule needs context the gate cannot read offline (apiCall, imageRegistry, globalReference, "
         "a ConfigMap not in the tree).",
         "The rule's outcome depends on the live cluster or a registry; saying so keeps it from looking like a pass.",
         "Give the values in a Kyverno values file (--kyverno-values, the kyverno test format), or keep the "
         "ConfigMap in the repository.",
         bad_example="context:\n  - name: allowed\n    apiCall:\n      urlPath: /api/v1/namespaces\n",
         good_example="# values.yaml\napiVersion: cli.kyverno.io/v1alpha1\nkind: Values\npolicies:\n"
                      "  - name: my-policy\n    rules:\n      - name: my-rule\n        values:\n"
                      "          allowed: [\"a\", \"b\"]\n"),
    Rule(EXCEPTION_CHANGED, "kyverno", Severity.WARNING,
         "A PolicyException the change adds or edits waives Kyverno rules (an error when it names every policy "
         "or every rule with wildcards).",
         "A pull request can add the exception that waives its own violation: the run passes with the finding "
         "waived. Reported in the git modes against the base, as config-weakened is for the gate's own waivers; "
         "only exceptions from the namespaces in checks.kyverno.exception_namespaces are honoured at all.",
         "If the exception is intended, say why in the review and keep it narrow: one policy, its rules, the "
         "resources by kind, namespace and name.",
         bad_example="apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata:\n  name: all\n"
                     "  namespace: kyverno\nspec:\n  exceptions:\n    - policyName: \"*\"\n"
                     "      ruleNames: [\"*\"]\n  match:\n    any:\n      - resources:\n"
                     "          kinds: [\"*\"]\n",
         good_example="apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata:\n  name: log-shipper\n"
                      "  namespace: kyverno\nspec:\n  exceptions:\n    - policyName: disallow-host-path\n"
                      "      ruleNames: [host-path]\n  match:\n    any:\n      - resources:\n"
                      "          kinds: [DaemonSet]\n          namespaces: [monitoring]\n"
                      "          names: [log-shipper]\n"),
]
_BY_ID = {r.id: r for r in RULES}

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "enabled": {"type": "boolean", "description": "Run this check (default true when Kyverno policies exist)."},
        "values": {"type": "string", REPOSITORY_PATH: True,
                   "description": "Kyverno values file (kyverno test Values format) for context the gate cannot read."},
        "budget": {"type": "number", "exclusiveMinimum": 0,
                   "description": "Seconds one rule may spend on one resource (foreach, JMESPath); default 2."},
        "exception_namespaces": {
            "type": "array", "items": {"type": "string", "minLength": 1},
            "description": "Namespaces whose PolicyExceptions are honoured (Kyverno's --enablePolicyException with "
                           "--exceptionNamespace; wildcards allowed, \"*\" for any). Default none: as in Kyverno "
                           "1.13 and later, PolicyExceptions are off until enabled."},
    },
}


class KyvernoCheck(Check):
    """Evaluate Kyverno ClusterPolicies and Policies against the scanned tree."""

    name = "kyverno"
    summary = "Kyverno ClusterPolicy/Policy validate rules and PolicyExceptions, evaluated offline."
    config_schema = CONFIG_SCHEMA

    def __init__(self) -> None:
        self.inactive: str | None = None
        self.roots: list[Path] = []
        self.loaded = load_mod.Loaded()
        self.evaluator: Evaluator | None = None
        self._digest = ""
        self._subject_list: list[Resource] | None = None
        self._names: dict[int, tuple[str, str]] = {}  # rule -> (rule id, where it is written)
        self._ignored: list[PolicyException] = []  # exceptions outside the exception namespaces
        self._changed: list[tuple[PolicyException, str]] = []  # honoured exceptions new or changed since the base

    def rules(self) -> Sequence[Rule]:
        return RULES

    def active(self, ctx: Context) -> str | None:
        return self.inactive

    def digest(self, ctx: Context) -> str:
        return self._digest

    def prepare(self, ctx: Context) -> None:
        settings = resolve_policy_dirs(ctx)
        self.roots = [d.resolve() for d in settings.dirs]
        loaded = load_mod.Loaded()
        seen: set[tuple[str, int]] = set()
        if settings.dirs:
            files = read(settings.dirs)
            docs = [d for d in files.documents if load_mod.is_kyverno_document(d.obj)]
            load_mod.load_documents(docs, loaded)
            seen = {(d.path, d.index) for d in docs}
        tree = [r for r in ctx.whole if load_mod.is_kyverno_document(r.obj) and not self._in_roots(ctx, r.path)]
        load_mod.load_resources(tree, loaded, seen)
        self.loaded = loaded
        if not loaded.policies:
            self.inactive = ("no Kyverno ClusterPolicy, Policy or ValidatingPolicy in the policy directories or the "
                             "scanned tree")
            return
        section = ctx.check_config("kyverno")
        exceptions, self._ignored = exc_mod.honoured(loaded.exceptions, list(section.get("exception_namespaces", [])))
        if ctx.base_file is not None:
            self._changed = exc_mod.changed(exceptions, ctx.base_file)
        values = Values()
        values_path = ctx.options.get("kyverno_values") or section.get("values")
        if values_path:
            base = ctx.config.base_dir if ctx.config is not None and ctx.config.base_dir else ctx.root
            path = Path(values_path)
            values = load_mod.read_values(path if path.is_absolute() or ctx.options.get("kyverno_values")
                                          else base / path)
        subjects = self.subjects(ctx)
        objects = celeval.Objects(lambda: [redact(r.obj) for r in subjects])
        env = Environment(values=values, configmaps=load_mod.configmaps(subjects), objects=objects,
                          namespace_labels=load_mod.namespace_labels(subjects), exceptions=exceptions,
                          cluster_scoped=frozenset(CLUSTER_SCOPED), budget=float(section.get("budget", DEFAULT_BUDGET)))
        self.evaluator = Evaluator(loaded.policies, env)
        self._digest = self._compute_digest()

    def notes(self) -> list[str]:
        """What the run should tell the reader: rules not evaluated offline, user filters."""
        out: list[str] = []
        skipped = sorted({f"{p.key}/{r.source_name or r.name} ({NOT_OFFLINE.get(r.validate_type or r.kind, r.kind)})"
                          for p in self.loaded.policies for r in p.rules if not r.evaluated and not r.autogen})
        if skipped:
            out.append(f"kyverno: {len(skipped)} rule(s) not evaluated offline: {', '.join(skipped)}")
        users = sorted({f"{p.key}/{r.name}" for p in self.loaded.policies for r in p.rules if not r.autogen
                        and (uses_user_filters(r.raw.get("match")) or uses_user_filters(r.raw.get("exclude")))})
        if users:
            out.append("kyverno: subjects/roles/clusterRoles cannot be known offline; evaluated as a CREATE by an "
                       f"unknown user: {', '.join(users)}")
        unsupported = sorted(f"{e.label} ({e.unsupported})" for e in self.evaluator_exceptions() if e.unsupported)
        if unsupported:
            out.append(f"kyverno: {len(unsupported)} PolicyException(s) not honoured offline: {', '.join(unsupported)} "
                       "feed the ValidatingPolicy's own expressions, which are not bound offline; the policy's "
                       "results stand")
        if self._ignored:
            out.append(f"kyverno: {len(self._ignored)} PolicyException(s) not honoured "
                       f"({', '.join(sorted(e.label for e in self._ignored))}): Kyverno reads exceptions only when "
                       "enabled and only from its exception namespaces; name them in "
                       "checks.kyverno.exception_namespaces")
        return out

    def evaluator_exceptions(self) -> list[PolicyException]:
        """The honoured exceptions (those of the exception namespaces)."""
        return list(self.evaluator.env.exceptions) if self.evaluator is not None else []

    def _in_roots(self, ctx: Context, path: str) -> bool:
        return bool(self.roots) and inside(ctx.root / path, self.roots)

    def subjects(self, ctx: Context) -> list[Resource]:
        """Resources outside the policy directories (each file's place is resolved once)."""
        if self._subject_list is not None:
            return self._subject_list
        if not self.roots:
            self._subject_list = list(ctx.resources)
            return self._subject_list
        root = ctx.root.resolve()
        prefixes = []
        for policy_root in self.roots:
            try:
                rel = policy_root.relative_to(root).as_posix()
            except ValueError:
                continue  # a policy directory outside the scanned root holds none of its files
            prefixes.append("" if rel == "." else rel + "/")
        # a file symlinked into a policy directory is one of its files; the loader keeps only links
        # that resolve inside the scanned root, so with every policy directory apart from the root
        # (neither holding the other) no link can lead into one and no file needs a look
        links = any(r == root or r in root.parents or root in r.parents for r in self.roots)
        outside: dict[str, bool] = {}
        out = []
        for r in ctx.resources:
            keep = outside.get(r.path)
            if keep is None:
                under = any(r.path.startswith(p) for p in prefixes)
                keep = outside[r.path] = (not self._in_roots(ctx, r.path)
                                          if under or (links and (ctx.root / r.path).is_symlink()) else True)
            if keep:
                out.append(r)
        self._subject_list = out
        return out

    def _compute_digest(self) -> str:
        h = hashlib.sha256()
        for p in self.loaded.policies:
            h.update(f"{p.path}#{p.doc.index}:{p.key}\n".encode())
            h.update(json.dumps(p.spec, sort_keys=True, default=str).encode())
        for e in self.loaded.exceptions:
            h.update(f"{e.doc.path}#{e.label}:{e.entries}\n".encode())
        return h.hexdigest()[:16]

    def check_all(self, ctx: Context) -> Iterable[Finding]:
        """Evaluate behind the evaluation boundary: policies and resources come from the repository,
        and one Python operation (a bignum, a regular expression, a serialisation) cannot be
        interrupted in-process, so worker processes with the policy check's CPU-time and memory
        limits evaluate. A rule that blows a limit is the policy's result, as in Kyverno (an error
        for that rule): an error finding on the rule, naming the resource, and the run goes on
        without that rule (each blown rule costs one limit, never one per resource). A crash or an
        internal error still ends the run (exit 2)."""
        evaluator = self.evaluator
        assert evaluator is not None
        subjects = [r for r in self.subjects(ctx) if ctx.hook_paths is None or r.path in ctx.hook_paths]
        policies = {id(p): n for n, p in enumerate(evaluator.policies)}
        exceptions = {id(e): n for n, e in enumerate(evaluator.env.exceptions)}
        blown: dict[int, tuple[int, str]] = {}  # rule number -> (subject where it blew, reason)
        # the plans of every kind are made here, before the workers fork (they share them); a
        # subject no rule can report on is not handed to a worker at all
        quiet = [evaluator.quiet(r.obj) for r in subjects]
        todo = [i for i, q in enumerate(quiet) if not q]

        def work(k: int, mark: boundary.Mark) -> tuple[list[_Compact], list[str]]:
            """The subject's reported results and, when there are any, the values the secrets check
            detects in it (found here, in parallel, for masking the messages)."""
            obj = subjects[todo[k]].obj
            found = [(policies[id(r.policy)], evaluator.number[id(r.rule)], r.status, r.message, r.path, r.action,
                      -1 if r.exception is None else exceptions[id(r.exception)])
                     for r in evaluator.failures(redact(obj), lambda n: mark.step(n + 1), blown)]
            if not found:
                return found, []
            mark.step(0)  # not a rule's doing
            return found, secret_values(obj)

        def describe(k: int, step: int) -> str:  # step 0: before the first rule, else rule step - 1
            what = "Kyverno policies"
            if 0 < step <= len(evaluator.rules):
                policy, rule = evaluator.rules[step - 1]
                what = f"kyverno/{policy.name}/{rule.name}"
            return f"{subjects[todo[k]].path}: {what} on {subjects[todo[k]].ref.key}"

        run_masker: list[Masker] = []

        def masker() -> Masker:  # the run's detected values (its one shared scan), only when a limit is reported
            if not run_masker:
                run_masker.append(Masker(for_run(ctx).values))
            return run_masker[0]

        outcomes: dict[int, tuple[list[_Compact], list[str]]] = {i: ([], []) for i, q in enumerate(quiet) if q}
        while todo:
            try:
                got = boundary.run(len(todo), work, describe, limits(ctx.options, ctx.check_config("policy")))
            except boundary.LimitExceeded as exc:
                rule = exc.step - 1
                if not 0 <= rule < len(evaluator.rules) or rule in blown:  # not one rule's doing
                    raise CheckLoadError(masker().mask(str(exc))) from None
                blown[rule] = (todo[exc.index], exc.reason)
                outcomes.update((todo[k], v) for k, v in exc.done.items())
                todo = [i for i in todo if i not in outcomes]
                continue
            except boundary.BoundaryError as exc:
                raise CheckLoadError(masker().mask(str(exc))) from None
            outcomes.update(zip(todo, got, strict=True))
            todo = []
        findings = [self._exception_finding(e, how) for e, how in self._changed]
        findings.extend(self._limit_finding(evaluator, rule, subjects[i], masker().mask(reason))
                        for rule, (i, reason) in blown.items())
        for index, resource in enumerate(subjects):
            compact, values = outcomes[index]
            if not compact:
                continue
            for p, n, status, message, path, action, e in compact:
                result = Result(evaluator.policies[p], evaluator.rules[n][1], status, message, path, action=action,
                                exception=None if e < 0 else evaluator.env.exceptions[e])
                findings.append(self._finding(resource, result, values))
            ctx.detected.update(values)  # the report is masked for them too (every 8-character run)
        return findings

    def _limit_finding(self, evaluator: Evaluator, number: int, resource: Resource, reason: str) -> Finding:
        """A rule that blew an evaluation limit: an error on the rule where the policy writes it."""
        policy, rule = evaluator.rules[number]
        return self.document_finding(
            _BY_ID[RULE_ERROR], policy.doc,
            f"kyverno/{policy.name}/{rule.name} exceeded an evaluation limit on {resource.path} ({resource.ref.key}): "
            f"{reason}; the rule is not evaluated for the rest of this run (Kyverno reports an error for it)",
            (*policy.base, *rule.pointer), severity=Severity.ERROR, evidence=f"kyverno/{policy.name}/{rule.name}")

    def _exception_finding(self, exception: PolicyException, how: str) -> Finding:
        rule = _BY_ID[EXCEPTION_CHANGED]
        waives = "; ".join(f"{policy}: {', '.join(rules) or 'every validation'}"
                           for policy, rules in exception.entries)
        sweeping = exc_mod.sweeping(exception)
        return self.document_finding(
            rule, exception.doc, f"PolicyException {exception.label} is {how} since the base and waives {waives}"
            + (" (every policy or rule, by wildcard)" if sweeping else ""), ("spec", "exceptions"),
            severity=Severity.ERROR if sweeping else None, evidence=exception.label)

    def _finding(self, resource: Resource, result: Result, values: list[str]) -> Finding:
        policy, rule = result.policy, result.rule
        named = self._names.get(id(rule))
        if named is None:
            named = self._names[id(rule)] = (f"kyverno/{policy.name}/{rule.name}",
                                             f"{policy.kind} {policy.key} ({policy.path}:{policy.line(rule.pointer)})")
        rule_id, where = named
        # masked before it is shortened: the resource's detected values as written and every run of
        # 8 or more of their characters (a token a policy cut with truncate() too)
        message = mask(result.message, values)
        if message and values:
            message = Masker(values).mask(message)
        message = cut(message, MAX_MESSAGE)  # marked: the report's masking sees a value cut short
        if result.status == FAIL:
            severity = Severity.ERROR if result.action == "Enforce" and policy.scored else Severity.WARNING
            finding = self.finding(rule_id, resource, message or f"rule {rule.name} failed", result.path,
                                   severity=severity, hint=f"{where}; action {result.action}", evidence=message)
        elif result.status == ERROR:
            finding = self.finding(_BY_ID[RULE_ERROR], resource, f"{rule_id}: {message}", (),
                                   hint=f"{where}: {_BY_ID[RULE_ERROR].hint}", evidence=rule_id)
        else:
            finding = self.finding(_BY_ID[CONTEXT_UNAVAILABLE], resource, f"{rule_id}: {message}", (),
                                   hint=f"{where}: {_BY_ID[CONTEXT_UNAVAILABLE].hint}", evidence=rule_id)
        if result.exception is not None:
            exc = result.exception
            finding = replace(finding, waived=Waiver(f"PolicyException {exc.label}", f"{exc.doc.path}:{exc.doc.line}"))
        return finding
