"""Auto-generated rules for Pod controllers, as Kyverno derives them from a rule that matches Pods
only: ``autogen-<rule>`` for Deployment, StatefulSet, DaemonSet, Job, ReplicaSet and
ReplicationController (pod template at ``spec.template``) and ``autogen-cronjob-<rule>`` for CronJob
(``spec.jobTemplate.spec.template``), honouring ``pod-policies.kyverno.io/autogen-controllers``."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from gatekeeper.kyverno.match import parse_kind
from gatekeeper.kyverno.shape import mapping

if TYPE_CHECKING:
    from gatekeeper.kyverno.policy import Rule

ANNOTATION = "pod-policies.kyverno.io/autogen-controllers"
TEMPLATE_CONTROLLERS = ("DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet", "ReplicationController")
DEFAULT_CONTROLLERS = (*TEMPLATE_CONTROLLERS, "CronJob")
POD_TEMPLATE = {"CronJob": ("spec", "jobTemplate", "spec", "template")}
_BLOCKERS = ("names", "name", "selector", "annotations")
_REQUEST_OBJECT = re.compile(r"(request\.object|request\.oldObject)\.(spec|metadata)\b")
_CEL_OBJECT = re.compile(r"\b(object|oldObject)\.(spec|metadata)\b")


def template_path(kind: str) -> tuple[str, ...]:
    """Where a controller keeps its pod template (``spec.template`` unless CronJob)."""
    return POD_TEMPLATE.get(kind, ("spec", "template"))


def controllers(annotations: dict[str, Any]) -> list[str]:
    raw = annotations.get(ANNOTATION)
    if raw is None:
        return list(DEFAULT_CONTROLLERS)
    text = str(raw).strip()
    if text.lower() == "none" or not text:
        return []
    return [c.strip() for c in text.split(",") if c.strip()]


def _filters(block: Any) -> list[dict[str, Any]]:
    if not isinstance(block, dict):
        return []
    out = [f for f in (block.get("any") or []) + (block.get("all") or []) if isinstance(f, dict)]
    if block.get("resources"):
        out.append(block)
    return out


def _eligible(rule: Rule) -> bool:
    if rule.kind != "validate" or rule.validate_type in ("manifests", "assert", "vpol"):
        return False
    kinds: set[str] = set()
    for block in (rule.raw.get("match"), rule.raw.get("exclude")):
        for flt in _filters(block):
            res = mapping(flt.get("resources"))
            if any(res.get(b) for b in _BLOCKERS):
                return False
            kinds.update(parse_kind(str(k))[2] if not parse_kind(str(k))[3] else "sub" for k in res.get("kinds") or [])
    return kinds == {"Pod"}


def _rewrite(value: Any, prefix: str, pattern: re.Pattern[str] = _REQUEST_OBJECT) -> Any:
    """request.object.spec/metadata (CEL: object.spec/metadata) -> the pod template's, in every string."""
    if isinstance(value, str):
        return pattern.sub(lambda m: f"{m.group(1)}.{prefix}.{m.group(2)}", value)
    if isinstance(value, dict):
        return {k: _rewrite(v, prefix, pattern) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, prefix, pattern) for v in value]
    return value


def _retarget(block: Any, kinds: list[str]) -> Any:
    if not isinstance(block, dict):
        return block
    out = copy.deepcopy(block)
    for flt in _filters(out):
        res = flt.get("resources")
        if isinstance(res, dict) and res.get("kinds"):
            res["kinds"] = list(kinds)
    return out


def _wrap(pattern: Any, path: tuple[str, ...]) -> Any:
    for key in reversed(path):
        pattern = {key: pattern}
    return pattern


def _derive(rule: Rule, name: str, kinds: list[str], path: tuple[str, ...], mode: str) -> Rule:
    from gatekeeper.kyverno.policy import Rule as RuleCls

    raw = copy.deepcopy(rule.raw)
    validate = raw.get("validate") or {}
    prefix = ".".join(path)
    for key in ("pattern",):
        if key in validate:
            validate[key] = _wrap(validate[key], path)
    if "anyPattern" in validate and isinstance(validate["anyPattern"], list):
        validate["anyPattern"] = [_wrap(p, path) for p in validate["anyPattern"]]
    for key in ("deny", "foreach", "message"):
        if key in validate:
            validate[key] = _rewrite(validate[key], prefix)
    if "cel" in validate:
        validate["cel"] = _rewrite(validate["cel"], prefix, _CEL_OBJECT)
    if "celPreconditions" in raw:
        raw["celPreconditions"] = _rewrite(raw["celPreconditions"], prefix, _CEL_OBJECT)
    for key in ("preconditions", "context"):
        if key in raw:
            raw[key] = _rewrite(raw[key], prefix)
    raw["match"] = _retarget(raw.get("match"), kinds)
    if raw.get("exclude"):
        raw["exclude"] = _retarget(raw["exclude"], kinds)
    raw["name"] = name
    return RuleCls(name, raw, rule.kind, rule.validate_type, rule.pointer, rule.name, mode)


def expand(rule: Rule, annotations: dict[str, Any]) -> list[Rule]:
    """The auto-generated rules for one written rule (none when it is not eligible)."""
    if rule.autogen or not _eligible(rule):
        return []
    wanted = controllers(annotations)
    out: list[Rule] = []
    templated = [k for k in wanted if k != "CronJob"]
    if templated:
        out.append(_derive(rule, f"autogen-{rule.name}", templated, ("spec", "template"), "controllers"))
    if "CronJob" in wanted:
        out.append(_derive(rule, f"autogen-cronjob-{rule.name}", ["CronJob"], POD_TEMPLATE["CronJob"], "cronjob"))
    return out
