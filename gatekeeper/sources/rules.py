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

_W = Severity.WARNING

# Findings of the render stage (check name ``render``): kustomizations and deployment units.
RENDER_RULES: tuple[Rule, ...] = (
    Rule("kustomize-invalid", "render", _E, "A kustomization has a shape kustomize rejects.",
         "kustomize refuses to build it (for example string entries under 'patches', rejected since v5), so "
         "Argo CD or Flux fail to sync, and the objects it would produce were not checked as rendered.",
         "Fix the key at the reported line as the message says.",
         bad_example="resources: [deploy.yaml]\npatches: [patch.yaml]\n",
         good_example="resources: [deploy.yaml]\npatches:\n  - path: patch.yaml\n"),
    Rule("render-error", "render", _E, "A deployment unit cannot be rendered.",
         "The renderer (kustomize or Helm) fails on it, so the GitOps agent fails too; the unit's files were "
         "checked as files only.", "Fix the file and line the message names.",
         bad_example="resources: [missing.yaml]\n", good_example="resources: [deploy.yaml]\n"),
    Rule("render-remote", "render", _W, "A unit uses a remote base or chart that cannot be rendered offline.",
         "The gate never fetches: what a remote base or chart adds is not checked, only the unit's local files.",
         "Vendor the base or chart into the repository, or waive the rule where the remote source is trusted.",
         bad_example="resources:\n  - https://github.com/example/app//base?ref=v1\n",
         good_example="resources:\n  - ../../base\n"),
    Rule("render-patch-unchecked", "render", _E,
         "A patch that is no object (JSON 6902, inline) applies to a unit that cannot be rendered offline.",
         "A GitOps agent renders the remote base with the patch, so what the patch sets (a privileged container, "
         "a host network) reaches the cluster; the gate cannot render the unit, and only a strategic-merge patch "
         "can be checked alone (as a partial object).",
         "Vendor the base into the repository so the unit renders and is checked, or write the change as a "
         "strategic-merge patch file.",
         bad_example="resources:\n  - https://github.com/example/app//base?ref=v1\npatches:\n  - path: ops.yaml\n"
                     "    target: {kind: Deployment}\n",
         good_example="resources:\n  - ../../base\npatches:\n  - path: ops.yaml\n    target: {kind: Deployment}\n"),
    Rule("render-unapplied", "render", _W, "A unit input the GitOps agent applies is not applied by the gate.",
         "The rendered state the gate checks differs from what the agent applies (a Flux post-renderer, Flux "
         "Kustomization overrides of a directory without a kustomization, an Argo CD plugin source, values from "
         "another repository of a multi-source Application, Argo CD helm.values beside valuesObject).",
         "Check that part by other means (render it into the repository), or waive the rule.",
         bad_example="spec:\n  postRenderers:\n    - kustomize:\n        patches: [...]\n",
         good_example="spec:\n  values:\n    replicaCount: 2\n"),
    Rule("render-substitute", "render", _W, "A Flux post-build variable is referenced but defined nowhere.",
         "Flux replaces an undefined ${var} without a default by an empty string (an empty image tag, host or "
         "name reaches the cluster), or fails to reconcile when strict substitution is on.",
         "Define the variable in postBuild.substitute or a substituteFrom ConfigMap/Secret, or give the reference "
         "a default (${var:=value}); write $${var} for a literal ${var}.",
         bad_example="# the Flux Kustomization: postBuild: {substitute: {}}\nmetadata:\n  name: web-${REGION}\n",
         good_example="# the Flux Kustomization: postBuild: {substitute: {REGION: eu}}\nmetadata:\n"
                      "  name: web-${REGION}\n"),
    Rule("render-outside", "render", _E, "A unit references a path outside the repository.",
         "Renders see the repository only; a GitOps agent refuses such paths as well.",
         "Keep every base, patch and chart inside the repository.",
         bad_example="resources: [../../../../etc/app]\n", good_example="resources: [../../base]\n"),
    Rule("render-cycle", "render", _E, "Kustomizations include each other in a loop.",
         "kustomize cannot build a cycle; no overlay on it renders.", "Remove one of the references.",
         bad_example="# a/kustomization.yaml (and b/kustomization.yaml says resources: [../a])\nresources: [../b]\n",
         good_example="# a/kustomization.yaml (and b/kustomization.yaml says resources: [cm.yaml])\n"
                      "resources: [../b]\n"),
    Rule("render-limit", "render", _E, "A render ran over its time or output-size limit.",
         "A render that does not finish, or floods its output, is stopped; the unit was not checked as rendered.",
         "Look for a runaway loop in the templates or a generator that produces far too much.",
         bad_example="# templates/big.yaml: {{- range until 100000000 }}{{ end }}\napiVersion: v1\nkind: ConfigMap\n"
                     "metadata: {name: big}\n",
         good_example="# templates/big.yaml: {{- range .Values.items }}{{ end }}\napiVersion: v1\nkind: ConfigMap\n"
                      "metadata: {name: big}\n"),
    Rule("render-disabled", "render", _E, "A kustomization needs a feature the gate never runs (Helm inflation).",
         "kustomize's helmCharts fetch charts at render time; the unit was not rendered.",
         "Render the chart as a Helm unit (a chart directory in the repository) instead.",
         bad_example="helmCharts:\n  - name: redis\n    repo: https://charts.example.com\n",
         good_example="resources: [../../charts-rendered]\n"),
)
