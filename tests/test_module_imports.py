"""Every module of the package imports on its own: no import cycle that only works in one order.

``python -c "import gatekeeper.sources.units"`` once failed (units -> render -> overrides -> units,
half initialised) although the CLI, which imports render first, worked. One subprocess imports each
module with every ``gatekeeper`` module forgotten before it, which is what a fresh interpreter sees.
"""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import importlib, json, pkgutil, sys
import gatekeeper
names = sorted(m.name for m in pkgutil.walk_packages(gatekeeper.__path__, "gatekeeper."))
failed = {}
for name in names:
    for loaded in [k for k in sys.modules if k == "gatekeeper" or k.startswith("gatekeeper.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{exc.__class__.__name__}: {exc}"
print(json.dumps({"modules": names, "failed": failed}))
"""


def test_each_module_imports_on_its_own() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=600)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "gatekeeper.sources.units" in result["modules"]
    assert "gatekeeper.sources.render.overrides" in result["modules"]
    assert len(result["modules"]) > 100
    assert result["failed"] == {}
