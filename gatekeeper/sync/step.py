"""The sync step end to end: export the source commit, render, re-check everything, publish.

Nothing is published unless the full rendered state passes the same pipeline ``check``
runs (every enabled check, every file, no PR scoping). The refs are only touched by
:func:`gatekeeper.sync.publish.publish`, which keeps the branch old or complete-new.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from string import Formatter
from typing import Any

from gatekeeper import __version__
from gatekeeper.model import Report
from gatekeeper.pipeline import Run, execute
from gatekeeper.report.json import summary_dict
from gatekeeper.sources.files import DEFAULT_INCLUDE, SourceFile
from gatekeeper.sources.gitargs import UnsafeArgument, refuse_option_like
from gatekeeper.sources.render import stage
from gatekeeper.sources.tree import DiskTree
from gatekeeper.sources.yamlload import ParsedFile, parse
from gatekeeper.sync.errors import SyncError, redact
from gatekeeper.sync.faults import fault
from gatekeeper.sync.gitcmd import Git
from gatekeeper.sync.manifest import MANIFEST
from gatekeeper.sync.metadata import (
    METADATA,
    OWNED,
    README,
    DryCommit,
    hydrated_origin,
    owned_record,
    path_metadata,
    readme,
    root_metadata,
)
from gatekeeper.sync.publish import Outcome, Publication, publish
from gatekeeper.sync.render import (
    Rendered,
    choose_mode,
    clean_path,
    complete,
    export_tree,
    fill_units,
    parse_resources,
    render_path,
)
from gatekeeper.sync.target import LocalTarget, RemoteTarget, Target

DEFAULT_MESSAGE = "gatekeeper sync: {paths} at {short}\n\nSource commit: {subject}"
PLACEHOLDERS = ("source", "short", "subject", "paths", "branch")
MakeRun = Callable[[Path], Run]


@dataclass(slots=True)
class SyncRequest:
    """Everything the step needs besides the run options."""

    repo: Path
    paths: list[str]
    branch: str
    source_ref: str = "HEAD"
    target_paths: list[str] = field(default_factory=list)
    remote: str | None = None
    render: str = "auto"
    message: str = DEFAULT_MESSAGE
    sign: bool = False
    retries: int = 5
    repo_url: str | None = None
    allow_empty: bool = False
    promote: bool = False  # carry a hydrated source's hydrator.metadata over (verified) instead of the source's


@dataclass(slots=True)
class SyncResult:
    """The report, the rendered paths and what happened to the branch."""

    source: str
    report: Report | None
    rendered: list[Rendered]
    outcome: Outcome | None = None

    @property
    def exit_code(self) -> int:
        if self.report is not None and self.report.exit_code != 0:
            return self.report.exit_code
        return 0


def open_git(repo: Path) -> Git:
    """A Git runner at the top of the repository containing ``repo``."""
    probe = Git(repo)
    proc = probe.call("rev-parse", "--show-toplevel")
    if proc.returncode != 0:
        proc = probe.call("rev-parse", "--absolute-git-dir")  # a bare repository
        if proc.returncode != 0:
            raise SyncError(f"{repo} is not inside a git repository")
    return Git(Path(proc.stdout.decode().strip()))


def check_branch_name(git: Git, branch: str) -> None:
    """Refuse names git would not accept as a branch, and names that are not a plain branch name:
    ``HEAD``, a full ref (``refs/heads/x`` would become ``refs/heads/refs/heads/x``), one that
    begins with ``-``."""
    if not branch or branch == "HEAD" or branch.startswith(("refs/", "-")) or any(c in branch for c in "\n\r\0") \
            or git.call("check-ref-format", f"refs/heads/{branch}").returncode != 0:
        raise SyncError("invalid target branch name: give a plain branch name such as 'deploy/prod' "
                        "(not HEAD, not refs/..., not beginning with '-')")


def check_request(request: SyncRequest) -> None:
    """Refuse option-like values and a message template with lookups before any git command runs."""
    try:
        for value, what in ((request.remote, "--remote"), (request.source_ref, "--source-ref")):
            if value is not None:
                refuse_option_like(value, what)
    except UnsafeArgument as exc:
        raise SyncError(str(exc)) from None
    check_message(request.message)


def check_message(template: str) -> None:
    """A --message template may name the placeholders and nothing else: no attribute or index
    lookups (``{source.__class__}``), no nested fields."""
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in Formatter().parse(template) if name is not None]
    except ValueError:
        fields = [("", None, None)]
    for name, spec, conv in fields:
        if name not in PLACEHOLDERS or conv is not None or (spec and ("{" in spec or "}" in spec)):
            raise SyncError("bad --message template: use only the placeholders "
                            + ", ".join("{" + p + "}" for p in PLACEHOLDERS) + " (and {{ }} for braces)")


def make_target(git: Git, request: SyncRequest, *, writing: bool = False) -> Target:
    """The local branch, or the branch on ``--remote``."""
    check_request(request)
    check_branch_name(git, request.branch)
    if request.remote is None:
        if not writing:
            return LocalTarget(git, request.branch)
        head = git.call("symbolic-ref", "--quiet", "--end-of-options", "HEAD").stdout.decode().strip()
        bare = git.text("rev-parse", "--is-bare-repository") == "true"
        if head == f"refs/heads/{request.branch}" and not bare:
            raise SyncError(f"{request.branch} is checked out here; moving it would leave the work tree "
                            "behind (check out another branch, or sync to a remote)")
        return LocalTarget(git, request.branch)
    if git.call("remote", "get-url", "--end-of-options", request.remote).returncode != 0 \
            and "/" not in request.remote and ":" not in request.remote:
        raise SyncError(f"unknown remote {redact(request.remote)!r}")
    return RemoteTarget(git, request.branch, request.remote)


def path_pairs(request: SyncRequest) -> list[tuple[str, str]]:
    """(source path, target path) pairs; target paths default to the source paths."""
    if not request.paths:
        raise SyncError("give at least one --path to publish")
    if request.target_paths and len(request.target_paths) != len(request.paths):
        raise SyncError("give one --target-path per --path, in the same order (or none)")
    sources = [clean_path(p, "path") for p in request.paths]
    targets = [clean_path(p, "target path") for p in request.target_paths] if request.target_paths \
        else list(sources)
    if len(set(targets)) != len(targets):
        raise SyncError("two paths would be published to the same target path")
    return list(zip(sources, targets, strict=True))


def repo_url(git: Git, request: SyncRequest) -> str:
    """The source repository's URL for the metadata, without credentials."""
    if request.repo_url is not None:
        return _strip_userinfo(request.repo_url)
    for remote in ([request.remote] if request.remote else []) + ["origin"]:
        proc = git.call("remote", "get-url", "--end-of-options", remote)
        if proc.returncode == 0:
            return _strip_userinfo(proc.stdout.decode().strip())
    return ""


def _strip_userinfo(url: str) -> str:
    """``url`` without credentials: everything between ``scheme://`` and the last ``@`` (a password
    may hold an unescaped ``/`` or ``@``; an ``@`` in a remote's path is rare, and dropping a piece of
    the path leaks nothing), and without a query or fragment (``?token=...``)."""
    scheme = re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*://", url)
    if scheme is None:
        return url  # scp-like ``user@host:path`` carries no password
    rest = re.split(r"[?#]", url[scheme.end():], maxsplit=1)[0]
    return scheme.group() + rest.rpartition("@")[2]


def dry_commit(git: Git, sha: str) -> DryCommit:
    """Author, date, subject and body of the source commit."""
    raw = git.run("log", "-1", "--format=%an <%ae>%x00%aI%x00%s%x00%b", "--end-of-options", sha) \
        .decode("utf-8", "replace")
    author, date, subject, body = [*raw.split("\x00"), "", "", "", ""][:4]
    return DryCommit(sha, author, date, subject, body.strip())


_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def origin(git: Git, data: bytes | None, source: str, promote: bool) -> tuple[DryCommit | None, str | None]:
    """The dry commit a promoted hydrated source names, verified (None: describe the source commit
    itself), and a note for the report when the source carries metadata that was not used.

    A root ``hydrator.metadata`` is only a file in the commit: anybody can write one naming a
    reviewed commit and author. It is honoured only when ``promote`` asks for it and the dry
    commit it names exists here and is an ancestor of the source commit; the author, date and
    message then come from that commit, never from the file.
    """
    claimed = hydrated_origin(data)
    if not promote:
        if claimed is None:
            return None, None
        return None, ("the source's root hydrator.metadata was not carried over (it names another commit; "
                      "pass --promote-hydrated to promote a hydrated branch): the metadata describes the "
                      "source commit")
    if claimed is None:
        raise SyncError("--promote-hydrated: the source has no root hydrator.metadata naming a drySha")
    sha = claimed.sha.strip().lower()
    if not _SHA.fullmatch(sha) or git.call("cat-file", "-e", "--end-of-options", f"{sha}^{{commit}}").returncode:
        raise SyncError("--promote-hydrated: the drySha in hydrator.metadata is not a commit of this repository")
    if git.call("merge-base", "--is-ancestor", "--end-of-options", sha, source).returncode:
        raise SyncError(f"--promote-hydrated: dry commit {sha[:12]} is not an ancestor of the source commit "
                        f"{source[:12]}; refusing to describe the source by it")
    real = dry_commit(git, sha)
    return DryCommit(real.sha, real.author, real.date, real.subject, real.body, claimed.repo_url), None


def resolve_source(git: Git, ref: str) -> str:
    """The commit id the source ref names."""
    sha = git.rev(ref)
    if sha is None:
        raise SyncError(f"unknown source revision {ref!r}")
    return sha


def render_all(tree: Path, pairs: list[tuple[str, str]], mode: str, run: Run) -> list[Rendered]:
    """Render every path (plain renders are completed from the parses later)."""
    include = tuple(run.config.include or DEFAULT_INCLUDE)
    exclude = tuple(run.config.exclude)
    return [render_path(tree, source_path, target_path, choose_mode(tree, source_path, mode), include, exclude)
            for source_path, target_path in pairs]


def _empty_render(item: Rendered) -> SyncError:
    return SyncError(f"{item.source_path} renders no Kubernetes objects; refusing to publish an empty "
                     "manifest (it would prune everything; pass --allow-empty if that is intended)")


def refuse_unpublishable(rendered: list[Rendered], allow_empty: bool) -> None:
    """An empty render (unless allowed) or a file that could not be read completely is an error."""
    for item in rendered:
        if not item.objects and not allow_empty:
            raise _empty_render(item)
    problems = [p for r in rendered for p in r.problems]
    if problems:
        raise SyncError(f"cannot publish: {len(problems)} file(s) could not be read completely "
                        f"(first: {problems[0]})")


def capture_parses(run: Run) -> dict[str, ParsedFile]:
    """Make the run remember every parse, so plain renders publish exactly what was checked."""
    cache: dict[str, ParsedFile] = {}
    inner = run.parser

    def parse_and_keep(source: SourceFile, context: bool = False) -> ParsedFile:
        parsed = parse(source) if inner is None else inner(source, context)
        cache[source.path] = parsed
        return parsed

    run.parser = parse_and_keep
    return cache


def branch_files(rendered: list[Rendered], url: str, dry: DryCommit) -> dict[str, bytes]:
    """Every file the step owns on the branch, by branch path."""
    files: dict[str, bytes] = {METADATA: root_metadata(url, dry)}
    for item in rendered:
        files[f"{item.target_path}/{MANIFEST}"] = item.manifest
        files[f"{item.target_path}/{METADATA}"] = path_metadata(url, dry.sha, item.commands)
        files[f"{item.target_path}/{README}"] = readme(item.source_path, item.commands)
    files[OWNED] = owned_record([*files, OWNED])
    return files


def commit_message(request: SyncRequest, source: str, dry: DryCommit, report: Report,
                   pairs: list[tuple[str, str]]) -> str:
    """The commit message from the template, followed by the provenance trailers (``Gate-Source`` is
    the commit that was checked; for a promoted hydrated branch that is not the dry commit)."""
    values = {"source": source, "short": source[:12], "subject": dry.subject,
              "paths": ", ".join(t for _, t in pairs), "branch": request.branch}
    check_message(request.message)
    head = request.message.format_map(values)
    if not head.strip():
        raise SyncError("the --message template gives an empty message")
    waivers = sum(1 for f in report.findings if f.waived is not None)
    trailers = [
        "Gate-Verdict: pass",
        f"Gate-Source: {source}",
        f"Gate-Policy-Digest: {report.policy_digest}",
        f"Gate-Tool: gatekeeper/{__version__}",
        f"Gate-Waivers: {waivers}",
    ]
    return head.strip() + "\n\n" + "\n".join(trailers) + "\n"


def note_json(request: SyncRequest, source: str, report: Report, rendered: list[Rendered]) -> bytes:
    """The git note: the report summary and what was rendered."""
    note: dict[str, Any] = {
        "tool": f"gatekeeper/{__version__}",
        "source": source,
        "branch": request.branch,
        "paths": [{"source": r.source_path, "target": r.target_path, "render": r.mode,
                   "objects": len(r.objects)} for r in rendered],
        "summary": summary_dict(report),
    }
    return (json.dumps(note, indent=2, sort_keys=True) + "\n").encode("utf-8")


def scope_run(run: Run, files: list[Rendered], tree: Path) -> None:
    """Point the pipeline run at exactly the state to publish: the plain paths' files (always whole
    objects) and the units to render from the exported tree; no PR scoping."""
    seen: dict[str, SourceFile] = {}
    for item in files:
        for source in item.check_files:
            if seen.setdefault(source.path, source).data != source.data:
                raise SyncError(f"two rendered paths both produce {source.path}; choose other --target-path")
    run.files = [seen[k] for k in sorted(seen)]
    run.report_paths = None
    run.units = [item.unit for item in files if item.unit is not None]
    run.published = frozenset(seen)
    run.tree = DiskTree(tree)


def refuse_links(outside: list[str], pairs: list[tuple[str, str]]) -> None:
    """A symlink out of the tree is refused when it lies under a published path (elsewhere in the
    commit it does not matter; a render input that is one reads as missing)."""
    for link in outside:
        for source_path, _ in pairs:
            if link == source_path or link.startswith(source_path.rstrip("/") + "/"):
                raise SyncError(f"cannot publish {source_path}: symlink {link} points outside the tree")


def sync(request: SyncRequest, make_run: MakeRun) -> SyncResult:
    """Render, re-check everything and publish on a pass; the branch is untouched otherwise."""
    git = open_git(request.repo)
    pairs = path_pairs(request)
    target = make_target(git, request, writing=True)
    source = resolve_source(git, request.source_ref)
    with tempfile.TemporaryDirectory(prefix="gatekeeper-sync-") as tmp:
        tree_dir = Path(tmp) / "tree"
        tree_dir.mkdir()
        refuse_links(export_tree(git, source, tree_dir), pairs)
        carried, unused = origin(git, (tree_dir / METADATA).read_bytes() if (tree_dir / METADATA).is_file()
                                 else None, source, request.promote)
        run = make_run(tree_dir)
        rendered = render_all(tree_dir, pairs, request.render, run)
        empty = next((item for item in rendered if not item.check_files and item.unit is None), None)
        if empty is not None and not request.allow_empty:
            raise _empty_render(empty)  # said before the gate's "nothing was checked"
        scope_run(run, rendered, tree_dir)
        parses = capture_parses(run)
        report = execute(run)
    if unused is not None:
        report.notes.append(unused)
    result = SyncResult(source, report, rendered)
    if report.exit_code != 0:
        return result
    fill_units(rendered, run.render_outcome)
    for item in rendered:
        complete(item, lambda file: parses.get(file.path))
    refuse_unpublishable(rendered, request.allow_empty)
    fault("checked")
    dry = carried or dry_commit(git, source)
    url = dry.repo_url if dry.repo_url and request.repo_url is None else repo_url(git, request)
    pub = Publication(source, branch_files(rendered, url, dry),
                      commit_message(request, source, dry, report, pairs),
                      note_json(request, source, report, rendered), sign=request.sign)
    try:
        result.outcome = publish(git, target, pub, request.retries)
    finally:
        target.close()
    return result


def drift(request: SyncRequest, make_run: MakeRun) -> tuple[str, bool]:
    """Render without checking or writing; the drift report text and whether the branch differs."""
    from gatekeeper.sync.drift import compare, render_text

    git = open_git(request.repo)
    pairs = path_pairs(request)
    target = make_target(git, request)
    source = resolve_source(git, request.source_ref)
    try:
        with tempfile.TemporaryDirectory(prefix="gatekeeper-sync-") as tmp:
            tree_dir = Path(tmp) / "tree"
            tree_dir.mkdir()
            refuse_links(export_tree(git, source, tree_dir), pairs)
            run = make_run(tree_dir)
            rendered = render_all(tree_dir, pairs, request.render, run)
            units = [item.unit for item in rendered if item.unit is not None]
            outcome = stage.apply([], DiskTree(tree_dir), units=units) if units else None
            if outcome is not None and outcome.error is not None:
                raise SyncError(outcome.error)
        fill_units(rendered, outcome)
        for item in rendered:
            complete(item, parse_resources)
        refuse_unpublishable(rendered, request.allow_empty)
        drifts = compare(git, target.read().tip, rendered)
    finally:
        target.close()
    return render_text(target.describe(), drifts), any(not d.empty for d in drifts)


def verify_branch(request: SyncRequest, since: str | None, require_signed: bool) -> tuple[str, int]:
    """The ``--verify-branch`` report and its exit code (1 when any commit lacks a passing verdict)."""
    from gatekeeper.sync.verify import verify

    git = open_git(request.repo)
    target = make_target(git, request)
    if since is not None and (not since or since.startswith("-") or any(c in since for c in "\n\r\0")):
        raise SyncError("--since must not be empty, begin with '-' or hold a line break")
    try:
        tip = target.read().tip
        if tip is None:
            raise SyncError(f"branch {target.describe()} does not exist")
        count, problems = verify(git, tip, since, require_signed)
    finally:
        target.close()
    lines = [f"{p.commit[:12]} {p.subject[:60]}: {p.reason}" for p in problems]
    verdict = (f"{target.describe()}: {len(problems)} of {count} commit(s) lack a passing gate verdict"
               if problems else f"{target.describe()}: all {count} commit(s) carry a passing gate verdict")
    return "\n".join([*lines, verdict]) + "\n", 1 if problems else 0


__all__ = ["SyncError", "SyncRequest", "SyncResult", "drift", "sync", "verify_branch"]
