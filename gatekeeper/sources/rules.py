"""Documentation of the findings the loader itself produces (check name ``parse``)."""

from __future__ import annotations

from gatekeeper.model import Rule, Severity

_E = Severity.ERROR

PARSE_RULES: tuple[Rule, ...] = (
    Rule("parse-error", "parse", _E, "A YAML or JSON file cannot be parsed.",
         "Argo CD and Flux refuse to sync an unparsable file; nothing after the error was checked.",
         "Fix the syntax at the reported line and column."),
    Rule("duplicate-key", "parse", _E, "A mapping defines the same key twice.",
         "YAML parsers silently keep the last value, so the object applied differs from the one reviewed.",
         "Remove or merge the duplicate key."),
    Rule("binary-file", "parse", _E, "A file with a manifest extension holds binary data.",
         "The gate cannot check it, so it must not pass silently.", "Remove the file or exclude it."),
    Rule("encoding-error", "parse", _E, "A manifest file is not valid UTF-8.",
         "Kubernetes manifests are UTF-8; the file cannot be checked.", "Save the file as UTF-8."),
    Rule("file-too-large", "parse", _E, "A file is over the configured size limit.",
         "Huge files slow every run and hide content from review; it was not checked.",
         "Split the file, or raise max_file_size in .gatekeeper.yaml."),
    Rule("alias-bomb", "parse", _E, "A document expands through YAML aliases beyond the limit.",
         "Nested aliases ('billion laughs') can exhaust memory in any tool that expands them.",
         "Expand the anchors by hand or reduce their nesting."),
    Rule("missing-kind", "parse", _E, "An object looks like a manifest but lacks a valid apiVersion or kind.",
         "Without apiVersion and kind the object cannot be applied nor checked.",
         "Add apiVersion and kind."),
    Rule("unreadable-file", "parse", _E, "A file cannot be read.",
         "The gate cannot check what it cannot read.", "Fix the file's permissions."),
    Rule("symlink-outside-tree", "parse", _E, "A symbolic link points outside the scanned tree.",
         "GitOps agents refuse out-of-bounds links; the target was not checked.",
         "Copy the file into the repository instead of linking to it."),
)
