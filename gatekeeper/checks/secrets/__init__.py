"""The secrets check: plaintext credentials in manifests and the configuration files around them.

Detection is structural (parsed objects, not line regexes): a value is judged by where it sits
(Secret data, a pod's env, a kubeconfig, a secretGenerator, any other key) and by its shape
(provider token families, keyword + entropy). Findings name the resource and field path and
carry at most a 4-character prefix, the length and a keyed digest: never the value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from gatekeeper.catalogue import REPOSITORY_PATH
from gatekeeper.checks.base import Check, Context
from gatekeeper.checks.secrets.inline import find_allow, may_allow
from gatekeeper.checks.secrets.kubernetes import is_kubeconfig, reader_of, scan_kubeconfig
from gatekeeper.checks.secrets.kustomize import FileHit, is_kustomization, scan_kustomization
from gatekeeper.checks.secrets.lockfiles import scan_lock_file
from gatekeeper.checks.secrets.redact import Redactor, repo_salt
from gatekeeper.checks.secrets.rules import RULES
from gatekeeper.checks.secrets.scan import Hit, Scanner
from gatekeeper.checks.secrets.text import comments, scan_text
from gatekeeper.checks.secrets.tokens import gcp_service_account
from gatekeeper.model import Document, FieldPath, Finding, Origin, Resource, Rule, Waiver, fingerprint, format_field
from gatekeeper.sources.classify import FileClass

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "enabled": {"type": "boolean", "description": "Run this check (default true)."},
        "salt": {"type": "string", "minLength": 8,
                 "description": "Key for secret fingerprints (default: the repository's root commit id)."},
        "baseline": {"type": "string", REPOSITORY_PATH: True,
                     "description": "Baseline file of accepted findings (default .gatekeeper-baseline.json "
                                    "in the root, when present)."},
    },
}


class SecretsCheck(Check):
    """Find plaintext credentials; report where, never what."""

    name = "secrets"
    reads_sources = True
    summary = "Plaintext credentials: Kubernetes-aware structure, provider token families, keyword + entropy."
    config_schema = CONFIG_SCHEMA

    def __init__(self) -> None:
        self.redactor = Redactor("")
        self.high_entropy = True
        self._lines: dict[str, list[str]] = {}
        self._marked: dict[str, bool] = {}
        self._scanner = Scanner(True, typed_tokens=False)

    def rules(self) -> Sequence[Rule]:
        return list(RULES.values())

    def prepare(self, ctx: Context) -> None:
        section = ctx.check_config(self.name)
        self.redactor = Redactor(repo_salt(ctx.root, section.get("salt")))
        self.high_entropy = ctx.config is None or ctx.config.rule_enabled("secret-high-entropy", True)
        self._scanner = Scanner(self.high_entropy, typed_tokens=False)
        self._lines = {}
        self._marked = {}

    def digest(self, ctx: Context) -> str:
        rules = ",".join(sorted(RULES))
        return hashlib.sha256(f"secrets:{rules}:{self.high_entropy}".encode()).hexdigest()[:16]

    # -- hooks ----------------------------------------------------------------------------

    def check_resource(self, resource: Resource, ctx: Context) -> Iterable[Finding]:
        if resource.document.generated:
            return ()  # a generator's output: its literals and files are scanned at their own lines
        scanner = self._scanner  # one per run: most objects leave it untouched
        reader_of(resource.api_version, resource.kind)(scanner, resource.obj)
        if not scanner.hits:
            return ()
        hits, scanner.hits = scanner.hits, []
        ctx.detected.update(h.value for h in hits)
        return self._findings(hits, resource.document, resource)

    def check_document(self, doc: Document, ctx: Context) -> Iterable[Finding]:
        if not isinstance(doc.obj, (dict, list)):
            return []
        scanner = Scanner(self.high_entropy)
        if ctx.file_class(doc.path) is FileClass.LOCK_FILE:
            scan_lock_file(scanner, doc.obj)
            ctx.detected.update(h.value for h in scanner.hits)
            return self._findings(scanner.hits, doc, None)
        file_hits = scan_document(scanner, doc.path, doc.obj, ctx.root)
        ctx.detected.update(h.value for h in scanner.hits)
        ctx.detected.update(h.hit.value for h in file_hits)
        findings = self._findings(scanner.hits, doc, None)
        findings.extend(self._file_findings(file_hits, doc, ctx))
        return findings

    def check_all(self, ctx: Context) -> Iterable[Finding]:
        """Committed files no parser reads (chart templates, helpers, files/, upper-case YAML
        extensions), scanned as text: a credential there leaks whether or not a render shows it;
        and the comments of the files that were parsed (no parser keeps them), for token families."""
        out: list[Finding] = []
        scanner = Scanner(self.high_entropy)
        for source in ctx.texts:
            if ctx.hook_paths is not None and source.path not in ctx.hook_paths:
                continue
            text = source.data.decode("utf-8", "replace")
            found = ((line, column, hit) for line, column, hit in scan_text(scanner, text))
            out.extend(self._text_findings(ctx, source.path, text, found, f"in a file read as text "
                                                                           f"({_read_as_text(source.path)})"))
        out.extend(self._comment_findings(ctx, scanner))
        return out

    def _comment_findings(self, ctx: Context, scanner: Scanner) -> list[Finding]:
        """Provider token families in the comments of every parsed file (once per file; values already
        reported are left to their own findings; a URL with a password is a documentation example
        there more often than not)."""
        out: list[Finding] = []
        done: set[str] = set()
        for doc in ctx.documents:
            path = doc.path
            if path in done or doc.unit is not None or not doc.text or path.endswith(".json"):
                continue
            done.add(path)
            if (ctx.hook_paths is not None and path not in ctx.hook_paths) or "#" not in doc.text:
                continue
            found = []
            for line, column, comment in comments(doc.text):
                before = len(scanner.hits)
                scanner.tokens(comment, (), "in a comment")
                for hit in scanner.hits[before:]:  # a URL with user:pass in a comment is mostly an example
                    if hit.value not in ctx.detected and hit.rule not in _EXAMPLE_IN_COMMENTS:
                        found.append((line, column + 1 + max(comment.find(hit.value), 0), hit))
                del scanner.hits[before:]
            out.extend(self._text_findings(ctx, path, doc.text, found, "committed text kept in the history "
                                                                       "like any value"))
        return out

    def _text_findings(self, ctx: Context, path: str, text: str, found: Iterable[tuple[int, int, Hit]],
                       why: str) -> list[Finding]:
        """Findings for hits at (line, column) of a file's text."""
        out: list[Finding] = []
        lines: list[str] | None = None
        seen: set[str] = set()
        for line, column, hit in found:
            ctx.detected.add(hit.value)
            digest = self.redactor.digest(hit.rule, hit.value)
            rule = RULES[hit.rule]
            where = format_field(hit.path)
            print_ = fingerprint(rule.id, None, path, where or f"line {line}", digest)
            if print_ in seen:
                continue
            seen.add(print_)
            message = f"{hit.what} {Redactor.describe(hit.value, digest)}, {why}"
            finding = Finding(check=self.name, rule=rule.id, severity=rule.severity, message=message,
                              path=path, line=line, column=column, field=where, hint=rule.hint,
                              fingerprint=print_)
            lines = text.splitlines() if lines is None else lines
            out.extend(self._suppress(finding, lines))
        return out

    # -- hits to findings -------------------------------------------------------------------------

    def _findings(self, hits: list[Hit], doc: Document, resource: Resource | None) -> list[Finding]:
        """Findings located like ``Check.finding``/``document_finding`` (field path -> line, fingerprint
        over rule, object, field and the keyed digest), built once per hit."""
        out: list[Finding] = []
        seen: set[str] = set()
        for hit in hits:
            digest = self.redactor.digest(hit.rule, hit.value)
            where = format_field(hit.path)
            message = f"{hit.what} at {where} {Redactor.describe(hit.value, digest)}"
            rule = RULES[hit.rule]
            path = doc.path
            origin: tuple[Origin, ...] = ()
            units: tuple[str, ...] = ()
            if resource is not None:
                located = resource.source(hit.path)  # a rendered object: the source line
                path, line, column, origin = located.path, located.line, located.column, located.origin
                units = (resource.unit,) if resource.unit else ()
                ref = resource.ref
                print_ = fingerprint(rule.id, ref, path if units else resource.path, where, digest)
            else:
                line, column = doc.locate(hit.path)
                ref = None
                print_ = fingerprint(rule.id, None, f"{doc.path}#{doc.index}", where, digest)
            finding = Finding(check=self.name, rule=rule.id, severity=rule.severity, message=message,
                              path=path, line=line, column=column, resource=ref, field=where,
                              hint=rule.hint, fingerprint=print_, origin=origin, units=units)
            if finding.fingerprint in seen:
                continue
            seen.add(finding.fingerprint)
            if hit.anchor is not None and hit.sub_line is not None:
                finding = self._embedded_line(finding, hit, doc, resource)
            out.extend(self._suppress(finding, self._text_lines(doc) if self._allows(doc) else []))
        return out

    def _file_findings(self, hits: list[FileHit], doc: Document, ctx: Context) -> list[Finding]:
        out: list[Finding] = []
        seen: set[str] = set()
        for item in hits:
            hit = item.hit
            digest = self.redactor.digest(hit.rule, hit.value)
            where = format_field(hit.path)
            rule = RULES[hit.rule]
            message = (f"{hit.what} at {where} (read by {doc.path}) "
                       f"{Redactor.describe(hit.value, digest)}")
            finding = Finding(check=self.name, rule=rule.id, severity=rule.severity, message=message,
                              path=item.path, line=item.line, field=where, hint=rule.hint,
                              fingerprint=fingerprint(rule.id, None, item.path, where, digest))
            if finding.fingerprint in seen:
                continue
            seen.add(finding.fingerprint)
            out.extend(self._suppress(finding, self._file_lines(ctx, item.path)))
        return out

    def _embedded_line(self, finding: Finding, hit: Hit, doc: Document, resource: Resource | None) -> Finding:
        """Point a finding inside an embedded string at the file line that holds it."""
        assert hit.anchor is not None and hit.sub_line is not None
        base = resource.base if resource is not None else ()
        anchor_line = doc.locate((*base, *hit.anchor))[0]
        text = _value_at(resource.obj if resource is not None else doc.obj, hit.anchor)
        lines = self._text_lines(doc)
        if not isinstance(text, str) or not lines:
            return finding
        sub = text.splitlines()
        wanted = sub[hit.sub_line].strip() if hit.sub_line < len(sub) else ""
        guess = anchor_line + 1 + hit.sub_line
        if wanted and 1 <= guess <= len(lines) and lines[guess - 1].strip() == wanted:
            return replace(finding, line=guess, column=lines[guess - 1].find(wanted) + 1)
        end = min(len(lines), anchor_line + len(sub) + 2)
        for number in range(anchor_line, end + 1):
            if wanted and wanted in lines[number - 1]:
                return replace(finding, line=number, column=lines[number - 1].find(wanted) + 1)
        return finding

    def _suppress(self, finding: Finding, lines: list[str]) -> list[Finding]:
        """Apply an inline allow comment; a gatekeeper:allow without a reason is itself a finding."""
        allow = find_allow(lines, finding.line, finding.rule)
        if allow is None:
            return [finding]
        if allow.reason is None:
            rule = RULES["secret-allow-without-reason"]
            problem = replace(finding, rule=rule.id, severity=rule.severity, line=allow.line, column=1,
                              message=f"gatekeeper:allow for {finding.rule} has no reason=\"...\"; "
                                      f"the finding still counts", hint=rule.hint,
                              fingerprint=fingerprint(rule.id, finding.resource, finding.path, finding.field,
                                                      finding.fingerprint))
            return [finding, problem]
        source = f"inline {allow.marker} ({finding.path}:{allow.line})"
        return [replace(finding, waived=Waiver(allow.reason, source))]

    def _allows(self, doc: Document) -> bool:
        """Whether the document's file has any inline allow comment (most have none, and then
        its lines need not be split to look for one)."""
        marked = self._marked.get(doc.path)
        if marked is None:
            marked = self._marked[doc.path] = may_allow(doc.text)
        return marked

    def _text_lines(self, doc: Document) -> list[str]:
        lines = self._lines.get(doc.path)
        if lines is None:
            lines = doc.text.splitlines()
            self._lines[doc.path] = lines
        return lines

    def _file_lines(self, ctx: Context, rel: str) -> list[str]:
        lines = self._lines.get(rel)
        if lines is None:
            try:
                lines = (ctx.root / rel).read_text(encoding="utf-8-sig").splitlines()
            except (OSError, UnicodeDecodeError):
                lines = []
            self._lines[rel] = lines
        return lines


_EXAMPLE_IN_COMMENTS = frozenset({"secret-url-password"})


def _read_as_text(path: str) -> str:
    _, dot, ext = path.rpartition(".")
    if dot and ext != ext.lower() and ext.lower() in ("yaml", "yml", "json"):
        return "an upper-case extension no GitOps agent deploys; committed all the same"
    return "a Helm chart file, scanned whether or not a render uses it"


def scan_document(scanner: Scanner, path: str, obj: Any, root: Path | None) -> list[FileHit]:
    """Scan a document that holds no Kubernetes resource (kubeconfig, kustomization, service-account
    key file, any other YAML or JSON); hits in the files a kustomization's generators read are
    returned apart (not read when ``root`` is None)."""
    if isinstance(obj, list):
        scanner.walk(obj)
    elif is_kubeconfig(obj):
        scan_kubeconfig(scanner, obj)
    elif is_kustomization(path, obj):
        return scan_kustomization(scanner, obj, path, root)
    elif gcp_service_account(obj):
        scanner.add("secret-gcp-service-account", ("private_key",), str(obj["private_key"]),
                    "GCP service-account key file")
    elif isinstance(obj, dict):
        scanner.walk(obj)
    return []


def detected(doc: Document) -> list[tuple[FieldPath, str]]:
    """(field path from the document root, value) of every value the secrets check reports in a
    document, read through its resources when it has any; for a value found inside an embedded
    string the path is that string's. What a cache of parsed documents must not keep."""
    return _detect(doc)


def _detect(doc: Document) -> list[tuple[FieldPath, str]]:
    scanner = Scanner(True)
    out: list[tuple[FieldPath, str]] = []
    if doc.resources:
        for resource in doc.resources:
            reader_of(resource.api_version, resource.kind)(scanner, resource.obj)
            out.extend(((*resource.base, *(h.anchor if h.anchor is not None else h.path)), h.value)
                       for h in scanner.hits)
            scanner.hits = []
    elif isinstance(doc.obj, (dict, list)):
        scan_document(scanner, doc.path, doc.obj, None)
        out.extend((h.anchor if h.anchor is not None else h.path, h.value) for h in scanner.hits)
    return out


def _value_at(obj: Any, path: Sequence[str | int]) -> Any:
    for part in path:
        if isinstance(obj, dict) and isinstance(part, str):
            obj = obj.get(part)
        elif isinstance(obj, list) and isinstance(part, int) and 0 <= part < len(obj):
            obj = obj[part]
        else:
            return None
    return obj


__all__ = ["RULES", "SecretsCheck", "detected", "scan_document"]
