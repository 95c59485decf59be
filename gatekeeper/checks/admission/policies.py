"""ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding objects read into compiled form.

Every CEL expression (matchConditions, variables, validations, messageExpressions) is compiled
once here. One that does not compile fails the run with the file, line and compiler message; one
over the engine's nesting limit is kept as a finding at its line in the policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gatekeeper import cel
from gatekeeper.cel.views import merge_paths
from gatekeeper.checks.base import CheckLoadError
from gatekeeper.model import FieldPath, Resource, Severity

GROUP = "admissionregistration.k8s.io"
POLICY_KIND = "ValidatingAdmissionPolicy"
BINDING_KIND = "ValidatingAdmissionPolicyBinding"
VARIABLES = ("object", "oldObject", "request", "params", "namespaceObject", "authorizer", "variables")
ACTIONS = ("Deny", "Warn", "Audit")
_SEVERITY = {"Deny": Severity.ERROR, "Warn": Severity.WARNING, "Audit": Severity.INFO}


@dataclass(slots=True)
class Expression:
    """A compiled expression and where it is written."""

    source: str
    path: FieldPath
    program: cel.Program | None = None  # None: over the engine's limits (see ``limit``)
    limit: str = ""
    where: FieldPath = ()  # the object field it reads, when it reads exactly one


@dataclass(slots=True)
class Validation:
    expression: Expression
    message: str = ""
    message_expression: Expression | None = None
    reason: str = ""


@dataclass(slots=True)
class Policy:
    """A ValidatingAdmissionPolicy, compiled."""

    resource: Resource
    name: str
    failure_policy: str = "Fail"
    param_kind: tuple[str, str] | None = None  # (apiVersion, kind)
    match: dict[str, Any] = field(default_factory=dict)
    match_conditions: list[tuple[str, Expression]] = field(default_factory=list)
    variables: list[tuple[str, Expression]] = field(default_factory=list)
    validations: list[Validation] = field(default_factory=list)
    expression_count: int = 0  # how many expressions it has (set when read)
    views: dict[int, tuple[Any, Any]] = field(default_factory=dict)  # by the object's view (evaluate)

    @property
    def object_paths(self) -> tuple[tuple[str, ...], ...] | None:
        """The paths below ``object`` the policy's expressions can read (None: the whole object). A
        variable that is just a field of ``object`` (``object.spec.template.spec.containers``) counts as
        what the other expressions read below ``variables.NAME``."""
        aliases: dict[str, tuple[str, ...]] = {}
        for name, expr in self.variables:
            chain = expr.program.ast.chain_of("object") if expr.program is not None else None
            if chain:
                aliases[name] = chain
        groups: list[tuple[tuple[str, ...], ...] | None] = []
        for expr in self.expressions():
            if expr.program is None:
                continue
            if any(expr is e and name in aliases for name, e in self.variables):
                continue  # read through its uses below
            groups.append(expr.program.ast.read_paths("object"))
            if aliases and "variables" in expr.program.variables:
                used = expr.program.ast.read_paths("variables")
                if used is None:
                    groups.append(tuple(aliases.values()))
                else:
                    groups.append(tuple((*aliases[p[0]], *p[1:]) for p in used if p[0] in aliases))
        return merge_paths(groups)

    @property
    def reads(self) -> frozenset[str]:
        """The variables (object, request, params...) the policy's expressions read."""
        return frozenset(v for e in self.expressions() if e.program is not None for v in e.program.variables)

    def expressions(self) -> list[Expression]:
        """Every expression of the policy."""
        out = [e for _n, e in self.match_conditions] + [e for _n, e in self.variables]
        for v in self.validations:
            out.append(v.expression)
            if v.message_expression is not None:
                out.append(v.message_expression)
        return out


@dataclass(slots=True)
class Binding:
    """A ValidatingAdmissionPolicyBinding."""

    resource: Resource
    name: str
    policy_name: str
    actions: tuple[str, ...]
    match: dict[str, Any] | None = None
    param_ref: dict[str, Any] | None = None
    severity: Severity = Severity.ERROR  # the highest of the actions (Deny error, Warn warning, Audit info)
    suffix: str = ""  # what every message of the binding ends with: the policy and binding names

    def __post_init__(self) -> None:
        self.severity = max(_SEVERITY[a] for a in self.actions)
        self.suffix = f" [{POLICY_KIND} {self.policy_name}, binding {self.name}]"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _compile(env: cel.Environment, resource: Resource, source: Any, path: FieldPath) -> Expression:
    if not isinstance(source, str):
        raise CheckLoadError(f"{resource.path}:{resource.locate(path)[0]}: {resource.kind} {resource.name}: "
                             f"{'.'.join(map(str, path))} must be a CEL expression (a string)")
    expr = Expression(source, path)
    try:
        expr.program = env.compile(source)
        paths = set(expr.program.ast.select_paths("object"))
        expr.where = next(iter(paths)) if len(paths) == 1 else ()
    except cel.CompileError as exc:
        if not exc.limit:
            raise CheckLoadError(
                f"{resource.path}:{resource.locate(path)[0]}: {resource.kind} {resource.name}: "
                f"{'.'.join(map(str, path))} does not compile: {exc.message} "
                f"(expression line {exc.line}, column {exc.column})") from None
        expr.limit = exc.message
    return expr


def read_policy(resource: Resource) -> Policy:
    """Compile a ValidatingAdmissionPolicy (``CheckLoadError`` for an expression that does not compile)."""
    return read_spec(resource, _dict(resource.obj.get("spec")), ("spec",))


def read_spec(resource: Resource, spec: dict[str, Any], at: FieldPath,
              preset: tuple[tuple[str, str], ...] = ()) -> Policy:
    """Compile a policy-shaped block (matchConditions, variables, validations...) written at ``at`` in
    ``resource``; ``preset`` variables (name, expression) come first, as Gatekeeper defines its own."""
    env = cel.environment(VARIABLES)
    policy = Policy(resource, resource.name or "")
    for name, source in preset:
        policy.variables.append((name, _compile(env, resource, source, ())))
    policy.failure_policy = "Ignore" if spec.get("failurePolicy") == "Ignore" else "Fail"
    param = _dict(spec.get("paramKind"))
    if isinstance(param.get("apiVersion"), str) and isinstance(param.get("kind"), str):
        policy.param_kind = (param["apiVersion"], param["kind"])
    policy.match = _dict(spec.get("matchConstraints"))
    for i, entry in enumerate(_list(spec.get("matchConditions"))):
        entry = _dict(entry)
        policy.match_conditions.append((str(entry.get("name", i)), _compile(
            env, resource, entry.get("expression"), (*at, "matchConditions", i, "expression"))))
    for i, entry in enumerate(_list(spec.get("variables"))):
        entry = _dict(entry)
        policy.variables.append((str(entry.get("name", "")), _compile(
            env, resource, entry.get("expression"), (*at, "variables", i, "expression"))))
    for i, entry in enumerate(_list(spec.get("validations"))):
        entry = _dict(entry)
        validation = Validation(_compile(env, resource, entry.get("expression"),
                                         (*at, "validations", i, "expression")),
                                message=str(entry.get("message") or ""), reason=str(entry.get("reason") or ""))
        if isinstance(entry.get("messageExpression"), str) and entry["messageExpression"].strip():
            validation.message_expression = _compile(env, resource, entry["messageExpression"],
                                                     (*at, "validations", i, "messageExpression"))
        policy.validations.append(validation)
    policy.expression_count = len(policy.expressions())
    return policy


def read_binding(resource: Resource) -> Binding:
    """A ValidatingAdmissionPolicyBinding (actions default to Deny when none are given)."""
    spec = _dict(resource.obj.get("spec"))
    actions = tuple(a for a in _list(spec.get("validationActions")) if a in ACTIONS) or ("Deny",)
    match = spec.get("matchResources")
    param_ref = spec.get("paramRef")
    return Binding(resource, resource.name or "", str(spec.get("policyName") or ""), actions,
                   match if isinstance(match, dict) else None, param_ref if isinstance(param_ref, dict) else None)


def is_policy(resource: Resource) -> bool:
    return resource.kind == POLICY_KIND and resource.group == GROUP


def is_binding(resource: Resource) -> bool:
    return resource.kind == BINDING_KIND and resource.group == GROUP
