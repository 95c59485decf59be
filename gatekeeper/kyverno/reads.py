"""What a rule's compiled check can read of the data it is given, found from the policy's text.

A ``Shape`` is a tree over the JMESPath data (``{"request": {"object": ..., ...}, ...}``): the
fields and list elements a check may look at, and the places it may read whole. Two resources
whose data agree on a rule's shape get the same outcome from that rule's check, so the fast path
can remember which shapes a rule proved passing (``memo.py``).

The shape is found for the parts the fast path compiles: preconditions, deny conditions, foreach
entries (their lists, preconditions, deny conditions and element patterns) and the Pod Security
controls (fixed fields). Each ``{{ }}`` expression is followed through its JMESPath tree: field
steps narrow the place; projections, flattens, indexes and multi-select lists keep track of the
elements they stand for; anything that consumes a value (a function, a comparison, ``||``, a
filter, the variable's own result) reads it whole. Whatever cannot be followed (a nested variable,
a foreach list written with variables, context entries, a function whose result is not a function
of its arguments) makes the rule ``Unanalysable``: it is then never remembered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatekeeper.kyverno import jmes, variables
from gatekeeper.kyverno.autogen import template_path
from gatekeeper.kyverno.pattern import parse_anchor
from gatekeeper.kyverno.policy import Rule
from gatekeeper.kyverno.references import has_references
from gatekeeper.kyverno.variables import has_variables
from gatekeeper.kyverno.wildcard import has_wildcard

# functions whose result is not a function of their arguments (the clock, randomness)
_IMPURE_PREFIXES = ("time_", "random")
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


class Unanalysable(Exception):
    """The rule may read something its text does not name: it is never remembered."""


class Shape:
    """One place in the data and what is read there: its fields, its elements, or all of it
    (``whole``). ``text`` reads only whether a string is one (its text is not read); ``matches``
    reads of a string only which of these wildcard patterns it matches."""

    __slots__ = ("fields", "items", "matches", "text", "whole")

    def __init__(self) -> None:
        self.fields: dict[str, Shape] = {}
        self.items: Shape | None = None
        self.whole = False
        self.text = False
        self.matches: tuple[str, ...] | None = None

    def field(self, name: str) -> Shape:
        found = self.fields.get(name)
        if found is None:
            found = self.fields[name] = Shape()
        return found

    def each(self) -> Shape:
        if self.items is None:
            self.items = Shape()
        return self.items


class _Value:
    """What an expression's value is, as far as the analysis follows it: the value at one of
    ``shapes`` (``listed`` False), a list of values at them (``listed`` True), or, with no
    shapes, something computed from places already read whole (or a literal)."""

    __slots__ = ("listed", "shapes")

    def __init__(self, shapes: tuple[Shape, ...] = (), listed: bool = False) -> None:
        self.shapes, self.listed = shapes, listed


_DERIVED = _Value()


def rule_shape(rule: Rule, kind: str) -> Shape | None:
    """The shape of the data the fast path's check of ``rule`` reads for an object of ``kind``
    (preconditions and the validate body), or None when it cannot be known from the text."""
    validate_type = rule.validate_type
    if rule.raw.get("context") or validate_type not in ("deny", "foreach", "podSecurity"):
        return None
    root = Shape()
    try:
        _conditions(rule.raw.get("preconditions"), root, {})
        validate = rule.validate
        if validate_type == "deny":
            deny = validate.get("deny")
            _conditions(deny.get("conditions") if isinstance(deny, dict) else None, root, {})
        elif validate_type == "foreach":
            _foreach(validate.get("foreach"), root, {}, 0)
        else:
            _pod_security(rule, root.field("request").field("object"), kind)
    except (Unanalysable, jmes.JMESPathSyntaxError, RecursionError):
        return None
    request = root.fields.get("request")
    if root.whole or (request is not None and (request.whole or request.fields.get("object", Shape()).whole)):
        return None  # the whole object is read: remembering it would never pay
    return root


# -- conditions and foreach -----------------------------------------------------------------------

def _conditions(block: Any, root: Shape, env: Mapping[str, _Value]) -> None:
    """Every variable of a conditions block (``any``/``all`` or a legacy list) read whole."""
    if block is None:
        return
    if isinstance(block, list):
        block = {"all": block}
    if not isinstance(block, dict):
        raise Unanalysable
    for cond in [*(block.get("any") or []), *(block.get("all") or [])]:
        if not isinstance(cond, dict):
            raise Unanalysable
        _variables(cond.get("key"), root, env)
        _variables(cond.get("value"), root, env)


def _variables(value: Any, root: Shape, env: Mapping[str, _Value]) -> None:
    """Every ``{{ }}`` in a structure of the policy (keys too): its value is read whole."""
    if isinstance(value, str):
        if "{{" in value:
            pieces, _ = variables._template(value)
            for piece in pieces:
                if isinstance(piece, str):
                    continue
                if piece.compiled is None:  # a nested variable or an invalid expression
                    raise Unanalysable
                _mark(_expression(piece.expr, root, env))
    elif isinstance(value, dict):
        for key, item in value.items():
            _variables(key, root, env)
            _variables(item, root, env)
    elif isinstance(value, list):
        for item in value:
            _variables(item, root, env)


def _foreach(entries: Any, root: Shape, env: Mapping[str, _Value], depth: int) -> None:
    if not isinstance(entries, list):
        raise Unanalysable
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("context") or "list" not in entry:
            raise Unanalysable
        text = str(entry["list"]).strip()
        if "{{" in text:
            raise Unanalysable
        element = _element(_expression(text, root, env))
        inner = {**env, "element": element, f"element{depth}": element,
                 "elementIndex": _DERIVED, f"elementIndex{depth}": _DERIVED}
        _conditions(entry.get("preconditions"), root, inner)
        if entry.get("foreach") is not None:
            _foreach(entry["foreach"], root, inner, depth + 1)
        elif entry.get("deny") is not None:
            deny = entry["deny"]
            _conditions(deny.get("conditions") if isinstance(deny, dict) else None, root, inner)
        else:
            patterns = [entry["pattern"]] if "pattern" in entry else list(entry.get("anyPattern") or [])
            if any(has_variables(p) or has_references(p) for p in patterns):
                raise Unanalysable
            scopes = element.shapes if entry.get("elementScope", True) is not False else (
                root.field("request").field("object"),)
            for pattern in patterns:
                for scope in scopes:
                    _pattern(pattern, scope)


def _pattern(pattern: Any, shape: Shape) -> None:
    """What a validate pattern reads where it is applied: its keys (anchors stripped), its list
    elements; a value pattern or a wildcard key reads the place whole."""
    if isinstance(pattern, dict):
        if any(has_wildcard(k) for k in pattern):
            shape.whole = True
            return
        for key, value in pattern.items():
            anchor = parse_anchor(key)
            if anchor is not None and anchor[0] == "unknown":
                shape.whole = True
                return
            _pattern(value, shape.field(key if anchor is None else anchor[1]))
    elif isinstance(pattern, list):
        items = shape.each()
        for item in pattern:
            _pattern(item, items)
    else:
        shape.whole = True


def _pod_security(rule: Rule, obj: Shape, kind: str) -> None:
    """The fields the Pod Security controls read (``pss.check``), at the pod template of ``kind``;
    a container's name as text, its image as text or, when excludes name images, as the patterns
    it matches (``pss.excluded`` reads nothing else of it)."""
    pod = obj
    if kind != "Pod":
        for part in template_path(kind):
            pod = pod.field(part)
    pod.field("metadata").field("annotations").whole = True
    spec = pod.field("spec")
    for name in ("securityContext", "hostNetwork", "hostPID", "hostIPC", "volumes", "os"):
        spec.field(name).whole = True
    settings = rule.validate.get("podSecurity")
    excludes = (settings.get("exclude") if isinstance(settings, dict) else None) or []
    patterns: list[str] = []
    if not isinstance(excludes, list):
        raise Unanalysable
    for entry in excludes:
        if isinstance(entry, dict):  # as ``Evaluator._pss_violations`` keeps them
            try:
                patterns.extend(str(p) for p in entry.get("images") or [])
            except TypeError:
                raise Unanalysable from None
    for name in _CONTAINER_LISTS:
        container = spec.field(name).each()
        container.field("securityContext").whole = True
        container.field("ports").whole = True
        container.field("name").text = True
        image = container.field("image")
        if patterns:
            image.matches = tuple(patterns)
        else:
            image.text = True


# -- JMESPath ---------------------------------------------------------------------------------------

def _expression(text: str, root: Shape, env: Mapping[str, _Value]) -> _Value:
    return _eval(jmes.compile_expression(text).parsed, _Value((root,)), root, env)


def _mark(value: _Value) -> None:
    """The value is read whole (consumed by a function, an operator or the variable itself)."""
    for shape in value.shapes:
        shape.whole = True


def _element(value: _Value) -> _Value:
    """An element of the value when it is a list (what an index, a projection or a foreach sees)."""
    if not value.shapes:
        return _DERIVED
    if value.listed:
        return _Value(value.shapes)
    return _Value(tuple(s.each() for s in value.shapes))


def _collect(value: _Value) -> _Value:
    """The list a projection makes of its right side's values."""
    if not value.shapes:
        return _DERIVED
    if value.listed:  # a list of lists: read whole
        _mark(value)
        return _DERIVED
    return _Value(value.shapes, listed=True)


def _field(value: _Value, name: str, root: Shape, env: Mapping[str, _Value]) -> _Value:
    if not value.shapes:
        return _DERIVED
    if value.listed:  # a field of a list is null, but only if it is a list: read it
        _mark(value)
        return _DERIVED
    if root in value.shapes:
        if len(value.shapes) > 1:
            raise Unanalysable
        bound = env.get(name)
        if bound is not None:
            return bound
    return _Value(tuple(s.field(name) for s in value.shapes))


def _eval(node: dict[str, Any], current: _Value, root: Shape, env: Mapping[str, _Value]) -> _Value:
    kind = node["type"]
    children = node.get("children") or []
    if kind == "field":
        return _field(current, node["value"], root, env)
    if kind in ("subexpression", "index_expression", "pipe"):
        value = current
        for child in children:
            value = _eval(child, value, root, env)
        return value
    if kind in ("current", "identity"):
        return current
    if kind == "literal":
        return _DERIVED
    if kind == "index":
        return _element(current)
    if kind == "slice":
        return _collect(_element(current))
    if kind == "projection":
        return _collect(_eval(children[1], _element(_eval(children[0], current, root, env)), root, env))
    if kind == "filter_projection":
        elements = _element(_eval(children[0], current, root, env))
        _mark(_eval(children[2], elements, root, env))
        return _collect(_eval(children[1], elements, root, env))
    if kind == "flatten":
        inner = _eval(children[0], current, root, env)
        if not inner.shapes:
            return _DERIVED
        elements = _element(inner)
        return _Value((*elements.shapes, *(s.each() for s in elements.shapes)), listed=True)
    if kind == "multi_select_list":
        values = [_eval(child, current, root, env) for child in children]
        if all(v.shapes and not v.listed for v in values):
            return _Value(tuple(s for v in values for s in v.shapes), listed=True)
        for v in values:
            _mark(v)
        return _DERIVED
    if kind == "function_expression":
        if str(node["value"]).startswith(_IMPURE_PREFIXES):
            raise Unanalysable
        for child in children:
            if child["type"] != "expref":  # an expression reference reads elements of another argument
                _mark(_eval(child, current, root, env))
        return _DERIVED
    if kind == "key_val_pair":
        return _eval(children[0], current, root, env)
    if kind in ("comparator", "or_expression", "and_expression", "not_expression", "multi_select_dict",
                "value_projection"):
        for child in children:
            _mark(_eval(child, current if kind != "value_projection" or child is children[0] else _DERIVED,
                        root, env))
        return _DERIVED
    if kind == "expref":
        return _DERIVED
    raise Unanalysable
