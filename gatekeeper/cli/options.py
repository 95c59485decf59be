"""Options shared by the commands that run the pipeline (``check``, ``sync``), and the Run they build."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from gatekeeper import config as config_mod
from gatekeeper.checks import catalogue
from gatekeeper.model import Severity
from gatekeeper.pipeline import Run

F = TypeVar("F", bound=Callable[..., Any])


class GateError(click.ClickException):
    """A configuration, git or load problem: printed as one line, exit code 2 (never 1)."""

    exit_code = 2
SEVERITIES = click.Choice(["error", "warning", "info"], case_sensitive=False)


class PositiveSeconds(click.FloatRange):
    """A finite number of seconds above 0 (``inf`` is no limit, ``nan`` fails every comparison)."""

    name = "seconds"

    def __init__(self) -> None:
        super().__init__(min=0, min_open=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail("must be a finite number of seconds", param, ctx)
        return seconds


def run_options(func: F) -> F:
    """Decorate a command with the options that choose checks, config and thresholds."""
    decorators = [
        click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                     help="Configuration file (default: .gatekeeper.yaml found from the root upwards)."),
        click.option("--checks", help="Comma-separated checks to run (default: those enabled in config)."),
        click.option("--fail-on", type=SEVERITIES, help="Lowest severity that fails the run [default: error]."),
        click.option("--kubernetes-version", "-k", help="Target Kubernetes minor version [default: newest bundled]."),
        click.option("--strict/--no-strict", default=None, help="Report unknown fields [default: strict]."),
        click.option("--schema-dir", "schema_dirs", multiple=True,
                     type=click.Path(file_okay=False, path_type=Path),
                     help="Extra JSON schema dir ({group}/{kind}_{version}.json); repeatable."),
        *policy_options(),
    ]
    for deco in reversed(decorators):
        func = deco(func)
    return func


def policy_options() -> list[Callable[[F], F]]:
    """Options of the policy check (passed through ``build_run(**extra)`` into Run.options)."""
    return [
        click.option("--policy", "policy", multiple=True, type=click.Path(exists=True, path_type=Path),
                     help="Rego policy directory (conftest rules, Gatekeeper templates); repeatable."),
        click.option("--namespace", "namespace", multiple=True,
                     help="conftest-style package to evaluate (globs allowed) [default: main]; repeatable."),
        click.option("--all-namespaces", "all_namespaces", is_flag=True, default=None,
                     help="Evaluate deny/violation/warn rules of every package."),
        click.option("--data", "data", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="YAML/JSON file merged into Rego's data; repeatable."),
        click.option("--combine", is_flag=True, default=None,
                     help="conftest --combine: one input, the list of {path, contents} of all documents."),
        click.option("--rego-version", type=click.Choice(["auto", "v0", "v1"]),
                     help="Rego syntax of the policies [default: auto, detected per module]."),
        click.option("--opa-url", help="Evaluate conftest-style rules on this OPA server (needs the opa extra)."),
        click.option("--kyverno-values", "kyverno_values", type=click.Path(exists=True, dir_okay=False),
                     help="Kyverno values file (kyverno test Values format) for context read from the cluster."),
        *limit_options(),
    ]


def limit_options() -> list[Callable[[F], F]]:
    """The policy evaluation boundary's limits (``check``, ``sync`` and ``verify``)."""
    return [
        click.option("--jobs", "-j", "jobs", type=click.IntRange(min=0),
                     help="Worker processes that evaluate policies [default: the machine's cores]."),
        click.option("--policy-timeout", "policy_timeout", type=PositiveSeconds(),
                     help="CPU seconds one policy evaluation may take [default: 10]. Past it a Rego policy or a test "
                          "fails the run (exit 2); a Kyverno rule gets a kyverno-rule-error finding and is skipped for "
                          "the rest of the run."),
        click.option("--policy-memory", "policy_memory", type=click.IntRange(min=64),
                     help="MiB a policy evaluation worker may allocate before the run fails (exit 2) "
                          "[default: 2048]."),
        click.option("--policy-max-depth", "policy_max_depth", type=click.IntRange(min=1, max=1000),
                     help="Deepest nesting of a value given to a policy [default: 100]."),
    ]


def load_config(config_path: Path | None, start: Path) -> config_mod.Config:
    """Load the explicit config or discover one from ``start`` upwards; ConfigError -> exit 2."""
    try:
        path = config_path if config_path is not None else config_mod.discover(start)
        return config_mod.load(path, catalogue())
    except config_mod.ConfigError as exc:
        raise GateError(str(exc)) from None


def build_run(root: Path, paths: list[Path], *, config_path: Path | None, checks: str | None,
              fail_on: str | None, kubernetes_version: str | None, strict: bool | None,
              schema_dirs: tuple[Path, ...], allow_empty: bool = False, **extra: Any) -> Run:
    """Turn parsed options into a Run."""
    cfg = load_config(config_path, paths[0] if paths else root)
    options: dict[str, Any] = {k: v for k, v in extra.items() if v not in (None, (), [])}
    if strict is not None:
        options["strict"] = strict
    if schema_dirs:
        options["schema_dirs"] = [str(d.absolute()) for d in schema_dirs]
    return Run(
        root=root,
        paths=paths,
        config=cfg,
        checks=[c.strip() for c in checks.split(",") if c.strip()] if checks else None,
        fail_on=Severity.parse(fail_on) if fail_on else None,
        kubernetes_version=kubernetes_version,
        options=options,
        progress=progress_bar() if sys.stderr.isatty() else None,
        allow_empty=allow_empty,
    )


def progress_bar() -> Callable[[int, int], None]:
    """A one-line progress counter on stderr, shown only for long runs."""
    def show(done: int, total: int) -> None:
        if total < 500:
            return
        end = "\n" if done == total else ""
        sys.stderr.write(f"\rgatekeeper: parsed {done}/{total} files{end}")
        sys.stderr.flush()
    return show


def use_color(flag: bool | None) -> bool:
    """Colour when asked, else on a terminal unless NO_COLOR is set."""
    if flag is not None:
        return flag
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")
