"""The three Python CEL runtimes side by side: speed per evaluation and crash safety (run by hand).

Install the candidates first: ``pip install cel-expr-python common-expression-language cel-python``.
``speed``: three typical rules over one Deployment, microseconds per evaluation with the object
converted each time, and the three rules sharing one activation. ``crash``: each hazard runs in a
fresh process per engine (exit code, signal or timeout, first line of output).
Usage: ``python bench/cel_engines.py [speed] [crash]``. Figures: docs/architecture.md.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Any

OBJ = {"apiVersion": "apps/v1", "kind": "Deployment",
       "metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web", "team": "a"}},
       "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {
           "metadata": {"labels": {"app": "web"}},
           "spec": {"containers": [{"name": f"c{i}", "image": f"registry.example.com/app:{i}",
                                    "ports": [{"containerPort": 8080}],
                                    "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}}}
                                   for i in range(3)]}}}}
EXPRS = ["object.spec.replicas <= 5",
         "object.spec.template.spec.containers.all(c, c.image.startsWith('registry.example.com/'))",
         "has(object.metadata.labels) && 'team' in object.metadata.labels"
         " && object.metadata.labels.team.matches('^[a-z]+$')"]
N = 3000


def _bench(name: str, prep: Callable[[str], Any], run: Callable[[Any, Any], Any]) -> None:
    figures = []
    for program in [prep(e) for e in EXPRS]:
        run(program, OBJ)
        start = time.perf_counter()
        for _ in range(N):
            run(program, OBJ)
        figures.append((time.perf_counter() - start) / N * 1e6)
    print(f"{name:28} " + "  ".join(f"{x:8.1f}us" for x in figures))


def speed() -> None:
    try:
        from cel_expr_python import cel

        env = cel.NewEnv(variables={"object": cel.Type.DYN})
        _bench("cel-expr-python", env.compile, lambda p, o: p.eval(data={"object": o}).value())
        programs = [env.compile(e) for e in EXPRS]
        start = time.perf_counter()
        for _ in range(N):
            act = env.Activation({"object": OBJ})
            for p in programs:
                p.eval(act)
        print(f"{'  one activation, 3 rules':28} {(time.perf_counter() - start) / N * 1e6:8.1f}us per object")
    except ImportError:
        print("cel-expr-python not installed")
    try:
        import cel as rust

        _bench("common-expression-language", rust.compile, lambda p, o: p.execute({"object": o}))
    except ImportError:
        print("common-expression-language not installed")
    try:
        import celpy

        penv = celpy.Environment()
        _bench("cel-python", lambda e: penv.program(penv.compile(e)),
               lambda p, o: p.evaluate({"object": celpy.json_to_cel(o)}))
    except ImportError:
        print("cel-python not installed")


HAZARDS = {
    "deep_parens": ("'(' * 5000 + '1' + ')' * 5000", "{}"),
    "deep_data_100000": ("'x.size() >= 0'", "(lambda: [d := [], [d := [d] for _ in range(100000)], {'x': d}][-1])()"),
    "deep_not": ("'!' * 20000 + 'true'", "{}"),
    "long_chain": ("' + '.join(['1'] * 20000)", "{}"),
    "int_overflow": ("'9223372036854775807 + 1'", "{}"),
    "div_zero": ("'1 / 0'", "{}"),
    "comprehension_1e9": ("'x.all(a, x.all(b, x.all(c, true)))'", "{'x': list(range(1000))}"),
    "redos_regex": ("'x.matches(\"(a+)+$\")'", "{'x': 'a' * 100000 + 'b'}"),
}
PROGRAMS = {
    "expr": "from cel_expr_python import cel\nenv = cel.NewEnv(variables={k: cel.Type.DYN for k in B})\n"
            "r = env.compile(E).eval(data=B); print('result', r.type().name(), str(r.value())[:60])\n",
    "rust": "import cel\nprint('result', str(cel.compile(E).execute(B))[:60])\n",
    "py": "import celpy\nenv = celpy.Environment(); p = env.program(env.compile(E))\n"
          "print('result', str(p.evaluate({k: celpy.json_to_cel(v) for k, v in B.items()}))[:60])\n",
}


def crash() -> None:
    for hazard, (expr, binds) in HAZARDS.items():
        for engine, prog in PROGRAMS.items():
            src = f"E = {expr}\nB = {binds}\n" + textwrap.dedent(prog)
            try:
                p = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, timeout=20)
                lines = (p.stdout.strip() or p.stderr.strip()).splitlines()
                status = f"rc={p.returncode}" if p.returncode >= 0 else f"signal {-p.returncode}"
                out = lines[-1][:90] if lines else ""
            except subprocess.TimeoutExpired:
                status, out = "timeout 20s", ""
            print(f"{hazard:20} {engine:5} {status:12} {out}")


if __name__ == "__main__":
    which = sys.argv[1:] or ["speed", "crash"]
    if "speed" in which:
        speed()
    if "crash" in which:
        crash()
