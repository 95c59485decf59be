"""The check protocol: what every check implements and what it is given.

A check turns documents and resources into findings. It never knows which entry point
called it, never prints, and never decides the exit code. Per-document and per-resource
hooks are called by the pipeline inside an error boundary that names the check and file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from gatekeeper.model import Document, FieldPath, Finding, Resource, Rule, Severity, fingerprint, format_field
from gatekeeper.sources.classify import Classification, FileClass
from gatekeeper.sources.files import SourceFile


@dataclass(slots=True)
class Context:
    """What a run gives every check: the whole loaded state and the settings for this run."""

    root: Path
    documents: list[Document]
    resources: list[Resource]
    config: Any  # gatekeeper.config.Config (kept loose to avoid an import cycle)
    kubernetes_version: str
    options: dict[str, Any] = field(default_factory=dict)
    # Git modes: the files the per-item hooks run on (None: every file). Only their findings, and
    # findings in other files that the change caused, are kept: ``check_all`` may limit work whose
    # result for an unchanged object cannot change to these files.
    hook_paths: set[str] | None = None
    # The files whose findings the report keeps (None: findings anywhere are kept, including those
    # in unchanged files that a change caused): work whose findings would all be dropped is skipped.
    report_paths: set[str] | None = None
    classes: dict[str, Classification] = field(default_factory=dict)  # what each file is (sources/classify)
    # Secret values checks detected: the pipeline masks them wherever a report would show them
    # (a name, a field path, another check's message). Only ever added to, never rendered.
    detected: set[str] = field(default_factory=set)
    # Git modes with a base: a file's content at the base (path as findings give it), None when the
    # base has no such file; None outside them. What a change adds can be judged against it.
    base_file: Callable[[str], bytes | None] | None = None
    # Committed files no parser reads (Helm chart templates, helpers and files/, upper-case YAML
    # extensions): checks that read text (secrets) scan them at their own lines.
    texts: list[SourceFile] = field(default_factory=list)
    # Work several checks would repeat over the same run (the redaction scan of every document),
    # done by the first that needs it; keyed by what it is.
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def whole(self) -> list[Resource]:
        """The resources that are whole objects: what cross-object rules, inventories and the policies,
        CRDs and bindings found in the tree read. A patch of a unit that cannot be rendered is checked as
        a partial object, but what the rest of that object holds is unknown (a ``$patch: delete`` even
        removes it), so it never stands in for an object there."""
        return [r for r in self.resources if not r.document.partial]

    def allows(self, check: str, path: str) -> bool:
        """Whether ``check`` reads the file at ``path`` (lock files and tool configs get only some checks)."""
        cls = self.classes.get(path)
        return cls is None or cls.allows(check)

    def file_class(self, path: str) -> FileClass | None:
        cls = self.classes.get(path)
        return cls.role if cls is not None else None

    def check_config(self, name: str) -> dict[str, Any]:
        """The ``checks.<name>`` section of the configuration (empty when absent)."""
        section = self.config.checks.get(name, {}) if self.config is not None else {}
        return dict(section)


class Check:
    """Base class for checks. Override the hooks that apply; every hook may yield findings."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    config_schema: ClassVar[dict[str, Any]] = {}
    default_enabled: ClassVar[bool] = True
    # True for checks that must also read the source objects a rendered unit consumed (secrets: a
    # credential committed in a base is a leak even where an overlay removes it from the output).
    reads_sources: ClassVar[bool] = False

    def rules(self) -> Sequence[Rule]:
        """Every rule this check can report (for ``gatekeeper rules`` and the docs)."""
        return ()

    def prepare(self, ctx: Context) -> None:
        """Load what the check needs (schemas, policies). Raise ``CheckLoadError`` to fail closed."""

    def digest(self, ctx: Context) -> str:
        """A stable summary of the check's inputs (schemas, policies) for the policy digest."""
        return ""

    def active(self, ctx: Context) -> str | None:
        """None when the check runs; otherwise why it is inactive (shown in the summary)."""
        return None

    def notes(self) -> list[str]:
        """What a run of this check should tell the reader (after ``prepare``), e.g. what it skipped."""
        return []

    def check_document(self, doc: Document, ctx: Context) -> Iterable[Finding]:
        """Findings for one document that holds no Kubernetes resource (values files, kustomizations,
        kubeconfigs, patches): a document's resources go to ``check_resource`` instead."""
        return ()

    def check_resource(self, resource: Resource, ctx: Context) -> Iterable[Finding]:
        """Findings for one Kubernetes resource."""
        return ()

    def check_all(self, ctx: Context) -> Iterable[Finding]:
        """Findings that need the whole set of resources at once (cross-object rules)."""
        return ()

    def finding(self, rule: Rule | str, resource: Resource, message: str, field_path: FieldPath = (),
                *, severity: Severity | None = None, hint: str | None = None, evidence: str = "",
                end_line: int | None = None) -> Finding:
        """Build a finding located at ``field_path`` of ``resource`` (or its nearest written ancestor)."""
        rule_obj = rule if isinstance(rule, Rule) else None
        rule_id = rule_obj.id if rule_obj else str(rule)
        where = resource.source(field_path)  # a rendered object: the source line that set the field
        ref = resource.ref
        fpath = format_field(field_path)
        unit = resource.unit
        return Finding(
            check=self.name, rule=rule_id,
            severity=severity if severity is not None else (rule_obj.severity if rule_obj else Severity.ERROR),
            message=message, path=where.path, line=where.line, column=where.column, end_line=end_line,
            resource=ref, field=fpath,
            hint=hint if hint is not None else (rule_obj.hint if rule_obj else ""),
            fingerprint=fingerprint(rule_id, ref, where.path if unit else resource.path, fpath, evidence),
            origin=where.origin, units=(unit,) if unit else (),
        )

    def document_finding(self, rule: Rule | str, doc: Document, message: str, field_path: FieldPath = (),
                         *, severity: Severity | None = None, hint: str | None = None,
                         evidence: str = "") -> Finding:
        """Build a finding for a document that is not a resource (config files, values files)."""
        rule_obj = rule if isinstance(rule, Rule) else None
        rule_id = rule_obj.id if rule_obj else str(rule)
        line, column = doc.locate(field_path)
        fpath = format_field(field_path)
        return Finding(
            check=self.name, rule=rule_id,
            severity=severity if severity is not None else (rule_obj.severity if rule_obj else Severity.ERROR),
            message=message, path=doc.path, line=line, column=column, field=fpath,
            hint=hint if hint is not None else (rule_obj.hint if rule_obj else ""),
            fingerprint=fingerprint(rule_id, None, f"{doc.path}#{doc.index}", fpath, evidence),
        )


class CheckLoadError(Exception):
    """A check cannot run as configured (bad policy, missing schema dir...): the run exits 2."""
