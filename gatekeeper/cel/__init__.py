"""CEL for the gate: one engine behind a small interface, with Kubernetes' CEL environment.

Usage::

    from gatekeeper import cel

    env = cel.environment(("object", "params"))       # shared per variable set
    program = env.compile("object.spec.replicas <= params.max")   # cached; CompileError
    program.evaluate({"object": obj, "params": p})    # plain value; EvaluationError,
                                                      # CostLimitExceeded, Unsupported
    bound = env.bindings({"object": obj})             # shared by several programs
    budget = cel.Budget()                             # one evaluation's total (10,000,000)
    program.evaluate(bound, budget=budget)            # charged its cost bound; CostLimitExceeded
    program.variables                                 # the declared variables it reads
    program.ast.select_paths("object")                # [("spec", "replicas")]

Everything is dynamically typed; the Kubernetes libraries (strings v2, lists, regex, URLs,
quantity, IP/CIDR, semver), optional types, sets and two-variable comprehensions are available.
Simple expressions over plain values are evaluated in Python (``gatekeeper.cel.fast``), with the
runtime's results.
The CRD schema check, the ``admission`` check and CEL Gatekeeper templates share it; other
checks add libraries with ``environment(variables, libraries)``.
"""

from gatekeeper.cel.cost import LIMIT as COST_LIMIT
from gatekeeper.cel.cost import TOTAL as TOTAL_BUDGET
from gatekeeper.cel.cost import Budget
from gatekeeper.cel.engine import (
    ITERATION_BUDGET,
    NESTING_LIMIT,
    Bindings,
    Environment,
    Program,
    available,
    environment,
)
from gatekeeper.cel.errors import (
    CelError,
    CompileError,
    CostLimitExceeded,
    EngineUnavailable,
    EvaluationError,
    Unsupported,
)
from gatekeeper.cel.lib import Function, Library, Overload, kubernetes_libraries

__all__ = [
    "COST_LIMIT",
    "ITERATION_BUDGET",
    "NESTING_LIMIT",
    "TOTAL_BUDGET",
    "Bindings",
    "Budget",
    "CelError",
    "CompileError",
    "CostLimitExceeded",
    "EngineUnavailable",
    "Environment",
    "EvaluationError",
    "Function",
    "Library",
    "Overload",
    "Program",
    "Unsupported",
    "available",
    "environment",
    "kubernetes_libraries",
]
