"""One binding of one policy against one object, as the API server admits a CREATE.

Order: match (the policy's constraints, then the binding's resources), params (each object the
binding's ``paramRef`` selects; none found follows ``parameterNotFoundAction``), matchConditions
(all must hold), variables (in order, each seeing the earlier ones), validations. A failed
validation is an outcome at the severity of the binding's actions (Deny error, Warn warning,
Audit info); an expression that cannot be evaluated follows ``failurePolicy`` (Fail: the
actions' severity, Ignore: info). Expressions reading ``authorizer`` cannot run offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gatekeeper import cel
from gatekeeper.cel.measure import measure
from gatekeeper.cel.views import Trie
from gatekeeper.checks.admission.matching import NAME_LABEL, Scope, Target
from gatekeeper.checks.admission.policies import VARIABLES, Binding, Expression, Policy
from gatekeeper.checks.policy.match import selector_matches
from gatekeeper.checks.secrets.masking import cut
from gatekeeper.model import FieldPath, Resource, Severity

MESSAGE_LIMIT = 400
_NULL = (1, True)  # what null measures (``cel.measure``)


@dataclass(slots=True)
class Outcome:
    """A finding-to-be: what happened, where in the object, how severe."""

    rule: str  # admission-denied, -error, -params or -unsupported
    message: str
    path: FieldPath
    severity: Severity
    evidence: str


_ENV: list[cel.Environment] = []


def _env() -> cel.Environment:
    if not _ENV:
        _ENV.append(cel.environment(VARIABLES))
    return _ENV[0]


class _Failed(Exception):
    """An expression could not be evaluated (the failure policy decides)."""

    def __init__(self, expression: Expression, message: str) -> None:
        super().__init__(message)
        self.expression = expression
        self.message = message


class _Limit(_Failed):
    """An expression over the cost budget: a finding whatever the failure policy (it can never pass)."""


class _Unsupported(_Failed):
    """An expression needs what does not exist offline."""


def _request(target: Target) -> dict[str, Any]:
    kind = {"group": target.group, "version": target.version, "kind": target.kind}
    res = {"group": target.group, "version": target.version, "resource": target.plural}
    return {"kind": kind, "resource": res, "requestKind": kind, "requestResource": res, "subResource": "",
            "name": target.resource.name or "", "namespace": target.namespace or "", "operation": "CREATE",
            "userInfo": {"username": "", "groups": []}, "dryRun": False, "uid": "",
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}


def _namespace_object(target: Target, scope: Scope) -> dict[str, Any] | None:
    if target.cluster_scoped or target.namespace is None:
        return None
    found = scope.namespaces.get(target.namespace)
    if found is not None:
        return found
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": target.namespace, "labels": {NAME_LABEL: target.namespace}}}


def _run(expr: Expression, bound: Any, budget: cel.Budget | None) -> Any:
    program = expr.program
    if program is None:
        raise _Failed(expr, expr.limit)
    if "authorizer" in program.variables:
        raise _Unsupported(expr, "reads authorizer, which needs an API server")
    try:
        return program.result(bound, budget=budget)[0]
    except cel.Unsupported as exc:
        raise _Unsupported(expr, exc.message) from None
    except cel.CostLimitExceeded as exc:
        raise _Limit(expr, exc.message) from None
    except cel.EvaluationError as exc:
        raise _Failed(expr, exc.message) from None


def select_params(policy: Policy, binding: Binding, target: Target,
                  params: dict[tuple[str, str], list[Resource]]) -> list[Resource] | None:
    """The param objects a binding selects for this object (None: the binding names none)."""
    ref = binding.param_ref
    if ref is None or policy.param_kind is None:
        return None
    candidates = params.get(policy.param_kind, [])
    namespace = ref.get("namespace") if isinstance(ref.get("namespace"), str) else target.namespace
    chosen = [r for r in candidates if r.namespace is None or namespace is None or r.namespace == namespace]
    if isinstance(ref.get("name"), str) and ref["name"]:
        return [r for r in chosen if r.name == ref["name"]]
    selector = ref.get("selector")
    if isinstance(selector, dict):
        return [r for r in chosen if selector_matches(selector, _labels(r.obj))]
    return []


def _labels(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return labels if isinstance(labels, dict) else {}


@dataclass(slots=True)
class Shared:
    """What every binding evaluated for one object shares: the values, bound once for every policy
    without params, the object viewed through the paths the applicable policies read (``paths``): the
    runtime is given it pruned to them, and only they are measured (no copy is made for that)."""

    base: dict[str, Any]
    paths: Trie | None
    measured: tuple[int, bool] | None = None  # the object's measure within ``paths``, when known
    _bindings: cel.Bindings | None = None

    @classmethod
    def of(cls, target: Target, scope: Scope, paths: Trie | None, reads: frozenset[str],
           obj: dict[str, Any] | None = None, measured: tuple[int, bool] | None = None) -> Shared:
        """Only what the policies read is built and bound (a request or a namespace costs conversion);
        ``obj`` is the object as policies may see it (detected secret values redacted), ``measured`` what
        it measures within ``paths`` (``cel.measure``) when the caller found it."""
        base: dict[str, Any] = {"object": target.resource.obj if obj is None else obj, "oldObject": None,
                                "params": None}
        if "request" in reads:
            base["request"] = _request(target)
        if "namespaceObject" in reads:
            base["namespaceObject"] = _namespace_object(target, scope)
        return cls(base, paths, measured)

    def bindings(self) -> cel.Bindings:
        if self._bindings is None:
            views: dict[str, Trie | None] | None = {"object": self.paths} if self.paths is not None else None
            measured = {"oldObject": _NULL, "params": _NULL}
            if self.measured is not None:
                measured["object"] = self.measured
            self._bindings = _env().bindings(self.base, views=views, measured=measured)
        return self._bindings


def _variables_view(policy: Policy, paths: Trie | None) -> dict[str, Trie | None] | None:
    """``variable_view`` as ``Bindings`` takes it, found once per policy and object view."""
    if paths is None:
        return None
    found = policy.views.get(id(paths))
    if found is None:
        found = policy.views[id(paths)] = (paths, {"variables": variable_view(policy, paths)})
    return found[1]


def variable_view(policy: Policy, paths: Trie | None) -> Trie | None:
    """The view of ``variables`` matching the object's (``paths``): a variable that is a field of
    ``object`` (``object.spec.template.spec.containers``) is seen through the object's view below that
    field, as if the object had been pruned before the variable was evaluated; others whole."""
    if paths is None:
        return None
    view: dict[str, Trie | None] = {}
    for name, expr in policy.variables:
        chain = expr.program.ast.chain_of("object") if expr.program is not None else None
        below: Trie | None = None
        if chain:
            below = paths
            for key in chain:
                if below is None:
                    break
                below = below.get(key, {})
        view[name] = below
    return view


def evaluate(policy: Policy, binding: Binding, target: Target, shared: Shared,
             params: dict[tuple[str, str], list[Resource]],
             measured: dict[int, tuple[Resource, tuple[int, bool]]] | None = None) -> list[Outcome]:
    """Every outcome of a binding for one object it matches (empty: the object passes). ``measured``:
    what param objects measure (``cel.measure``), kept by the caller across objects."""
    severity = binding.severity
    suffix = binding.suffix
    selected: list[Resource | None]
    if policy.param_kind is None:
        selected = [None]
    else:
        found = select_params(policy, binding, target, params)
        if found is None:
            return [Outcome("admission-params", f"the policy has paramKind {policy.param_kind[1]} but the binding "
                            "has no paramRef" + suffix, (), severity, "no-param-ref")]
        if not found:
            ref = binding.param_ref or {}
            if ref.get("parameterNotFoundAction") == "Allow":
                return []
            what = f"named {ref['name']}" if ref.get("name") else "matching the selector"
            return [Outcome("admission-params", f"no {policy.param_kind[1]} ({policy.param_kind[0]}) {what} found "
                            "for the binding's paramRef (parameterNotFoundAction: Deny)" + suffix, (), severity,
                            "no-params")]
        selected = list(found)
    out: list[Outcome] = []
    for param in selected:
        try:
            bindings = shared.bindings()
            if param is not None:
                known = measured.get(id(param)) if measured is not None else None
                if known is None:
                    known = (param, measure(param.obj))
                    if measured is not None:
                        measured[id(param)] = known
                bindings = bindings.with_values({"params": param.obj}, {"params": known[1]})
            out.extend(_one(policy, bindings, severity, suffix, _budget(policy), shared.paths))
        except _Unsupported as exc:
            out.append(Outcome("admission-unsupported", f"not evaluated offline: {_short(exc.expression.source)!r} "
                               f"{exc.message}" + suffix, (), Severity.INFO, "unsupported"))
        except _Limit as exc:
            out.append(_limit(exc, severity, suffix))
        except _Failed as exc:
            level = severity if policy.failure_policy == "Fail" else Severity.INFO
            text = (f"expression could not be evaluated (failurePolicy {policy.failure_policy}): {exc.message} "
                    f"[expression: {_short(exc.expression.source)}]")
            out.append(Outcome("admission-error", text + suffix, exc.expression.where, level,
                               exc.expression.source))
    return out


def run(policy: Policy, base: dict[str, Any], severity: Severity = Severity.ERROR) -> list[Outcome]:
    """A policy-shaped block against ready bindings (object, oldObject, params, request, namespaceObject),
    without binding or params logic: CEL code of Gatekeeper templates. Evaluation errors are outcomes of
    ``admission-error`` at ``severity`` (whatever the failure policy: a template's error is a finding)."""
    try:
        return _one(policy, _env().bindings(base), severity, "", _budget(policy))
    except _Unsupported as exc:
        return [Outcome("admission-unsupported", f"not evaluated offline: {_short(exc.expression.source)!r} "
                        f"{exc.message}", (), Severity.INFO, "unsupported")]
    except _Limit as exc:
        return [_limit(exc, severity, "")]
    except _Failed as exc:
        return [Outcome("admission-error", f"expression could not be evaluated: {exc.message} "
                        f"[expression: {_short(exc.expression.source)}]", exc.expression.where, severity,
                        exc.expression.source)]


def _budget(policy: Policy) -> cel.Budget | None:
    """A total cost budget for one evaluation of ``policy``: None when it has too few expressions to
    pass it (each is held to the per-expression limit, a tenth of the total)."""
    return cel.Budget() if policy.expression_count * cel.COST_LIMIT > cel.TOTAL_BUDGET else None


def _limit(exc: _Limit, severity: Severity, suffix: str) -> Outcome:
    return Outcome("admission-limit", f"expression over the evaluation limits: {exc.message} "
                   f"[expression: {_short(exc.expression.source)}]" + suffix, exc.expression.where, severity,
                   exc.expression.source)


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 120 else flat[:117] + "..."


def _one(policy: Policy, bindings: cel.Bindings, severity: Severity, suffix: str,
         budget: cel.Budget | None, paths: Trie | None = None) -> list[Outcome]:
    """One policy with one set of bindings (without ``variables``): expressions that do not read
    variables share them (and the runtime's conversion of the object, when one needs it). Every
    expression evaluated is charged to ``budget``, the evaluation's total."""
    bound = bindings
    for _name, condition in policy.match_conditions:
        value = _run(condition, bound, budget)
        if value is False:
            return []
        if value is not True:
            raise _Failed(condition, "matchCondition did not evaluate to a boolean")
    if policy.variables:
        views = _variables_view(policy, paths)
        values: dict[str, Any] = {}
        failed: dict[str, _Failed] = {}
        for name, expr in policy.variables:
            reads = expr.program is not None and "variables" in expr.program.variables
            try:
                values[name] = _run(expr, bindings.with_values({"variables": dict(values)}, views=views)
                                    if reads else bindings, budget)
            except _Unsupported:
                raise
            except _Failed as exc:
                failed[name] = exc
        bound = bindings.with_values({"variables": values}, views=views)
    else:
        failed = {}
    out: list[Outcome] = []
    for validation in policy.validations:
        expr = validation.expression
        if failed and expr.program is not None:
            used = {p[0] for p in expr.program.ast.select_paths("variables") if p}
            missing = sorted(used & failed.keys())
            if missing:
                raise failed[missing[0]]
        value = _run(expr, bound, budget)
        if value is True:
            continue
        if value is not False:
            raise _Failed(expr, "validation did not evaluate to a boolean")
        message = _message(validation.message, validation.message_expression, bound, expr.source, budget)
        if validation.reason:
            message += f" (reason: {validation.reason})"
        out.append(Outcome("admission-denied", cut(message, MESSAGE_LIMIT) + suffix, expr.where, severity, expr.source))
    return out


def _message(static: str, expression: Expression | None, bound: Any, source: str,
             budget: cel.Budget | None) -> str:
    """messageExpression's string (when it evaluates to a non-empty one-line string), else message,
    else the API server's default."""
    if expression is not None and expression.program is not None:
        try:
            value = expression.program.evaluate(bound, budget=budget)
        except cel.CelError:
            value = None
        if isinstance(value, str) and value.strip() and "\n" not in value:
            return value
    return static or f"failed expression: {_short(source)}"
