"""The registry of built-in checks: the one place a check is added.

Checks are named by import path and loaded on first use, so a run that selects one check
does not import the others. ``catalogue()`` collects every registered check's rules (with the
loader's and the waivers' own) into the rule catalogue the lower layers read.
"""

from __future__ import annotations

import importlib
from functools import cache

from gatekeeper.catalogue import Catalogue
from gatekeeper.checks.base import Check, CheckLoadError, Context
from gatekeeper.config_change import CONFIG_RULES
from gatekeeper.model import Rule
from gatekeeper.sources.rules import PARSE_RULES, RENDER_RULES
from gatekeeper.waivers import WAIVER_RULES

# name -> "module:Class". Order is the order checks run and are listed.
REGISTRY: dict[str, str] = {
    "schema": "gatekeeper.checks.schema:SchemaCheck",
    "lint": "gatekeeper.checks.lint:LintCheck",
    "secrets": "gatekeeper.checks.secrets:SecretsCheck",
    "policy": "gatekeeper.checks.policy:PolicyCheck",
    "kyverno": "gatekeeper.checks.kyverno:KyvernoCheck",
    "admission": "gatekeeper.checks.admission:AdmissionCheck",
}

__all__ = ["REGISTRY", "Check", "CheckLoadError", "Context", "Rule", "all_checks", "all_rules", "catalogue",
           "get_check", "names"]


def names() -> list[str]:
    """Names of every built-in check, in run order."""
    return list(REGISTRY)


@cache
def _check_class(name: str) -> type[Check]:
    module_name, _, attr = REGISTRY[name].partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Check)):
        raise TypeError(f"{REGISTRY[name]} is not a Check")
    return cls


def get_check(name: str) -> Check:
    """A fresh instance of a registered check; KeyError for an unknown name."""
    if name not in REGISTRY:
        raise KeyError(name)
    return _check_class(name)()


def all_checks() -> list[Check]:
    """Fresh instances of every registered check."""
    return [get_check(n) for n in REGISTRY]


@cache
def catalogue() -> Catalogue:
    """The rule catalogue of this build: loader rules, every registered check's, then the waivers' and
    the configuration-change rule."""
    return Catalogue.collect(all_checks(), before=(*PARSE_RULES, *RENDER_RULES), after=(*WAIVER_RULES, *CONFIG_RULES))


def all_rules() -> list[Rule]:
    """Every rule of the catalogue, in listing order (for ``gatekeeper rules`` and the docs)."""
    return list(catalogue().rules)
