"""The Kyverno policy model: ClusterPolicy / Policy (kyverno.io v1, v2beta1) read from documents and
checked as Kyverno's admission webhook would check them, so a policy Kyverno rejects is a load
error naming the file and line, never a silent pass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.kyverno import celeval, jmes, pss
from gatekeeper.kyverno.autogen import expand
from gatekeeper.kyverno.conditions import OPERATORS
from gatekeeper.kyverno.errors import KyvernoLoadError
from gatekeeper.kyverno.pattern import parse_anchor
from gatekeeper.kyverno.shape import mapping
from gatekeeper.kyverno.variables import VARIABLE, expressions
from gatekeeper.model import Document, FieldPath, format_field

POLICY_GROUP = "kyverno.io"
POLICY_VERSIONS = ("kyverno.io/v1", "kyverno.io/v2beta1", "kyverno.io/v2")
POLICY_KINDS = ("ClusterPolicy", "Policy")
RULE_TYPES = ("validate", "mutate", "generate", "verifyImages")
VALIDATE_TYPES = ("pattern", "anyPattern", "deny", "foreach", "podSecurity", "cel", "manifests", "assert")
ACTIONS = {"enforce": "Enforce", "audit": "Audit"}
NOT_OFFLINE = {"mutate": "mutate", "generate": "generate", "verifyImages": "verifyImages",
               "manifests": "validate.manifests (signature checks)", "assert": "validate.assert",
               "cel": "validate.cel (the CEL engine is not installed)",
               "vpol": "ValidatingPolicy (the CEL engine is not installed)"}


def is_policy(obj: Any) -> bool:
    return (isinstance(obj, dict) and obj.get("kind") in POLICY_KINDS
            and obj.get("apiVersion") in POLICY_VERSIONS)


@dataclass(slots=True)
class Rule:
    """One rule as evaluated: Kyverno's own, or one auto-generated for Pod controllers."""

    name: str
    raw: dict[str, Any]
    kind: str  # validate / mutate / generate / verifyImages
    validate_type: str  # pattern / anyPattern / deny / foreach / podSecurity / cel / manifests / ""
    pointer: FieldPath  # where the rule is written in the policy document
    source_name: str = ""  # the written rule an auto-generated one comes from
    autogen: str = ""  # "" / "controllers" / "cronjob"

    @property
    def evaluated(self) -> bool:
        if self.validate_type in ("cel", "vpol"):
            return celeval.available()
        return self.kind == "validate" and self.validate_type not in NOT_OFFLINE

    @property
    def validate(self) -> dict[str, Any]:
        value = self.raw.get("validate")
        return value if isinstance(value, dict) else {}


@dataclass(slots=True)
class Policy:
    """A loaded policy and its rules (auto-generated ones included)."""

    name: str
    namespace: str | None
    kind: str
    doc: Document
    base: FieldPath
    spec: dict[str, Any]
    annotations: dict[str, Any]
    rules: list[Rule] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The name ``kyverno test`` results use: ``ns/name`` for a namespaced Policy."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def path(self) -> str:
        return self.doc.path

    def line(self, pointer: FieldPath = ()) -> int:
        return self.doc.locate((*self.base, *pointer))[0]

    @property
    def scored(self) -> bool:
        return str(self.annotations.get("policies.kyverno.io/scored", "true")).lower() != "false"

    def action(self, rule: Rule) -> str:
        """Enforce or Audit for a rule (rule-level failureAction over the policy's)."""
        raw = rule.validate.get("failureAction") or self.spec.get("validationFailureAction") or "Audit"
        return ACTIONS.get(str(raw).lower(), "Audit")

    def overrides(self, rule: Rule) -> list[dict[str, Any]]:
        found = rule.validate.get("failureActionOverrides") or self.spec.get("validationFailureActionOverrides")
        return [o for o in found if isinstance(o, dict)] if isinstance(found, list) else []


Fail = Callable[[FieldPath, str], KyvernoLoadError]


def open_document(doc: Document, base: FieldPath) -> tuple[dict[str, Any], dict[str, Any], str, dict[str, Any], Fail]:
    """(object, metadata, name, spec, fail) of a policy document, after the checks every kind makes:
    a name and a spec mapping. ``fail`` builds a load error at a field, naming the kind and policy."""
    obj = doc.obj
    for part in base:
        obj = obj[part]
    meta = mapping(obj.get("metadata"))
    name = meta.get("name")

    def fail(pointer: FieldPath, message: str) -> KyvernoLoadError:
        where = format_field(pointer)
        return KyvernoLoadError(doc.path, doc.locate((*base, *pointer))[0],
                                f"{obj.get('kind')} {name or '<unnamed>'}: {where + ': ' if where else ''}{message}")

    if not isinstance(name, str) or not name:
        raise fail(("metadata",), "metadata.name is required")
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise fail(("spec",), "spec must be a mapping")
    return obj, meta, name, spec, fail


def load(doc: Document, base: FieldPath = ()) -> Policy:
    """Read and check one policy document; KyvernoLoadError naming file and line when Kyverno would
    reject it."""
    obj, meta, name, spec, fail = open_document(doc, base)
    action = spec.get("validationFailureAction")
    if action is not None and str(action).lower() not in ACTIONS:
        raise fail(("spec", "validationFailureAction"), f"validationFailureAction must be Enforce or Audit, not "
                                                        f"{action!r}")
    rules = spec.get("rules")
    if not isinstance(rules, list) or not rules:
        raise fail(("spec", "rules"), "a policy needs at least one rule")
    annotations = mapping(meta.get("annotations"))
    namespace = meta.get("namespace") if obj.get("kind") == "Policy" else None
    policy = Policy(name, str(namespace or "default") if obj.get("kind") == "Policy" else None, str(obj["kind"]),
                    doc, base, spec, annotations)
    seen: set[str] = set()
    for i, raw in enumerate(rules):
        pointer: FieldPath = ("spec", "rules", i)
        if not isinstance(raw, dict):
            raise fail(pointer, "a rule must be a mapping")
        rule = _load_rule(raw, pointer, fail)
        if rule.name in seen:
            raise fail((*pointer, "name"), f"duplicate rule name {rule.name!r}")
        seen.add(rule.name)
        policy.rules.append(rule)
    policy.rules.extend(r for rule in list(policy.rules) for r in expand(rule, annotations))
    return policy


def _load_rule(raw: dict[str, Any], pointer: FieldPath, fail: Any) -> Rule:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise fail((*pointer, "name"), "a rule needs a name")
    kinds = [k for k in RULE_TYPES if raw.get(k) not in (None, {})]
    if not kinds:
        raise fail(pointer, f"rule {name!r} has no validate, mutate, generate or verifyImages")
    if len(kinds) > 1:
        raise fail(pointer, f"rule {name!r} has more than one of {', '.join(kinds)}")
    if not isinstance(raw.get("match"), dict) or not raw["match"]:
        raise fail((*pointer, "match"), f"rule {name!r} needs a match block")
    for block in ("match", "exclude"):
        _check_match(raw.get(block), (*pointer, block), fail)
    _check_conditions(raw.get("preconditions"), (*pointer, "preconditions"), fail)
    _check_context(raw.get("context"), (*pointer, "context"), fail)
    pre = raw.get("celPreconditions")
    if pre is not None:
        if not isinstance(pre, list) or not all(isinstance(p, dict) and isinstance(p.get("expression"), str)
                                                for p in pre):
            raise fail((*pointer, "celPreconditions"), "celPreconditions must be a list of named expressions")
        bad = celeval.check_compiles([((*pointer, "celPreconditions", i, "expression"), p["expression"])
                                      for i, p in enumerate(pre)]) if celeval.available() else None
        if bad is not None:
            raise fail(bad[0], f"CEL expression does not compile: {bad[1]}")
    vtype = ""
    if kinds[0] == "validate":
        validate = raw["validate"]
        if not isinstance(validate, dict):
            raise fail((*pointer, "validate"), "validate must be a mapping")
        vtype = _check_validate(validate, (*pointer, "validate"), fail)
    _check_variables(raw, pointer, fail)
    return Rule(name, raw, kinds[0], vtype, pointer, name)


def _check_validate(validate: dict[str, Any], pointer: FieldPath, fail: Any) -> str:
    present = [k for k in VALIDATE_TYPES if validate.get(k) is not None]
    if not present:
        raise fail(pointer, "validate needs one of pattern, anyPattern, deny, foreach, podSecurity or cel")
    if len(present) > 1:
        raise fail(pointer, f"validate may hold only one of pattern, anyPattern, deny, foreach, podSecurity, cel "
                            f"(found {' and '.join(present)})")
    kind = present[0]
    action = validate.get("failureAction")
    if action is not None and str(action).lower() not in ACTIONS:
        raise fail((*pointer, "failureAction"), f"failureAction must be Enforce or Audit, not {action!r}")
    if kind == "pattern":
        _check_pattern(validate["pattern"], (*pointer, "pattern"), fail)
    elif kind == "anyPattern":
        if not isinstance(validate["anyPattern"], list) or not validate["anyPattern"]:
            raise fail((*pointer, "anyPattern"), "anyPattern must be a non-empty list of patterns")
        for i, pat in enumerate(validate["anyPattern"]):
            _check_pattern(pat, (*pointer, "anyPattern", i), fail)
    elif kind == "deny":
        deny = validate["deny"]
        if not isinstance(deny, dict):
            raise fail((*pointer, "deny"), "deny must be a mapping")
        _check_conditions(deny.get("conditions"), (*pointer, "deny", "conditions"), fail)
    elif kind == "foreach":
        _check_foreach(validate["foreach"], (*pointer, "foreach"), fail)
    elif kind == "podSecurity":
        _check_pod_security(validate["podSecurity"], (*pointer, "podSecurity"), fail)
    elif kind == "cel":
        check_cel(validate["cel"], (*pointer, "cel"), fail)
    return kind


def check_cel(spec: Any, pointer: FieldPath, fail: Any, preconditions: Any = None) -> None:
    """validate.cel: expressions (and variables) that compile, each a mapping with an expression."""
    if not isinstance(spec, dict) or not isinstance(spec.get("expressions"), list) or not spec["expressions"]:
        raise fail(pointer, "cel needs a non-empty expressions list")
    sources: list[tuple[FieldPath, str]] = []
    for key in ("variables", "expressions", "auditAnnotations"):
        entries = spec.get(key) or []
        if not isinstance(entries, list):
            raise fail((*pointer, key), f"{key} must be a list")
        for i, entry in enumerate(entries):
            field_name = "valueExpression" if key == "auditAnnotations" else "expression"
            if not isinstance(entry, dict) or not isinstance(entry.get(field_name), str):
                raise fail((*pointer, key, i), f"each {key} entry needs an {field_name}")
            sources.append(((*pointer, key, i, field_name), entry[field_name]))
            if isinstance(entry.get("messageExpression"), str):
                sources.append(((*pointer, key, i, "messageExpression"), entry["messageExpression"]))
    if celeval.available():
        bad = celeval.check_compiles(sources)
        if bad is not None:
            raise fail(bad[0], f"CEL expression does not compile: {bad[1]}")


def _check_foreach(entries: Any, pointer: FieldPath, fail: Any) -> None:
    if not isinstance(entries, list) or not entries:
        raise fail(pointer, "foreach must be a non-empty list")
    for i, entry in enumerate(entries):
        here = (*pointer, i)
        if not isinstance(entry, dict):
            raise fail(here, "a foreach entry must be a mapping")
        lst = entry.get("list")
        if not isinstance(lst, str) or not lst.strip():
            raise fail((*here, "list"), "foreach needs a list expression")
        problem = jmes.check_syntax(VARIABLE.sub("x", lst.strip()))
        if problem is not None:
            raise fail((*here, "list"), f"invalid JMESPath in list {lst!r}: {problem}")
        bodies = [k for k in ("pattern", "anyPattern", "deny", "foreach") if entry.get(k) is not None]
        if len(bodies) != 1:
            raise fail(here, "a foreach entry needs exactly one of pattern, anyPattern, deny or foreach"
                       + (f" (found {' and '.join(bodies)})" if bodies else ""))
        _check_conditions(entry.get("preconditions"), (*here, "preconditions"), fail)
        _check_context(entry.get("context"), (*here, "context"), fail)
        if bodies[0] == "pattern":
            _check_pattern(entry["pattern"], (*here, "pattern"), fail)
        elif bodies[0] == "anyPattern":
            for j, pat in enumerate(entry["anyPattern"] if isinstance(entry["anyPattern"], list) else []):
                _check_pattern(pat, (*here, "anyPattern", j), fail)
        elif bodies[0] == "deny":
            deny = entry["deny"]
            _check_conditions(deny.get("conditions") if isinstance(deny, dict) else None,
                              (*here, "deny", "conditions"), fail)
        else:
            _check_foreach(entry["foreach"], (*here, "foreach"), fail)


def _check_pod_security(spec: Any, pointer: FieldPath, fail: Any) -> None:
    if not isinstance(spec, dict):
        raise fail(pointer, "podSecurity must be a mapping")
    if spec.get("level") not in pss.LEVELS:
        raise fail((*pointer, "level"), f"podSecurity.level must be one of {', '.join(pss.LEVELS)}")
    if pss.parse_version(spec.get("version")) is None:
        raise fail((*pointer, "version"), f"podSecurity.version must be latest or v1.N, not {spec.get('version')!r}")
    for i, entry in enumerate(spec.get("exclude") or []):
        if not isinstance(entry, dict) or entry.get("controlName") not in pss.CONTROLS:
            raise fail((*pointer, "exclude", i), "exclude entries need a controlName from the Pod Security "
                                                 f"Standards ({', '.join(sorted(pss.CONTROLS))})")


def _check_pattern(pattern: Any, pointer: FieldPath, fail: Any) -> None:
    if isinstance(pattern, dict):
        for key, value in pattern.items():
            anchor = parse_anchor(str(key))
            here = (*pointer, key)
            if anchor is not None and anchor[0] == "unknown":
                raise fail(here, f"unknown anchor in {key!r} (anchors are (), =(), ^(), X() and <())")
            if anchor is not None and anchor[0] == "add":
                raise fail(here, f"the add anchor +() in {key!r} is only valid in mutate rules")
            if anchor is not None and anchor[0] == "existence" and not isinstance(value, list):
                raise fail(here, f"the existence anchor {key!r} needs a list value")
            _check_pattern(value, here, fail)
    elif isinstance(pattern, list):
        for i, item in enumerate(pattern):
            _check_pattern(item, (*pointer, i), fail)


def _check_conditions(block: Any, pointer: FieldPath, fail: Any) -> None:
    if block is None:
        return
    if isinstance(block, list):
        lists = [("", block)]
    elif isinstance(block, dict):
        unknown = [k for k in block if k not in ("any", "all")]
        if unknown:
            raise fail(pointer, f"conditions hold any and all blocks, not {', '.join(map(str, unknown))}")
        lists = [(k, block[k]) for k in ("any", "all") if block.get(k) is not None]
    else:
        raise fail(pointer, "conditions must be an any/all mapping")
    for key, conds in lists:
        base = (*pointer, key) if key else pointer
        if not isinstance(conds, list):
            raise fail(base, "a condition block must be a list")
        for i, cond in enumerate(conds):
            if not isinstance(cond, dict):
                raise fail((*base, i), "a condition must be a mapping with key, operator and value")
            if cond.get("operator") not in OPERATORS:
                raise fail((*base, i, "operator"), f"unknown operator {cond.get('operator')!r} (valid: "
                                                   f"{', '.join(sorted(OPERATORS))})")


def _check_context(entries: Any, pointer: FieldPath, fail: Any) -> None:
    if entries is None:
        return
    if not isinstance(entries, list):
        raise fail(pointer, "context must be a list")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise fail((*pointer, i), "a context entry needs a name")
        kinds = [k for k in ("variable", "configMap", "apiCall", "imageRegistry", "globalReference")
                 if entry.get(k) is not None]
        if len(kinds) != 1:
            raise fail((*pointer, i), f"context entry {entry['name']!r} needs exactly one of variable, configMap, "
                                      "apiCall, imageRegistry or globalReference")
        jp = entry[kinds[0]].get("jmesPath") if isinstance(entry[kinds[0]], dict) else None
        if isinstance(jp, str) and jp.strip():
            problem = jmes.check_syntax(VARIABLE.sub("x", jp.strip()))
            if problem is not None:
                raise fail((*pointer, i, kinds[0], "jmesPath"), f"invalid JMESPath {jp!r}: {problem}")


def _check_variables(value: Any, pointer: FieldPath, fail: Any) -> None:
    """Every ``{{ }}`` expression in the rule must be valid JMESPath."""
    if isinstance(value, str):
        if "{{" not in value:
            return
        for expr in expressions(value):
            if expr.startswith("@") and expr == "@":
                continue
            problem = jmes.check_syntax(expr)
            if problem is not None:
                raise fail(pointer, f"invalid JMESPath in {{{{{expr}}}}}: {problem}")
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in ("cel",):
                continue
            _check_variables(item, (*pointer, key), fail)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_variables(item, (*pointer, i), fail)


def _check_match(block: Any, pointer: FieldPath, fail: Any) -> None:
    """match/exclude: an any/all list of resource filters (or the legacy single filter)."""
    if block is None:
        return
    if not isinstance(block, dict):
        raise fail(pointer, "must be a mapping with any or all")
    filters: list[tuple[FieldPath, Any]] = []
    for key in ("any", "all"):
        if block.get(key) is not None:
            if not isinstance(block[key], list):
                raise fail((*pointer, key), f"{key} must be a list of resource filters")
            filters.extend(((*pointer, key, i), f) for i, f in enumerate(block[key]))
    if not filters and any(block.get(k) for k in ("resources", "subjects", "roles", "clusterRoles")):
        filters.append((pointer, block))
    for where, flt in filters:
        if not isinstance(flt, dict):
            raise fail(where, "a resource filter must be a mapping")
        res = flt.get("resources")
        if res is None:
            continue
        if not isinstance(res, dict):
            raise fail((*where, "resources"), "resources must be a mapping")
        kinds = res.get("kinds")
        if kinds is not None and (not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds)):
            raise fail((*where, "resources", "kinds"), "kinds must be a list of strings")
        for key in ("names", "namespaces", "operations"):
            if res.get(key) is not None and not isinstance(res[key], list):
                raise fail((*where, "resources", key), f"{key} must be a list")
