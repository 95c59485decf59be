"""The hook contract: which document goes to which hook, and the error boundary around each call."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from gatekeeper.checks.base import Check, Context
from gatekeeper.model import CheckError, Document, Finding, Report, Resource
from gatekeeper.pipeline import Loaded, Run, _run_hooks, load

MANIFESTS = {
    "app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
    "values.yaml": "replicaCount: 2\n",
    "kustomization.yaml": "resources: [app.yaml]\n",
}


def _loaded(tmp_path: Path, write: Callable[[str, str], Path]) -> tuple[Context, Loaded]:
    for name, text in MANIFESTS.items():
        write(name, text)
    run = Run(root=tmp_path)
    loaded = load(run)
    ctx = Context(tmp_path, loaded.documents, loaded.resources, None, "1.30")
    return ctx, loaded


class Recorder(Check):
    """Records what each hook is given."""

    name = "recorder"

    def __init__(self) -> None:
        self.documents: list[str] = []
        self.resources: list[str] = []

    def check_document(self, doc: Document, ctx: Context) -> Iterable[Finding]:
        self.documents.append(f"{doc.path}#{doc.index}")
        return ()

    def check_resource(self, resource: Resource, ctx: Context) -> Iterable[Finding]:
        self.resources.append(f"{resource.path}:{resource.name}")
        return ()


def test_each_document_goes_to_exactly_one_per_item_hook(tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    ctx, loaded = _loaded(tmp_path, write)
    check = Recorder()
    _run_hooks(check, ctx, loaded, [])
    assert sorted(check.resources) == ["app.yaml:a", "app.yaml:b"]
    assert sorted(check.documents) == ["kustomization.yaml#0", "values.yaml#0"]


def test_report_paths_limit_the_per_item_hooks(tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    ctx, loaded = _loaded(tmp_path, write)
    check = Recorder()
    _run_hooks(check, ctx, loaded, [], {"values.yaml"})
    assert check.resources == []
    assert check.documents == ["values.yaml#0"]


class Failing(Check):
    """Raises from a generator hook after yielding one finding, and from a plain hook."""

    name = "failing"

    def check_resource(self, resource: Resource, ctx: Context) -> Iterator[Finding]:
        yield Finding(check=self.name, rule="r", severity=Report().fail_on, message="partial",
                      path=resource.path, line=1)
        if resource.name == "b":
            raise KeyError("boom")

    def check_document(self, doc: Document, ctx: Context) -> Iterable[Finding]:
        raise ValueError("first line\nsecond line")


def test_a_raising_hook_is_an_error_naming_the_file_and_keeps_no_partial_findings(
        tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    ctx, loaded = _loaded(tmp_path, write)
    errors: list[CheckError] = []
    findings = _run_hooks(Failing(), ctx, loaded, errors)
    assert [f.message for f in findings] == ["partial"]  # object a only: b's partial output is dropped
    messages = sorted(e.message for e in errors)
    withheld = "(details withheld: set GATEKEEPER_DEBUG=1 to see them)"
    assert messages == [f"internal error in app.yaml: KeyError {withheld}",
                        f"internal error in kustomization.yaml: ValueError {withheld}",
                        f"internal error in values.yaml: ValueError {withheld}"]
    assert {e.path for e in errors} == {"app.yaml", "kustomization.yaml", "values.yaml"}


def test_hooks_a_check_does_not_override_are_not_called(tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    class OnlyAll(Check):
        name = "only-all"
        calls = 0

        def check_all(self, ctx: Context) -> Iterable[Finding]:
            OnlyAll.calls += 1
            return ()

    ctx, loaded = _loaded(tmp_path, write)
    assert _run_hooks(OnlyAll(), ctx, loaded, []) == []
    assert OnlyAll.calls == 1
