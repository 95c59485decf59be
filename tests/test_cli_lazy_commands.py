"""Commands are imported when they run: ``check`` (the pre-commit hook's command) imports no other
command's module, and every command is still listed and runs by its name."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gatekeeper.cli import COMMANDS, cli
from tests.conftest import run_cli

SCRIPT = """
import sys
from gatekeeper.cli import main
sys.argv = ["gatekeeper", "check", "--format", "json", sys.argv[1]]
try:
    main()
except SystemExit:
    pass
import json
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("gatekeeper.cli.", "gatekeeper.sync")))),
      file=sys.stderr)
"""


def test_check_imports_no_other_command(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: b}\n")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          check=True, timeout=300)
    assert json.loads(proc.stdout)["summary"]["passed"] is True
    imported = json.loads(proc.stderr.strip().splitlines()[-1])
    assert "gatekeeper.cli.check" in imported
    for other in ("gatekeeper.cli.sync", "gatekeeper.cli.init", "gatekeeper.cli.verify", "gatekeeper.sync"):
        assert other not in imported


def test_every_command_is_listed_and_named_as_registered() -> None:
    code, out = run_cli("--help")
    assert code == 0
    for name in COMMANDS:
        assert f"  {name} " in out
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None and command.name == name
    assert cli.get_command(None, "nonesuch") is None  # type: ignore[arg-type]
