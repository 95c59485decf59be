"""The check's way through the engine: only the results that become findings, fast.

A scan asks of each resource only which rules fail, err or cannot be decided; almost every rule
passes or does not apply. For each (apiVersion, kind) a plan is made once: the rules whose match
can hold (decided there and then when match and exclude read only kinds, operations and the
user), each as a step that proves the common outcome cheaply with compiled parts (patterns as
generated code, conditions and JMESPath as closures, the Pod Security controls) and otherwise
hands the rule to ``Evaluator._rule``, the one place results are made. A step never makes a
result of its own: when it cannot prove that a rule passes or is skipped, the interpreter
decides, so findings are the interpreter's by construction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gatekeeper.kyverno import conditions, jmes, jmesc, memo, patterngen, reads, variables
from gatekeeper.kyverno.errors import ContextUnavailable, Deadline, RuleError
from gatekeeper.kyverno.match import Target, rule_applies, static_block
from gatekeeper.kyverno.policy import Policy, Rule
from gatekeeper.kyverno.references import has_references
from gatekeeper.kyverno.variables import VARIABLE, expressions, has_variables, substitute_string

if TYPE_CHECKING:
    from gatekeeper.kyverno.engine import Evaluator, Result

REPORTED = frozenset({"fail", "error", "unavailable"})
Body = Callable[["Resource"], bool]  # True: the rule certainly passes or is skipped
Step = Callable[["Resource"], "Result | None"]


class _Defer(Exception):
    """The compiled form cannot decide this evaluation; the interpreter will."""


class Resource:
    """One resource under evaluation: its target, JMESPath data and deadline, each made once."""

    __slots__ = ("_base", "_data", "_deadline", "_keys", "_target", "evaluator", "obj")

    def __init__(self, evaluator: Evaluator, obj: Mapping[str, Any]) -> None:
        self.evaluator, self.obj = evaluator, obj
        self._target: Target | None = None
        self._data: dict[str, Any] | None = None
        self._base: dict[str, Any] | None = None
        self._deadline: Deadline | None = None
        self._keys: memo.Keys | None = None

    def keys(self) -> memo.Keys:
        """The resource's memo keys, each made once (rules reading the same fields share one)."""
        if self._keys is None:
            self._keys = memo.Keys()
        return self._keys

    def target(self) -> Target:
        if self._target is None:
            from gatekeeper.kyverno.engine import target_of
            self._target = target_of(self.obj, self.evaluator.env.cluster_scoped)
        return self._target

    def deadline(self) -> Deadline:
        """Shared by the resource's compiled steps: running past it only hands a rule to the
        interpreter, which evaluates it under its own budget."""
        if self._deadline is None:
            self._deadline = Deadline(self.evaluator.env.budget)
        return self._deadline

    def base(self) -> dict[str, Any]:
        if self._base is None:
            self._base = self.evaluator._base_data(self.obj, self.target())
        return self._base

    def data(self) -> dict[str, Any]:
        """The request data rules read, as ``Evaluator._rule`` makes it (no values file)."""
        if self._data is None:
            ev = self.evaluator
            self._data = ev._data(self.base(), ev._plain, {})
        return self._data

    def interpret(self, policy: Policy, rule: Rule) -> Result | None:
        """The interpreter's result for a rule, when it becomes a finding."""
        from gatekeeper.kyverno.engine import _Once
        ev = self.evaluator
        result = ev._rule(policy, rule, self.obj, self.target(), ev._plain, _Once(self.base), {})
        return result if result.status in REPORTED else None


class FastPath:
    """Plans per (apiVersion, kind) and the compiled steps of one evaluator's rules.

    It holds no reference to its evaluator (the evaluator is passed to each call): the evaluator
    holds it, and a cycle between them would keep every plan, compiled step and policy alive until
    the cyclic collector runs, instead of freeing them with the evaluator."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.plans: dict[tuple[str, str], list[tuple[int, Step]]] = {}
        self.spent = 0.0  # CPU seconds ``Evaluator.quiet`` spent making plans
        # the ``images`` variable is made only when a rule or exception may read it
        self.images = any(_reads_images(r.raw) for p in evaluator.policies for r in p.rules) or any(
            _reads_images(e.conditions) for e in evaluator.env.exceptions)

    def plan(self, evaluator: Evaluator, obj: Mapping[str, Any]) -> list[tuple[int, Step]] | None:
        """The steps for ``obj``'s (apiVersion, kind), made on first use; None when the object has
        no string apiVersion and kind (the interpreter takes it). Making a plan reads only the
        policies and the object's apiVersion, kind, namespace and name (match blocks that read
        nothing else), so a caller may make them before handing objects to worker processes,
        which then share them."""
        api, kind = obj.get("apiVersion"), obj.get("kind")
        if api.__class__ is not str or kind.__class__ is not str:
            return None
        key = (api, kind)
        steps = self.plans.get(key)
        if steps is None:
            steps = self.plans[key] = self._plan(evaluator, obj)
        return steps

    def failures(self, evaluator: Evaluator, obj: Mapping[str, Any],
                 progress: Callable[[int], None] | None = None) -> list[Result]:
        """``progress(n)`` is told the number (``Evaluator.number``) of each rule before it runs."""
        api, kind = obj.get("apiVersion"), obj.get("kind")
        if api.__class__ is not str or kind.__class__ is not str:
            return evaluator._reported(obj, progress)
        key = (api, kind)
        steps = self.plans.get(key)
        if steps is None:
            steps = self.plans[key] = self._plan(evaluator, obj)
        if not steps:
            return []
        res = Resource(evaluator, obj)
        out = []
        if progress is None:
            for _, step in steps:
                found = step(res)
                if found is not None:
                    out.append(found)
            return out
        for number, step in steps:
            progress(number)
            found = step(res)
            if found is not None:
                out.append(found)
        return out

    # -- plans ----------------------------------------------------------------------------------

    def _plan(self, ev: Evaluator, obj: Mapping[str, Any]) -> list[tuple[int, Step]]:
        res = Resource(ev, obj)
        target = res.target()
        steps: list[tuple[int, Step]] = []
        for policy, rule in [*ev._by_kind.get(target.kind, ()), *ev._any_kind]:
            match, exclude = rule.raw.get("match"), rule.raw.get("exclude")
            interpreted = policy.namespace is not None or rule.validate_type == "vpol"
            static = not interpreted and static_block(match) and static_block(exclude)
            if static:
                if not rule_applies(match, exclude, target, ev._plain):
                    continue  # skipped for every resource of this kind
                if not rule.evaluated:
                    continue  # not evaluated offline: never a finding
            body = None if interpreted or rule.raw.get("context") else _body(rule)
            steps.append((ev.number[id(rule)], _step(policy, rule, body, static,
                                                     self._memo(rule, target.kind) if static and body else None)))
            _warm(rule.raw)
        return steps

    def _memo(self, rule: Rule, kind: str) -> memo.Memo | None:
        """The memo of a static rule's passes, when what its check reads can be known."""
        shape = reads.rule_shape(rule, kind)
        if shape is None:
            return None
        try:
            return memo.Memo(shape)
        except ValueError:  # too large to key resources by
            return None


def _step(policy: Policy, rule: Rule, body: Body | None, static: bool, passes: memo.Memo | None = None) -> Step:
    if body is None:
        return lambda res: res.interpret(policy, rule)
    match, exclude = rule.raw.get("match"), rule.raw.get("exclude")
    pre = rule.raw.get("preconditions")
    evaluated = rule.evaluated
    if static and pre is None and isinstance(body, _Plain):
        check = body.check  # a pattern: nothing to evaluate before it, nothing it can raise
        return lambda res: None if check(res.obj) != 2 else res.interpret(policy, rule)
    if passes is not None:  # static: the rule applies to every resource of the plan's kind
        return _remembering(policy, rule, body, pre, passes)

    def step(res: Resource) -> Result | None:
        if not static and (not evaluated or not rule_applies(match, exclude, res.target(), res.evaluator._plain)):
            return None
        try:
            if pre is not None:
                held, _ = conditions.evaluate(pre, res.data(), res.deadline(), lenient=True)
                if not held:
                    return None
            if body(res):
                return None
        except (RuleError, ContextUnavailable, _Defer):
            pass
        return res.interpret(policy, rule)
    return step


def _remembering(policy: Policy, rule: Rule, body: Body, pre: Any, passes: memo.Memo) -> Step:
    """A static rule's step that remembers the data shapes it proved passing (or skipped by its
    preconditions): a resource with the same key passes without evaluation. Only a pass the
    compiled check proved is remembered; anything else goes to the interpreter every time."""

    def step(res: Resource) -> Result | None:
        key = passes.key(res.obj, res.data, res.keys())
        if passes.passed(key):
            return None
        try:
            if pre is not None:
                held, _ = conditions.evaluate(pre, res.data(), res.deadline(), lenient=True)
                if not held:
                    passes.remember(key)
                    return None
            if body(res):
                passes.remember(key)
                return None
        except (RuleError, ContextUnavailable, _Defer):
            pass
        return res.interpret(policy, rule)
    return step


class _Plain:
    """The body of a plain pattern or anyPattern rule: ``check(obj)`` 2 when it fails."""

    __slots__ = ("check",)

    def __init__(self, check: Callable[[Any], int]) -> None:
        self.check = check

    def __call__(self, res: Resource) -> bool:
        return self.check(res.obj) != 2


# -- validate bodies ----------------------------------------------------------------------------

def _body(rule: Rule) -> Body | None:
    """The compiled check of a rule's validate body, or None when only the interpreter runs it."""
    validate = rule.validate
    kind = rule.validate_type
    try:
        if kind in ("pattern", "anyPattern"):
            return _patterns_body(validate)
        if kind == "deny":
            return _deny_body(validate["deny"])
        if kind == "podSecurity":
            return _pod_security_body(rule)
        if kind == "foreach":
            entries = validate["foreach"]
            return lambda res: _foreach(entries, res.obj, res.data(), res.deadline(), 0)
    except Exception:  # a pattern the generator cannot take: the interpreter decides (and reports)
        return None
    return None


def _checkers(body: Mapping[str, Any]) -> list[patterngen.Checker] | None:
    patterns = [body["pattern"]] if "pattern" in body else list(body.get("anyPattern") or [])
    if any(has_variables(p) or has_references(p) for p in patterns):
        return None  # substituted per resource (or resolved by references) by the interpreter
    return [patterngen.checker(p) for p in patterns]


def _outcome(checkers: list[patterngen.Checker], scope: Any) -> int:
    """Like ``Evaluator._patterns``: 0 when one pattern matches, 1 when none applies, 2 otherwise."""
    skipped = False
    for check in checkers:
        found = check(scope)
        if found == patterngen.PASS:
            return 0
        if found == patterngen.SKIP:
            skipped = True
        else:
            return 2 if len(checkers) == 1 else _rest(checkers, scope)
    return 1 if skipped else 2


def _rest(checkers: list[patterngen.Checker], scope: Any) -> int:
    """anyPattern after a failing pattern: passes when a later one matches, else fails."""
    return 0 if any(check(scope) == patterngen.PASS for check in checkers) else 2


def _patterns_body(validate: Mapping[str, Any]) -> Body | None:
    checkers = _checkers(validate)
    if checkers is None or not checkers:
        return None
    if len(checkers) == 1:
        return _Plain(checkers[0])
    return _Plain(lambda obj: _outcome(checkers, obj))


def _deny_body(deny: Any) -> Body | None:
    block = deny.get("conditions") if isinstance(deny, dict) else None
    if block is None:
        return None  # denies every request it matches

    def body(res: Resource) -> bool:
        held, _ = conditions.evaluate(block, res.data(), res.deadline(), lenient=False)
        return not held
    return body


def _pod_security_body(rule: Rule) -> Body:
    def body(res: Resource) -> bool:
        return not res.evaluator._pss_violations(rule, res.obj, None)[1]
    return body


def _foreach(entries: list[dict[str, Any]], scope: Any, data: dict[str, Any], deadline: Deadline,
             depth: int) -> bool:
    """True when no element fails (``Evaluator._foreach``'s outcome is a pass or a skip)."""
    return _elements(entries, scope, data, deadline, depth)[1] is False


def _elements(entries: list[dict[str, Any]], scope: Any, data: dict[str, Any], deadline: Deadline,
              depth: int) -> tuple[int, bool]:
    """(elements applied, whether one failed), as ``Evaluator._foreach`` counts them."""
    from gatekeeper.kyverno.engine import MAX_FOREACH_ELEMENTS
    applied = 0
    for entry in entries:
        if entry.get("context"):
            raise _Defer
        list_expr = str(substitute_string(str(entry["list"]).strip(), data, deadline))
        items = jmes.search(list_expr, data, deadline)
        if items is None:
            continue
        if not isinstance(items, list) or len(items) > MAX_FOREACH_ELEMENTS:
            raise _Defer
        pre = entry.get("preconditions")
        nested = entry.get("foreach")
        deny = entry.get("deny")
        checkers = None if nested is not None or deny is not None else _entry_checkers(entry)
        element_scope = entry.get("elementScope", True) is not False
        for index, element in enumerate(items):
            deadline.check()
            inner = dict(data)
            inner["element"], inner["elementIndex"] = element, index
            inner[f"element{depth}"], inner[f"elementIndex{depth}"] = element, index
            held, _ = conditions.evaluate(pre, inner, deadline, lenient=True)
            if not held:
                continue
            if nested is not None:
                count, failed = _elements(nested, scope, inner, deadline, depth + 1)
                if failed:
                    return applied, True
                if count:
                    applied += 1
            elif deny is not None:
                block = deny.get("conditions") if isinstance(deny, dict) else None
                if block is None or conditions.evaluate(block, inner, deadline, lenient=False)[0]:
                    return applied, True
                applied += 1
            else:
                outcome = _outcome(checkers or [], element if element_scope else scope)
                if outcome == 2:
                    return applied, True
                if outcome == 0:
                    applied += 1
    return applied, False


def _entry_checkers(entry: Mapping[str, Any]) -> list[patterngen.Checker]:
    try:
        found = _checkers(entry)
    except Exception:  # a pattern the generator cannot take: the interpreter decides
        raise _Defer from None
    if not found:
        raise _Defer  # patterns with variables are substituted per element by the interpreter
    return found


def _warm(raw: Any) -> None:
    """Read a rule's variables and JMESPath expressions and compile its conditions now (each is
    otherwise done on first use): made before the evaluation workers fork, every worker shares
    them instead of each making its own. Only the policy's text is read; what does not compile
    is left for evaluation to report."""
    texts: list[str] = []
    _strings(raw, texts)
    for text in texts:
        if "{{" in text:
            with contextlib.suppress(Exception):
                variables.prepare(text)
    validate = raw.get("validate") if isinstance(raw, dict) else None
    entries = _foreach_entries(validate.get("foreach") if isinstance(validate, dict) else None)
    for entry in entries:
        if isinstance(entry.get("list"), str) and "{{" not in entry["list"]:
            with contextlib.suppress(Exception):
                jmes.compiled(entry["list"].strip())
    blocks = [raw.get("preconditions") if isinstance(raw, dict) else None,
              *(e.get("preconditions") for e in entries)]
    for holder in [validate, *entries]:
        deny = holder.get("deny") if isinstance(holder, dict) else None
        blocks.append(deny.get("conditions") if isinstance(deny, dict) else None)
    for block in blocks:
        with contextlib.suppress(Exception):
            conditions.prepare(block)


# -- what the data must hold --------------------------------------------------------------------

def _reads_images(raw: Any) -> bool:
    """True when a rule (or an exception's conditions) may read the ``images`` variable: one of its
    expressions (a variable, a foreach list, a context entry's jmesPath) names it or may read the
    data as a whole."""
    texts: list[str] = []
    _strings(raw, texts)
    for text in texts:  # a variable anywhere (a word "images" outside one, a podSecurity exclude's key, reads nothing)
        if "{{" in text and not all("images" not in expr and _root_safe(expr) for expr in expressions(text)):
            return True
    validate = raw.get("validate") if isinstance(raw, dict) else None
    for entry in _foreach_entries(validate.get("foreach") if isinstance(validate, dict) else None):
        if isinstance(entry.get("list"), str) and not _root_safe(VARIABLE.sub("x", entry["list"].strip())):
            return True
    for entry in _context_entries(raw):
        for kind in ("variable", "configMap", "apiCall", "imageRegistry", "globalReference"):
            spec = entry.get(kind)
            path = spec.get("jmesPath") if isinstance(spec, dict) else None
            if isinstance(path, str) and not _root_safe(VARIABLE.sub("x", path.strip())):
                return True
    return False


def _root_safe(expr: str) -> bool:
    try:
        fields = jmesc.root_fields(jmes.compile_expression(expr))
    except jmes.JMESPathSyntaxError:
        return False
    return fields is not None and "images" not in fields


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "cel":
                _strings(key, out)
                _strings(item, out)
    elif isinstance(value, list):
        for item in value:
            _strings(item, out)


def _foreach_entries(entries: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            out.append(entry)
            out.extend(_foreach_entries(entry.get("foreach")))
    return out


def _context_entries(value: Any) -> list[dict[str, Any]]:
    """Every context entry of a rule, its foreach entries' included."""
    out: list[dict[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "context" and isinstance(item, list):
                out.extend(e for e in item if isinstance(e, dict))
            elif key != "cel":
                out.extend(_context_entries(item))
    elif isinstance(value, list):
        for item in value:
            out.extend(_context_entries(item))
    return out
