"""Evaluate Kyverno policies against one resource: match/exclude, PolicyExceptions, context,
preconditions, then the validate body (pattern, anyPattern, deny, foreach, podSecurity).

Every rule gets a result: pass, fail (with the field path where it failed), skip (not matched,
preconditions false, conditional anchors), error (cannot be decided), unavailable (context needs
the cluster) or not-evaluated (mutate, generate, verifyImages and other kinds not run offline).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.kyverno import celeval, conditions, fastpath, jmes, pss, references, vpol
from gatekeeper.kyverno.autogen import TEMPLATE_CONTROLLERS, template_path
from gatekeeper.kyverno.errors import ContextUnavailable, Deadline, RuleError
from gatekeeper.kyverno.exceptions import PolicyException
from gatekeeper.kyverno.images import images_variable
from gatekeeper.kyverno.match import (
    Request,
    Target,
    block_matches,
    parse_kind,
    rule_applies,
    selector_matches,
    static_block,
)
from gatekeeper.kyverno.pattern import Matcher, Mismatch, slash_path
from gatekeeper.kyverno.policy import Policy, Rule
from gatekeeper.kyverno.references import has_references
from gatekeeper.kyverno.shape import mapping
from gatekeeper.kyverno.values import UserInfo, Values, set_path
from gatekeeper.kyverno.variables import has_variables, substitute, substitute_string
from gatekeeper.kyverno.wildcard import has_wildcard
from gatekeeper.kyverno.wildcard import match as wildcard_match
from gatekeeper.model import FieldPath

PASS, FAIL, SKIP, ERROR, UNAVAILABLE, NOT_EVALUATED = "pass", "fail", "skip", "error", "unavailable", "not-evaluated"
DEFAULT_BUDGET = 2.0  # seconds of work one rule may take for one resource
MAX_FOREACH_ELEMENTS = 10_000
PLAN_BUDGET = 1.0  # CPU seconds ``quiet`` may spend making plans (outside the workers' limits)
_LIST_PATH = re.compile(r"^(request\.object|element\d*)((?:\.[A-Za-z_$][\w$]*)*)(\[\])?$")


@dataclass(slots=True)
class Result:
    """One rule's outcome for one resource."""

    policy: Policy
    rule: Rule
    status: str
    message: str = ""
    path: FieldPath = ()
    matched: bool = True
    exception: PolicyException | None = None
    action: str = "Audit"


@dataclass(slots=True)
class Environment:
    """What evaluation may read besides the resource: other objects, values and the user."""

    values: Values = field(default_factory=Values)
    user: UserInfo = field(default_factory=UserInfo)
    configmaps: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    namespace_labels: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    exceptions: Sequence[PolicyException] = ()
    cluster_scoped: frozenset[str] = frozenset()
    budget: float = DEFAULT_BUDGET
    objects: celeval.Objects = field(default_factory=celeval.Objects)  # what CEL's resource.Get/params read


def target_of(obj: Mapping[str, Any], cluster_scoped: frozenset[str]) -> Target:
    api = str(obj.get("apiVersion") or "")
    group, _, version = api.rpartition("/")
    kind = str(obj.get("kind") or "")
    meta = mapping(obj.get("metadata"))
    namespace = "" if kind in cluster_scoped else str(meta.get("namespace") or "default")
    return Target(obj, group, version, kind, namespace, str(meta.get("name") or ""))


class _Stop(Exception):
    """Ends a rule evaluation with a result (skip inside foreach, errors)."""

    def __init__(self, status: str, message: str, path: FieldPath = ()) -> None:
        super().__init__(message)
        self.status, self.message, self.path = status, message, path


class Evaluator:
    """Evaluate a set of policies; one instance per run (or per ``kyverno test`` file)."""

    def __init__(self, policies: Sequence[Policy], env: Environment) -> None:
        self.policies = list(policies)
        self.env = env
        # every rule numbered, so a rule can be named across processes (the evaluation boundary)
        self.rules = [(p, r) for p in self.policies for r in p.rules]
        self.number = {id(r): n for n, (_, r) in enumerate(self.rules)}
        # rules by the kinds their match blocks name; rules that may match any kind apply to all
        self._by_kind: dict[str, list[tuple[Policy, Rule]]] = {}
        self._any_kind: list[tuple[Policy, Rule]] = []
        for policy in self.policies:
            for rule in policy.rules:
                kinds = _match_kinds(rule)
                if kinds is None:
                    self._any_kind.append((policy, rule))
                for kind in kinds or ():
                    self._by_kind.setdefault(kind, []).append((policy, rule))
        self._labels = {**env.namespace_labels, **env.values.namespace_labels}
        self._reads_data = {id(r) for p in self.policies for r in p.rules if _reads_data(r)}
        self._lazy: _Once | None = None
        self._has_values = bool(env.values.global_values or env.values.rules or env.values.resources)
        user = env.user
        self._plain = Request("CREATE", user.username, user.groups, user.roles, user.cluster_roles, self._labels)
        self._static = {id(r): static_block(r.raw.get("match")) and static_block(r.raw.get("exclude"))
                        for p in self.policies for r in p.rules}
        self._applies: dict[tuple[int, str, str, str, str], bool] = {}
        self._actions = {id(r): p.action(r) for p in self.policies for r in p.rules if not p.overrides(r)}
        self._pss: dict[int, tuple[str, int, list[dict[str, Any]]]] = {}  # podSecurity rule -> level, minor, excludes
        self._fast = fastpath.FastPath(self)

    def failures(self, obj: Mapping[str, Any], progress: Callable[[int], None] | None = None,
                 skip: Collection[int] = ()) -> list[Result]:
        """The results of ``evaluate(obj, matching=True)`` that become findings (fail, error,
        unavailable), in the same order; compiled checks prove the rest without making results.
        ``progress(n)`` is told each rule's number (``rules[n]``) before the rule runs; the rules
        numbered in ``skip`` are not evaluated (a rule that blew an evaluation limit)."""
        if self._has_values or skip:
            return self._reported(obj, progress, skip)
        return self._fast.failures(self, obj, progress)

    def quiet(self, obj: Mapping[str, Any]) -> bool:
        """True when ``failures(obj)`` is certainly empty, whatever rules are skipped: no rule whose
        match can hold for the object's kind is evaluated offline (decided from the plan of its
        kind, made here if new, so worker processes forked afterwards share it). Making plans here
        is bounded (``PLAN_BUDGET``): past it a new kind is not quiet and its plan is made by the
        worker that meets it, under the workers' limits."""
        if self._has_values:
            return False
        fast = self._fast
        if fast.spent > PLAN_BUDGET and (obj.get("apiVersion"), obj.get("kind")) not in fast.plans:
            return False  # made by a worker, under its limits, as it meets the kind
        started = time.process_time()
        steps = fast.plan(self, obj)
        fast.spent += time.process_time() - started
        return steps is not None and not steps

    def _reported(self, obj: Mapping[str, Any], progress: Callable[[int], None] | None = None,
                  skip: Collection[int] = ()) -> list[Result]:
        number = self.number
        only = (lambda _p, r: number[id(r)] not in skip) if skip else None
        return [r for r in self.evaluate(obj, only, matching=True, progress=progress) if r.status in fastpath.REPORTED]

    def evaluate(self, obj: Mapping[str, Any], only: Callable[[Policy, Rule], bool] | None = None,
                 *, matching: bool = False, progress: Callable[[int], None] | None = None) -> list[Result]:
        """Every rule's result for ``obj``; with ``matching``, only rules whose match may hold (a rule
        that cannot match gives nothing instead of a skip)."""
        target = target_of(obj, self.env.cluster_scoped)
        user = self.env.user
        results: list[Result] = []
        base = _Once(lambda: self._base_data(obj, target))
        if matching:
            pairs = [*self._by_kind.get(target.kind, ()), *self._any_kind]
        else:
            pairs = [(p, r) for p in self.policies for r in p.rules]
        plain = self._plain
        for policy, rule in pairs:
            if only is not None and not only(policy, rule):
                continue
            if progress is not None:
                progress(self.number[id(rule)])
            values: dict[str, Any] = {}
            request = plain
            if self._has_values:
                values = self.env.values.lookup(policy.key, rule.name, target.name) or \
                    self.env.values.lookup(policy.name, rule.name, target.name)
                op = str(values.get("request.operation") or "CREATE")
                request = Request(op, user.username, user.groups, user.roles, user.cluster_roles, self._labels)
            results.append(self._rule(policy, rule, obj, target, request, base, values))
        return results

    # -- one rule ---------------------------------------------------------------------------------

    def _rule(self, policy: Policy, rule: Rule, obj: Mapping[str, Any], target: Target, request: Request,
              base: _Once, values: dict[str, Any]) -> Result:
        if policy.namespace is not None and target.namespace != policy.namespace:
            return Result(policy, rule, SKIP, "resource is outside the Policy's namespace", matched=False)
        if rule.validate_type == "vpol":
            return self._vpol(policy, rule, obj, target, request)
        if not self._rule_applies(rule, target, request):
            return Result(policy, rule, SKIP, "resource does not match the rule", matched=False)
        action = self._actions.get(id(rule)) or self._action(policy, rule, target, request)
        if not rule.evaluated:
            return Result(policy, rule, NOT_EVALUATED, f"{rule.kind} rules are not evaluated offline", action=action)
        lazy = _Once(lambda: self._data(base.get(), request, values))
        self._lazy = lazy  # read by ``_message``; dropped after the rule (it refers to this evaluator)
        try:
            return self._checked(policy, rule, obj, target, request, action, lazy, values)
        finally:
            self._lazy = None

    def _checked(self, policy: Policy, rule: Rule, obj: Mapping[str, Any], target: Target, request: Request,
                 action: str, lazy: _Once, values: dict[str, Any]) -> Result:
        """A rule that applies and is evaluated offline: exceptions, context, preconditions, validate."""
        # the JMESPath data is built only for rules that read it (a plain pattern reads it on failure only)
        data = lazy.get() if id(rule) in self._reads_data or self.env.exceptions else _NO_DATA
        deadline = Deadline(self.env.budget)
        exception = self._exception(policy, rule, target, request, data, deadline)
        try:
            self._load_context(rule.raw.get("context"), data, target, deadline, values)
            held, _ = conditions.evaluate(rule.raw.get("preconditions"), data, deadline, lenient=True)
            if not held:
                return Result(policy, rule, SKIP, "preconditions not met", action=action, exception=exception)
            status, message, path = self._validate(policy, rule, obj, data, deadline, exception)
        except ContextUnavailable as exc:
            return Result(policy, rule, UNAVAILABLE, str(exc), action=action, exception=exception)
        except _Stop as stop:
            return Result(policy, rule, stop.status, stop.message, stop.path, action=action, exception=exception)
        except RuleError as exc:
            return Result(policy, rule, ERROR, str(exc), action=action, exception=exception)
        return Result(policy, rule, status, message, path, action=action, exception=exception)

    def _rule_applies(self, rule: Rule, target: Target, request: Request) -> bool:
        """match and exclude; decided once per kind (and operation) when they read nothing else."""
        if not self._static.get(id(rule)):
            return rule_applies(rule.raw.get("match"), rule.raw.get("exclude"), target, request)
        key = (id(rule), target.group, target.version, target.kind, request.operation)
        found = self._applies.get(key)
        if found is None:
            found = self._applies[key] = rule_applies(rule.raw.get("match"), rule.raw.get("exclude"), target, request)
        return found

    def _action(self, policy: Policy, rule: Rule, target: Target, request: Request) -> str:
        for override in policy.overrides(rule):
            namespaces = override.get("namespaces") or []
            selector = override.get("namespaceSelector")
            if namespaces and not any(wildcard_match(str(n), target.namespace) for n in namespaces):
                continue
            if selector is not None and not selector_matches(selector, request.namespace_labels.get(
                    target.namespace, {})):
                continue
            return "Enforce" if str(override.get("action", "")).lower() == "enforce" else "Audit"
        return policy.action(rule)

    def _exception(self, policy: Policy, rule: Rule, target: Target, request: Request, data: dict[str, Any],
                   deadline: Deadline) -> PolicyException | None:
        keys = (policy.key, policy.name)
        for exc in self.env.exceptions:
            if not exc.covers(keys, rule.name, rule.source_name or rule.name):
                continue
            if not block_matches(exc.match, target, request):
                continue
            if exc.conditions is not None:
                try:
                    held, _ = conditions.evaluate(exc.conditions, data, deadline, lenient=True)
                except RuleError:
                    continue
                if not held:
                    continue
            return exc
        return None

    # -- data -----------------------------------------------------------------------------------------

    def _base_data(self, obj: Mapping[str, Any], target: Target) -> dict[str, Any]:
        """The data every rule reads: the request and, when some rule may read it, ``images``."""
        spec = mapping(obj.get("spec"))
        pod_spec: Any = spec
        if target.kind in TEMPLATE_CONTROLLERS or target.kind == "CronJob":
            pod_spec = obj
            for part in (*template_path(target.kind), "spec"):
                pod_spec = pod_spec.get(part) if isinstance(pod_spec, dict) else None
        user = self.env.user
        sa_ns, sa_name = "", ""
        if user.username.startswith("system:serviceaccount:"):
            parts = user.username.split(":")
            if len(parts) == 4:
                sa_ns, sa_name = parts[2], parts[3]
        return {
            "request": {
                "object": obj, "oldObject": None, "namespace": target.namespace, "name": target.name,
                "kind": {"group": target.group, "version": target.version, "kind": target.kind},
                "userInfo": {"username": user.username, "groups": list(user.groups)},
                "roles": list(user.roles), "clusterRoles": list(user.cluster_roles), "dryRun": False,
            },
            "serviceAccountName": sa_name, "serviceAccountNamespace": sa_ns,
            **({"images": images_variable(pod_spec)} if self._fast.images else {}),
        }

    def _data(self, base: dict[str, Any], request: Request, values: dict[str, Any]) -> dict[str, Any]:
        data = dict(base)
        data["request"] = dict(base["request"], operation=request.operation)
        for key, value in values.items():
            if key == "request.operation":
                continue
            if key.startswith("request."):
                data["request"] = dict(data["request"])
            set_path(data, key, value)
        return data

    def _load_context(self, entries: Any, data: dict[str, Any], target: Target, deadline: Deadline,
                      values: dict[str, Any]) -> None:
        given = {key.split(".", 1)[0] for key in values}
        for entry in entries or []:
            name = entry["name"]
            if name in given:
                continue
            if entry.get("variable") is not None:
                data[name] = self._variable(entry["variable"], data, deadline, name)
            elif entry.get("configMap") is not None:
                spec = substitute(entry["configMap"], data, deadline)
                ns = str(spec.get("namespace") or target.namespace or "default")
                found = self.env.configmaps.get((ns, str(spec.get("name"))))
                if found is None:
                    raise ContextUnavailable(f"context {name!r} reads ConfigMap {ns}/{spec.get('name')}, which is not "
                                             "in the scanned tree or the values file")
                data[name] = {"data": found.get("data") or {}, "metadata": found.get("metadata") or {}}
            else:
                kind = next(k for k in ("apiCall", "imageRegistry", "globalReference") if entry.get(k) is not None)
                raise ContextUnavailable(f"context {name!r} uses {kind}, which needs the cluster or a registry; "
                                         "give its value with --kyverno-values")

    def _variable(self, spec: Mapping[str, Any], data: dict[str, Any], deadline: Deadline, name: str) -> Any:
        result: Any = None
        try:
            if "value" in spec:
                result = substitute(spec.get("value"), data, deadline)
                if spec.get("jmesPath"):
                    result = jmes.search(str(substitute_string(str(spec["jmesPath"]), data, deadline)), result,
                                         deadline)
            elif spec.get("jmesPath"):
                result = jmes.search(str(substitute_string(str(spec["jmesPath"]), data, deadline)), data, deadline)
        except RuleError:
            if "default" not in spec:
                raise
            result = None
        if result is None:
            if "default" in spec:
                return substitute(spec["default"], data, deadline)
            raise RuleError(f"context variable {name!r} resolved to nothing and has no default")
        return result

    # -- validate -------------------------------------------------------------------------------------

    def _message(self, rule: Rule, data: dict[str, Any], deadline: Deadline) -> str:
        raw = rule.validate.get("message")
        if not isinstance(raw, str):
            return ""
        if data is _NO_DATA and "{{" in raw and self._lazy is not None:
            data = self._lazy.get()
        try:
            value = substitute_string(raw, data, deadline)
        except RuleError:
            return raw
        return value if isinstance(value, str) else str(value)

    def _validate(self, policy: Policy, rule: Rule, obj: Mapping[str, Any], data: dict[str, Any],
                  deadline: Deadline, exception: PolicyException | None) -> tuple[str, str, FieldPath]:
        validate = rule.validate
        kind = rule.validate_type
        if kind == "podSecurity":
            return self._pod_security(rule, obj, exception)
        if kind == "deny":
            return self._deny(rule, validate["deny"], data, deadline, ())
        if kind in ("pattern", "anyPattern"):
            return self._patterns(rule, validate, obj, data, deadline, (), rule.name)
        if kind == "cel":
            return self._cel(rule, obj, target_of(obj, self.env.cluster_scoped), request_of(data))
        if kind == "foreach":
            applied, failure = self._foreach(rule, validate["foreach"], obj, data, deadline, 0, {})
            if failure is not None:
                return failure
            if applied == 0:
                return SKIP, "no foreach element was processed (empty lists or preconditions not met)", ()
            return PASS, "", ()
        raise RuleError(f"validate.{kind} is not evaluated offline")

    # -- CEL ------------------------------------------------------------------------------------------

    def _cel_bindings(self, obj: Mapping[str, Any], target: Target, request: Mapping[str, Any]) -> dict[str, Any]:
        ns_obj: Any = None
        if target.namespace:
            ns_obj = self.env.objects.get("v1", "Namespace", "", target.namespace) or {
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target.namespace}}
        return {"object": obj, "oldObject": None, "request": dict(request), "params": None,
                "namespaceObject": ns_obj, "authorizer": None, "variables": {}}

    def _cel(self, rule: Rule, obj: Mapping[str, Any], target: Target,
             request: Mapping[str, Any]) -> tuple[str, str, FieldPath]:
        spec = rule.validate["cel"]
        bindings = self._cel_bindings(obj, target, request)
        bindings["params"] = self._params(spec, target)
        objects = self.env.objects
        pre = rule.raw.get("celPreconditions") or []
        if pre and not celeval.conditions_hold(pre, bindings, objects):
            return SKIP, "celPreconditions not met", ()
        celeval.variables(spec.get("variables") or [], bindings, objects)
        failed = celeval.validations(spec["expressions"], bindings, objects)
        return (FAIL, "; ".join(failed), ()) if failed else (PASS, "", ())

    def _params(self, spec: Mapping[str, Any], target: Target) -> Any:
        kind, ref = spec.get("paramKind"), spec.get("paramRef")
        if not isinstance(kind, dict) or not isinstance(ref, dict):
            return None
        namespace = str(ref.get("namespace") or target.namespace or "")
        found = self.env.objects.get(str(kind.get("apiVersion")), str(kind.get("kind")), namespace,
                                     str(ref.get("name") or ""))
        if found is None:
            raise ContextUnavailable(f"the parameter {kind.get('kind')} {namespace + '/' if namespace else ''}"
                                     f"{ref.get('name')} is not in the scanned tree")
        return found

    def _vpol(self, policy: Policy, rule: Rule, obj: Mapping[str, Any], target: Target, request: Request) -> Result:
        spec = rule.raw["spec"] if rule.autogen else policy.spec
        op = request.operation
        constraints = mapping(spec.get("matchConstraints"))
        if not vpol.matches(spec, target.group, target.version, target.kind, op) or vpol.matches(
                spec, target.group, target.version, target.kind, op, is_excluded=True):
            return Result(policy, rule, SKIP, "resource does not match the policy", matched=False)
        labels = request.namespace_labels.get(target.namespace, {}) if target.namespace else target.labels
        if constraints.get("namespaceSelector") and not selector_matches(constraints["namespaceSelector"], labels):
            return Result(policy, rule, SKIP, "namespace does not match", matched=False)
        if constraints.get("objectSelector") and not selector_matches(constraints["objectSelector"], target.labels):
            return Result(policy, rule, SKIP, "object labels do not match", matched=False)
        action = vpol.action(spec)
        bindings = self._cel_bindings(obj, target, self._cel_request(target, request))
        objects = self.env.objects
        try:
            if not celeval.conditions_hold(spec.get("matchConditions") or [], bindings, objects):
                return Result(policy, rule, SKIP, "matchConditions not met", matched=False, action=action)
        except ContextUnavailable as exc:
            return Result(policy, rule, UNAVAILABLE, str(exc), action=action)
        except RuleError as exc:
            return Result(policy, rule, ERROR, str(exc), action=action)
        exception = self._cel_exception(policy, bindings)
        try:
            celeval.variables(spec.get("variables") or [], bindings, objects)
            failed = celeval.validations(spec["validations"], bindings, objects)
        except ContextUnavailable as exc:
            return Result(policy, rule, UNAVAILABLE, str(exc), action=action, exception=exception)
        except RuleError as exc:
            return Result(policy, rule, ERROR, str(exc), action=action, exception=exception)
        if failed:
            return Result(policy, rule, FAIL, "; ".join(failed), action=action, exception=exception)
        return Result(policy, rule, PASS, action=action, exception=exception)

    def _cel_exception(self, policy: Policy, bindings: dict[str, Any]) -> PolicyException | None:
        """The first ``policies.kyverno.io`` exception naming this ValidatingPolicy whose
        matchConditions all hold for the request. One whose conditions cannot be evaluated (an
        error, context not offline) does not exempt: the policy's own result stands."""
        for exc in self.env.exceptions:
            if not exc.cel or exc.unsupported or not exc.names(policy.kind, policy.name):
                continue
            try:
                if celeval.conditions_hold(exc.match_conditions, dict(bindings), self.env.objects):
                    return exc
            except (RuleError, ContextUnavailable):
                continue
        return None

    def _cel_request(self, target: Target, request: Request) -> dict[str, Any]:
        return {"operation": request.operation, "namespace": target.namespace, "name": target.name,
                "kind": {"group": target.group, "version": target.version, "kind": target.kind},
                "resource": {"group": target.group, "version": target.version,
                             "resource": celeval.plural(target.kind)},
                "userInfo": {"username": request.username, "groups": list(request.groups)}, "dryRun": False}

    def _deny(self, rule: Rule, deny: Any, data: dict[str, Any], deadline: Deadline,
              path: FieldPath) -> tuple[str, str, FieldPath]:
        block = deny.get("conditions") if isinstance(deny, dict) else None
        if block is None:
            return FAIL, self._message(rule, data, deadline) or f"rule {rule.name} denies the request", path
        held, _ = conditions.evaluate(block, data, deadline, lenient=False)
        if held:
            return FAIL, self._message(rule, data, deadline) or f"rule {rule.name} denies the request", path
        return PASS, "", ()

    def _patterns(self, rule: Rule, body: Mapping[str, Any], scope: Any, data: dict[str, Any], deadline: Deadline,
                  base: FieldPath, label: str, *, in_foreach: bool = False) -> tuple[str, str, FieldPath]:
        matcher = Matcher(deadline)
        single = "pattern" in body
        patterns = [body["pattern"]] if single else list(body.get("anyPattern") or [])
        failures: list[tuple[str, FieldPath, Mismatch]] = []
        skipped: list[Mismatch] = []
        for i, pattern in enumerate(patterns):
            if has_references(pattern):
                pattern = references.prepare(pattern, in_foreach)  # $(...) and {{@}}, before variables
            substituted = has_variables(pattern)
            if substituted:
                pattern = substitute(pattern, data, deadline)
            found = matcher.match(scope, pattern, cache=not substituted)
            if found is None:
                return PASS, "", ()
            if found.skip:
                skipped.append(found)
            else:
                failures.append((label if single else f"{label}[{i}]", (*base, *found.path), found))
        if not failures:
            why = skipped[0].message if single and skipped else "no anyPattern applies"
            return SKIP, f"rule {label} skipped: {why}", ()
        return FAIL, self._failure(rule, data, deadline, failures), failures[0][1]

    def _failure(self, rule: Rule, data: dict[str, Any], deadline: Deadline,
                 failures: list[tuple[str, FieldPath, Mismatch]]) -> str:
        where = " ".join(f"rule {label} failed at path {slash_path(path)}" for label, path, _ in failures)
        return f"validation error: {self._message(rule, data, deadline).rstrip('.')}. {where}"

    def _pod_security(self, rule: Rule, obj: Mapping[str, Any],
                      exception: PolicyException | None) -> tuple[str, str, FieldPath]:
        prefix, violations = self._pss_violations(rule, obj, exception)
        if violations is None:
            return SKIP, f"{obj.get('kind') or ''} has no pod template", ()
        if not violations:
            return PASS, "", ()
        spec = rule.validate["podSecurity"]
        level = str(spec.get("level"))
        version = str(spec.get("version") or "latest")
        text = f"Validation rule '{rule.name}' failed. {pss.message(level, version, violations)}"
        return FAIL, text, (*prefix, *violations[0].path)

    def _pss_violations(self, rule: Rule, obj: Mapping[str, Any], exception: PolicyException | None
                        ) -> tuple[FieldPath, list[pss.Violation] | None]:
        """(where the pod template is, the violations left after excludes); None: no pod template."""
        settings = self._pss.get(id(rule))
        if settings is None:
            spec = rule.validate["podSecurity"]
            settings = self._pss[id(rule)] = (
                str(spec.get("level")), pss.parse_version(str(spec.get("version") or "latest")) or pss.LATEST_MINOR,
                [e for e in spec.get("exclude") or [] if isinstance(e, dict)])
        level, minor, excludes = settings
        prefix: FieldPath = ()
        pod: Any = obj
        kind = str(obj.get("kind") or "")
        if kind != "Pod":
            prefix = template_path(kind)
            for part in prefix:
                pod = pod.get(part) if isinstance(pod, dict) else None
        if not isinstance(pod, dict):
            return prefix, None
        meta = mapping(pod.get("metadata"))
        pod_spec = mapping(pod.get("spec"))
        if exception is not None and exception.pod_security:
            excludes = [*excludes, *exception.pod_security]
        return prefix, [v for v in pss.check(meta, pod_spec, level, minor) if not pss.excluded(v, excludes)]

    def _foreach(self, rule: Rule, entries: list[dict[str, Any]], scope: Any, data: dict[str, Any],
                 deadline: Deadline, depth: int, paths: dict[str, FieldPath]
                 ) -> tuple[int, tuple[str, str, FieldPath] | None]:
        applied = 0
        for entry in entries:
            list_expr = str(substitute_string(str(entry["list"]).strip(), data, deadline))
            items = jmes.search(list_expr, data, deadline)
            if items is None:
                continue
            if not isinstance(items, list):
                raise RuleError(f"foreach list {entry['list']!r} is not a list")
            if len(items) > MAX_FOREACH_ELEMENTS:
                raise RuleError(f"foreach list {entry['list']!r} has {len(items)} elements, over the "
                                f"{MAX_FOREACH_ELEMENTS} bound")
            base = _list_base(list_expr, paths)
            for index, element in enumerate(items):
                deadline.check()
                inner = dict(data)
                inner["element"], inner["elementIndex"] = element, index
                inner[f"element{depth}"], inner[f"elementIndex{depth}"] = element, index
                where = (*base, index) if base is not None else None
                inner_paths = dict(paths)
                if where is not None:
                    inner_paths["element"] = inner_paths[f"element{depth}"] = where
                else:
                    inner_paths.pop("element", None)
                self._load_context(entry.get("context"), inner, _NO_TARGET, deadline, {})
                held, _ = conditions.evaluate(entry.get("preconditions"), inner, deadline, lenient=True)
                if not held:
                    continue
                outcome = self._foreach_body(rule, entry, element, scope, inner, deadline, depth, inner_paths,
                                             where)
                if outcome is None:
                    continue
                if outcome[0] == FAIL:
                    return applied, outcome
                applied += 1
        return applied, None

    def _foreach_body(self, rule: Rule, entry: dict[str, Any], element: Any, scope: Any, data: dict[str, Any],
                      deadline: Deadline, depth: int, paths: dict[str, FieldPath], where: FieldPath | None
                      ) -> tuple[str, str, FieldPath] | None:
        """(status, message, path) of one element, or None when it was skipped."""
        if entry.get("foreach") is not None:
            applied, failure = self._foreach(rule, entry["foreach"], scope, data, deadline, depth + 1, paths)
            if failure is not None:
                return failure
            return (PASS, "", ()) if applied else None
        if entry.get("deny") is not None:
            status, message, _ = self._deny(rule, entry["deny"], data, deadline, ())
            return status, message, where or ()
        element_scope = entry.get("elementScope", True) is not False
        target = element if element_scope else scope
        base = (where or ()) if element_scope else ()
        status, message, path = self._patterns(rule, entry, target, data, deadline, base, rule.name, in_foreach=True)
        if status == SKIP:
            return None
        return status, message, path if (where is not None or not element_scope) else ()


_NO_TARGET = Target({}, "", "", "", "", "")


class _Once:
    """A value computed on first use (the per-resource JMESPath data most rules never need)."""

    __slots__ = ("_make", "_value")

    def __init__(self, make: Callable[[], dict[str, Any]]) -> None:
        self._make = make
        self._value: dict[str, Any] | None = None

    def get(self) -> dict[str, Any]:
        if self._value is None:
            self._value = self._make()
        return self._value


_NO_DATA: dict[str, Any] = {}


def _reads_data(rule: Rule) -> bool:
    """True unless the rule is a plain pattern / anyPattern / podSecurity without variables, context
    or preconditions (those never read the JMESPath data except for a failure's message)."""
    if rule.raw.get("context") or rule.raw.get("preconditions"):
        return True
    if rule.validate_type == "podSecurity":
        return False
    if rule.validate_type in ("pattern", "anyPattern"):
        written = rule.validate.get(rule.validate_type)
        return has_variables(written) or has_references(written)
    return True


def _match_kinds(rule: Rule) -> set[str] | None:
    """The kind names a rule's match block can accept, or None when it may match any kind."""
    if rule.validate_type == "vpol":
        return None
    block = rule.raw.get("match")
    if not isinstance(block, dict):
        return None
    filters = [f for f in (block.get("any") or []) + (block.get("all") or []) if isinstance(f, dict)]
    if not filters:
        filters = [block]
    kinds: set[str] = set()
    restricted = False
    for flt in filters:
        entries = mapping(flt.get("resources")).get("kinds") or []
        if not entries:
            if block.get("all"):
                continue  # in an all block another filter may name the kinds
            return None
        for entry in entries:
            kind = parse_kind(str(entry))[2]
            if has_wildcard(kind):
                return None
            kinds.add(kind)
        restricted = True
    return kinds if restricted else None


def request_of(data: Mapping[str, Any]) -> dict[str, Any]:
    """The admission request CEL sees, from the JMESPath data (request minus object/oldObject)."""
    request = dict(data.get("request") or {})
    request.pop("object", None)
    request.pop("oldObject", None)
    return request


def _list_base(expression: str, paths: Mapping[str, FieldPath]) -> FieldPath | None:
    """The field path a foreach list expression reads (``request.object.spec.containers`` ->
    spec.containers), when it is a plain path; None otherwise."""
    m = _LIST_PATH.match(expression.replace(" ", ""))
    if m is None:
        return None
    root, rest = m.group(1), m.group(2)
    parts = tuple(p for p in rest.split(".") if p)
    if root == "request.object":
        return parts
    start = paths.get(root)
    return None if start is None else (*start, *parts)
