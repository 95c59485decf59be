"""The pull-request options of ``gatekeeper check``: git modes, scope, --new-only and CI report files.

``--base/--head``, ``--staged`` and ``--changed`` load the whole tree at head from git as
context and report findings only for the changed files; ``--sarif/--junit/--markdown FILE``
and ``--github`` add report formats. Kept out of ``check.py`` so the command stays small.
"""

from __future__ import annotations

import os
import posixpath
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from gatekeeper import config as config_mod
from gatekeeper import config_base, config_change, policy_change, scope, waiver_change
from gatekeeper.baseline import BASELINE_NAME
from gatekeeper.checks import catalogue
from gatekeeper.cli.output import OutputSpec
from gatekeeper.context_cache import ContextCache
from gatekeeper.model import Finding, Report
from gatekeeper.pipeline import Run, apply_rule_config, execute, gc_paused
from gatekeeper.sources import git
from gatekeeper.sources.files import DEFAULT_INCLUDE
from gatekeeper.sources.tree import DiskTree, GitTree

F = TypeVar("F", bound=Callable[..., Any])
CACHE_FILE = "context-cache.sqlite3"
_KEYS = ("base", "head", "staged", "changed", "scope_name", "new_only", "no_cache",
         "sarif", "junit", "markdown", "github")


class GitError(click.ClickException):
    """A git problem (not a repository, unknown ref, shallow clone): exit 2, like every error."""

    exit_code = 2


def git_options(func: F) -> F:
    """Decorate ``check`` with the git-mode and CI report options."""
    file_type = click.Path(dir_okay=False, path_type=Path)
    decorators = [
        click.option("--base", metavar="REF", help="Check what changed from merge-base(REF, head) to head, "
                     "read from the commits."),
        click.option("--head", metavar="REF", help="Head of the range [default: HEAD]; needs --base."),
        click.option("--staged", is_flag=True,
                     help="Check the files staged in the index (read from the index)."),
        click.option("--changed", is_flag=True, help="Check the working tree's changes against HEAD."),
        click.option("--scope", "scope_name", type=click.Choice(scope.SCOPES), default=None,
                     help="In a git mode, report findings for the changed files only, or for all files "
                          "[default: changed]. The whole tree is always loaded as context."),
        click.option("--new-only", is_flag=True,
                     help="In a git mode, drop findings that already existed at the base."),
        click.option("--no-cache", is_flag=True,
                     help="Use no cache in the git directory: render every deployment unit again, and in a git "
                          "mode parse every context file (the caches hold no detected secret)."),
        click.option("--sarif", type=file_type, metavar="FILE", help="Also write a SARIF 2.1.0 report."),
        click.option("--junit", type=file_type, metavar="FILE", help="Also write a JUnit XML report."),
        click.option("--markdown", type=file_type, metavar="FILE", help="Also write a Markdown summary."),
        click.option("--github", is_flag=True, help="GitHub Actions annotations on stdout, plus the job "
                     "summary ($GITHUB_STEP_SUMMARY) and outputs ($GITHUB_OUTPUT)."),
    ]
    for deco in reversed(decorators):
        func = deco(func)
    return func


@dataclass(slots=True)
class GitOptions:
    """The parsed git-mode and report options."""

    base: str | None
    head: str | None
    staged: bool
    changed: bool
    scope_name: str | None
    new_only: bool
    no_cache: bool
    sarif: Path | None
    junit: Path | None
    markdown: Path | None
    github: bool

    @property
    def mode(self) -> str | None:
        if self.base is not None:
            return "range"
        if self.staged:
            return "staged"
        if self.changed:
            return "changed"
        return None


def pop_options(opts: dict[str, Any]) -> GitOptions:
    """Take this module's options out of the command's keyword arguments and validate them."""
    values = {k: opts.pop(k) for k in _KEYS}
    parsed = GitOptions(**values)
    for name, value in (("--base", parsed.base), ("--head", parsed.head)):
        if value is not None and (not value.strip() or value.startswith("-") or any(c in value for c in "\n\r\0")):
            raise click.UsageError(f"{name} needs a git revision (not empty, not beginning with '-', one line)")
    chosen = [name for name, on in (("--base", parsed.base is not None), ("--staged", parsed.staged),
                                    ("--changed", parsed.changed)) if on]
    if len(chosen) > 1:
        raise click.UsageError(f"{' and '.join(chosen)} cannot be combined; choose one git mode")
    if parsed.head is not None and parsed.base is None:
        raise click.UsageError("--head needs --base")
    if parsed.mode is None and (parsed.scope_name or parsed.new_only):
        raise click.UsageError("--scope and --new-only need a git mode (--base, --staged or --changed)")
    return parsed


def extra_formats(formats: tuple[str, ...], parsed: GitOptions) -> tuple[str, ...]:
    """``--format`` values plus the report files and ``--github`` asked for with their own options."""
    out = list(formats)
    if parsed.github:
        out.append("github")
    if not formats and not parsed.github:
        out.insert(0, "text")
    for name, path in (("sarif", parsed.sarif), ("junit", parsed.junit), ("markdown", parsed.markdown)):
        if path is not None:
            out.append(f"{name}={path}")
    return tuple(out)


def repo_root(paths: list[Path]) -> tuple[Any, Path]:
    """The repository around the first path (or the current directory) and its working tree root."""
    start = paths[0] if paths else Path.cwd()
    try:
        repo = git.open_repo(start if start.is_dir() else start.parent)
    except git.GitSourceError as exc:
        raise GitError(str(exc)) from None
    return repo, Path(repo.working_tree_dir)


def prefixes(paths: list[Path], root: Path) -> list[str]:
    """Repo-relative prefixes for the PATHS given in a git mode; outside the repository is an error."""
    out = []
    roots = (Path(os.path.normpath(root.absolute())), root.resolve())
    for p in paths:
        candidates = (Path(os.path.normpath(p.absolute())), p.absolute().resolve())
        rel = next((c.relative_to(r) for c in candidates for r in roots if c == r or r in c.parents), None)
        if rel is None:
            raise click.UsageError(f"{p} is outside the git repository {root}")
        if rel == Path("."):
            return []
        out.append(rel.as_posix())
    return out


def prepare(run: Run, parsed: GitOptions, repo: Any, paths: list[Path]) -> scope.Selection:
    """Fill the run's files and report paths from git; a git problem exits 2 with its message."""
    assert parsed.mode is not None
    try:
        selection = scope.select(repo, parsed.mode, base=parsed.base, head=parsed.head,
                                 prefixes=prefixes(paths, run.root), scope=parsed.scope_name or "changed",
                                 include=run.config.include or DEFAULT_INCLUDE, exclude=run.config.exclude)
    except git.GitSourceError as exc:
        raise GitError(str(exc)) from None
    cache = None if parsed.no_cache else ContextCache(Path(repo.common_dir) / "gatekeeper" / CACHE_FILE, run.root)
    base = base_config(run, repo, selection)
    if base is not None:  # settings that send the repository's content somewhere: the base's values
        run.config, notes = config_base.pin(run.config, base.config)
        selection.notes.extend(notes)
    scope.configure(run, selection, cache)
    if selection.base_rev is not None:
        run.base_file = base_reader(repo, selection.base_rev, run.root)
    return selection


def base_reader(repo: Any, rev: str, root: Path) -> Callable[[str], bytes | None]:
    """A file's content at ``rev`` by its path under ``root`` (or as given: absolute, or relative to
    the working directory); None outside the repository or when the commit has no such file."""
    top = Path(repo.working_tree_dir).resolve()

    def read(path: str) -> bytes | None:
        here = root / path
        if not here.exists() and Path(path).exists():
            here = Path(path)  # a policy directory's file, named as given on the command line
        try:
            rel = here.resolve().relative_to(top).as_posix()
        except (ValueError, OSError):
            return None
        return git.blob_at(repo, rev, rel)
    return read


def render_cache(root: Path, parsed: GitOptions) -> ContextCache | None:
    """A run outside the git modes still keeps rendered output by input digest in the store of the
    git repository around its root (when there is one), so an unchanged unit is not rendered twice."""
    if parsed.no_cache:
        return None
    try:
        repo = git.open_repo(root)
    except git.GitSourceError:
        return None
    return ContextCache(Path(repo.common_dir) / "gatekeeper" / CACHE_FILE, root)


def execute_git(run: Run, parsed: GitOptions, repo: Any, selection: scope.Selection) -> Report:
    """Run the pipeline on a git selection, then settle its scope, with the GC paused throughout.

    The parse memo keeps the head pass's node trees alive until the end; with the collector on,
    a full collection over those millions of objects would cost seconds.
    """
    with gc_paused():
        report = execute(run)
        finish(report, run, parsed, repo, selection)
    return report


def finish(report: Report, run: Run, parsed: GitOptions, repo: Any, selection: scope.Selection) -> None:
    """Record git timing and notes; settle the scope and --new-only (with a pass at the base when needed)."""
    report.timings["git"] = selection.seconds
    report.notes.extend(selection.notes)
    report.notes.append(f"{selection.mode} mode: {len(selection.report_paths)} file(s) in scope, "
                        f"{len(selection.files)} loaded as context")
    existing: set[str] = set()
    units = scope.affected_units(run, selection)
    if scope.needs_base(report, selection, parsed.new_only, units):
        started = time.perf_counter()
        try:
            existing, kept = scope.base_fingerprints(repo, run, selection, report.policy_digest)
        except git.GitSourceError as exc:
            raise GitError(str(exc)) from None
        report.timings["base"] = time.perf_counter() - started
        if kept:
            report.notes.append(f"the findings at the base were read from {CACHE_FILE} (same base, change and "
                                "configuration)")
    if isinstance(run.parser, scope.ParseMemo) and run.parser.cache is not None:
        cache = run.parser.cache
        cache.close()  # write the context parses the store was given
        context = len(selection.files) - len(run.hook_paths or run.report_paths or ())
        report.notes.append(f"parse cache: {cache.hits} context file(s) read from {cache.path.name}, "
                            f"{cache.saved} stored (of {max(context, 0)} context files)")
    if isinstance(run.parser, scope.ParseMemo):
        run.parser.close()
    run.parser = None  # free the parse memo (plain refcounted data, no cycles)
    report.notes.extend(scope.settle(report, selection, existing, parsed.new_only, units))
    weakened = config_findings(run, repo, selection, report.notes)
    weakened.extend(apply_rule_config(scope.unread_findings(selection), run.config))
    if weakened:
        report.findings = sorted([*report.findings, *weakened],
                                 key=lambda f: (f.path, f.line, f.column, f.check, f.rule, f.message))


def config_findings(run: Run, repo: Any, selection: scope.Selection, notes: list[str]) -> list[Finding]:
    """Findings for what the change does to the gate, against the base: the configuration in use, the
    policy files it edits and the waiver annotations it writes."""
    if selection.base_rev is None:
        return []
    root = Path(repo.working_tree_dir)
    found_base = base_config(run, repo, selection, notes)
    if found_base is None:
        return []
    base = found_base.config
    head = _relative(run.config.path, root)
    shown = head or found_base.path or config_mod.CONFIG_NAMES[0]
    found = config_change.findings(base, run.config, catalogue(), shown, selection.mode)
    severity = config_change.severity(base, selection.mode)
    if severity is None or not selection.changes:
        return found
    base_tree = base_files(repo, selection, selection.base_rev)
    base_tree.prefetch(sorted({c.old_path or c.path for c in selection.changes}))  # one git process, not one each
    head_tree = selection.tree if selection.tree is not None else DiskTree(root)
    for change in policy_change.changes(selection.changes, base, run.config, base_tree, head_tree):
        found.append(config_change.finding(severity, change.path, change.line, 1, "", change.what,
                                           f"this change {change.what}: it is judged by the policies it "
                                           "edits, not by the base's"))
    baselines = {BASELINE_NAME, *(p for p in (_baseline_path(c) for c in (base, run.config)) if p)}
    for path, line, what in waiver_change.baseline_added(selection.changes, base_tree, head_tree, baselines):
        found.append(config_change.finding(severity, path, line, 1, "", what,
                                           f"this change {what}: findings accepted by the same change"))
    for added in waiver_change.added(selection.changes, base_tree, head_tree):
        what = waiver_change.describe(added)
        found.append(config_change.finding(severity, added.path, added.line, added.column, added.field, what,
                                           f"this change {what}: a waiver new since the base waives the "
                                           "findings of the same change"))
    return found


def _relative(path: Path | None, root: Path) -> str | None:
    """A configuration file's repository-relative path (None: no file, or one outside the repository)."""
    if path is None:
        return None
    try:
        return path.absolute().relative_to(root.absolute()).as_posix()
    except ValueError:
        return None


def base_files(repo: Any, selection: scope.Selection, base_rev: str) -> GitTree:
    """The base commit's files, listed once per run (the configuration at the base and the change's
    comparisons read from it; blobs are read in batches)."""
    if selection.base_tree is None:
        selection.base_tree = GitTree(repo, git.tree_entries(repo, base_rev))
    return selection.base_tree


def base_blob(repo: Any, selection: scope.Selection, base_rev: str) -> Callable[[str], bytes | None]:
    """A file's content at the base by its repository-relative path, exactly as ``git.blob_at`` reads
    it, without a git process for a path the base does not have (a configuration file is looked for in
    every directory above the PATHS): a symlink, or a path not written as the listing writes it, is
    still read by ``blob_at``."""
    tree = base_files(repo, selection, base_rev)

    def read(rel: str) -> bytes | None:
        if tree.is_link(rel) or posixpath.normpath(rel) != rel or rel.startswith("/"):
            return git.blob_at(repo, base_rev, rel)
        return tree.read(rel) if tree.kind(rel) == "file" else None
    return read


def base_config(run: Run, repo: Any, selection: scope.Selection,
                notes: list[str] | None = None) -> config_base.BaseConfig | None:
    """The configuration the base used for the run's PATHS (``config_base``); None without a base, for a
    configuration from outside the repository (nothing to compare with) or an invalid one at the base."""
    base_rev = selection.base_rev
    if base_rev is None:
        return None
    root = Path(repo.working_tree_dir)
    head = _relative(run.config.path, root)
    if run.config.path is not None and head is None:
        return None  # a configuration from outside the repository has no base to compare with
    start = config_base.start_dir([p.absolute() for p in run.paths], run.root, root)
    try:
        return config_base.at_base(base_blob(repo, selection, base_rev), head, start, root, catalogue())
    except config_mod.ConfigError:
        if notes is not None:
            notes.append(f"{head or config_mod.CONFIG_NAMES[0]}: the configuration at the base is invalid; the "
                         "change to it was not compared")
        return None


def _baseline_path(config: config_mod.Config) -> str | None:
    """The root-relative secrets baseline a configuration names (None: the default)."""
    raw = config.checks.get("secrets", {}).get("baseline")
    if not isinstance(raw, str) or raw.startswith("/"):
        return None
    norm = os.path.normpath(raw).replace(os.sep, "/")
    return None if norm.startswith("..") else norm


def github_environment(report: Report, specs: list[OutputSpec]) -> None:
    """With the github format, write the job summary and step outputs where GitHub asks for them."""
    if not any(s.format == "github" for s in specs):
        return
    from gatekeeper.report import github

    files = {s.format: str(s.path) for s in specs if s.path is not None}
    github.write_environment(report, os.environ, files)
