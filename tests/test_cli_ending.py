"""The process a command ends: the real entry point freezes a finished run's objects for the exit,
a command run inside a longer-lived process (CliRunner, an embedding program) leaves the GC alone."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gatekeeper import cli
from gatekeeper.cli import ending
from tests.conftest import run_cli

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: shop}\ndata: {key: value}\n"


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    state = dict(ending._state)
    yield
    ending._state.update(state)
    gc.unfreeze()


def test_a_command_in_a_longer_lived_process_freezes_nothing(tmp_path: Path, unfrozen: None) -> None:
    (tmp_path / "cm.yaml").write_text(CM)
    code, _ = run_cli("check", str(tmp_path))
    assert code == 0
    assert not ending.ends_with_command()
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()


def test_the_entry_point_leaves_the_finished_run_to_the_exit(tmp_path: Path, unfrozen: None,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cm.yaml").write_text(CM)
    monkeypatch.setattr(sys, "argv", ["gatekeeper", "check", "--format", "json", str(tmp_path)])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 0
    assert '"passed": true' in capsys.readouterr().out  # the report was written before the freeze
    assert ending.ends_with_command()
    assert gc.get_freeze_count() > 0  # what the run left is in the permanent generation
    assert gc.isenabled()  # the collector runs again for anything allocated after the command
