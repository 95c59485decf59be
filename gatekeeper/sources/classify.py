"""Know what a file is before checking it: Kubernetes manifests, kustomize inputs, Helm files,
tool configuration, lock files and plain data.

A repository holds much more YAML and JSON than it deploys. Checking a ``package-lock.json`` for
secrets by entropy reports every integrity hash; linting a kind cluster config as a Pod reports a
Pod without containers. Each file gets one class, a reason a person can read, and the checks that
fit it (``checks``: None means every check).

The order of the tests is the order of certainty: a name that only one tool uses (lock files, CI
configs), then what a kustomization in the tree says the file is, then what the file holds (the
apiVersion groups of local tools, Kubernetes objects), then names that are only conventions
(Helm values), and plain data last. A name never hides Kubernetes objects (a Pod saved as
``package-lock.json`` is a manifest), and a patch role never hides a file that something applies
as a plain manifest (``sources.routes``).
"""

from __future__ import annotations

import enum
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from gatekeeper.model import Document, Finding, Severity
from gatekeeper.sources import kustomize, routes
from gatekeeper.sources.resources import is_local_config


class FileClass(str, enum.Enum):
    """What a file is, which decides the checks it gets."""

    MANIFEST = "manifest"                # Kubernetes objects: every check
    KUSTOMIZATION = "kustomization"      # a kustomization or component
    KUSTOMIZE_PATCH = "kustomize-patch"  # a partial object kustomize merges into another
    KUSTOMIZE_CONFIG = "kustomize-config"  # transformer/generator/validator configs, configurations, openapi
    HELM_CHART = "helm-chart"            # Chart.yaml, values.schema.json
    HELM_VALUES = "helm-values"          # values files
    TOOL_CONFIG = "tool-config"          # CI, linters, kind/kubeadm, package manifests, ...: secrets only
    LOCK_FILE = "lock-file"              # dependency lock files: token families only
    DATA = "data"                        # any other YAML or JSON

    def __str__(self) -> str:
        return self.value


SECRETS_ONLY = frozenset({"secrets"})
# The checks each class gets (None: every check). Lock files get the secrets check in its
# token-family mode only (no entropy: every line of a lock file is a hash).
CHECKS: dict[FileClass, frozenset[str] | None] = {
    FileClass.MANIFEST: None,
    FileClass.KUSTOMIZATION: None,
    FileClass.KUSTOMIZE_PATCH: None,
    FileClass.KUSTOMIZE_CONFIG: SECRETS_ONLY,
    FileClass.HELM_CHART: SECRETS_ONLY,
    FileClass.HELM_VALUES: None,
    FileClass.TOOL_CONFIG: SECRETS_ONLY,
    FileClass.LOCK_FILE: SECRETS_ONLY,
    FileClass.DATA: None,
}
# Classes whose files are never Kubernetes objects: objects in them are not resources, and a
# mapping in them that merely looks like a manifest is not a "missing kind".
NOT_OBJECTS = frozenset({FileClass.KUSTOMIZE_PATCH, FileClass.KUSTOMIZE_CONFIG, FileClass.HELM_CHART,
                         FileClass.HELM_VALUES, FileClass.TOOL_CONFIG, FileClass.LOCK_FILE,
                         FileClass.KUSTOMIZATION})


@dataclass(frozen=True, slots=True)
class Classification:
    """One file's class and why."""

    path: str
    role: FileClass
    reason: str

    @property
    def checks(self) -> frozenset[str] | None:
        """The checks this file gets (None: every check)."""
        return CHECKS[self.role]

    def allows(self, check: str) -> bool:
        allowed = CHECKS[self.role]
        return allowed is None or check in allowed


# -- names ------------------------------------------------------------------------------------

_LOCK_NAMES = frozenset({
    "package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock", "bun.lock",
    "jsonnetfile.lock.json", "chart.lock", "requirements.lock", "composer.lock", "pipfile.lock",
    "poetry.lock", "gemfile.lock", "cargo.lock", "go.sum", "flake.lock", "deno.lock",
    "packages.lock.json", "renv.lock", "mix.lock", "pubspec.lock", "podfile.lock", "gradle.lockfile",
    "conda-lock.yml", "conda-lock.yaml", "uv.lock",
})
_LOCK_SUFFIX = re.compile(r"(?:\.lock|[.-]lock\.(?:json|ya?ml)|\.lockfile)\Z", re.IGNORECASE)
_PACKAGE_NAMES = {
    "package.json": "npm package manifest", "jsonnetfile.json": "jsonnet-bundler dependencies",
    "composer.json": "Composer package manifest", "bower.json": "Bower package manifest",
    "deno.json": "Deno configuration", "tsconfig.json": "TypeScript configuration",
    "jsconfig.json": "JavaScript project configuration", "lerna.json": "Lerna configuration",
    "nx.json": "Nx configuration", "turbo.json": "Turborepo configuration",
    "app.json": "application manifest (Expo/Heroku)", "vercel.json": "Vercel configuration",
    "firebase.json": "Firebase configuration", "angular.json": "Angular workspace configuration",
}
# Tool configuration files by exact (lower-cased) name.
_TOOL_NAMES = {
    ".pre-commit-config.yaml": "pre-commit configuration", ".pre-commit-hooks.yaml": "pre-commit hook definitions",
    ".gitlab-ci.yml": "GitLab CI pipeline", ".travis.yml": "Travis CI configuration",
    "azure-pipelines.yml": "Azure Pipelines configuration", "azure-pipelines.yaml": "Azure Pipelines configuration",
    "bitbucket-pipelines.yml": "Bitbucket Pipelines configuration", ".drone.yml": "Drone CI pipeline",
    "cloudbuild.yaml": "Google Cloud Build configuration", "cloudbuild.yml": "Google Cloud Build configuration",
    "appveyor.yml": "AppVeyor configuration", ".woodpecker.yml": "Woodpecker CI pipeline",
    "codefresh.yml": "Codefresh pipeline", ".mergify.yml": "Mergify configuration",
    "renovate.json": "Renovate configuration", "renovate.json5": "Renovate configuration",
    ".renovaterc": "Renovate configuration", ".renovaterc.json": "Renovate configuration",
    ".fluxschema.yml": "flux schema-validation configuration",
    ".fluxschema.yaml": "flux schema-validation configuration",
    ".yamllint": "yamllint configuration", ".yamllint.yaml": "yamllint configuration",
    ".yamllint.yml": "yamllint configuration", ".golangci.yml": "golangci-lint configuration",
    ".golangci.yaml": "golangci-lint configuration", ".goreleaser.yml": "GoReleaser configuration",
    ".goreleaser.yaml": "GoReleaser configuration", "codecov.yml": "Codecov configuration",
    ".codecov.yml": "Codecov configuration", "mkdocs.yml": "MkDocs site configuration",
    "mkdocs.yaml": "MkDocs site configuration", "taskfile.yml": "Task runner configuration",
    "taskfile.yaml": "Task runner configuration", ".sops.yaml": "SOPS creation rules",
    ".sops.yml": "SOPS creation rules", ".gatekeeper.yaml": "gitops-gatekeeper configuration",
    ".gatekeeper.yml": "gitops-gatekeeper configuration",
    ".gatekeeper-baseline.json": "gitops-gatekeeper secrets baseline",
    "ct.yaml": "chart-testing configuration", "chart-testing.yaml": "chart-testing configuration",
    "lintconf.yaml": "chart-testing yamllint configuration", ".kube-linter.yaml": "kube-linter configuration",
    ".kube-linter.yml": "kube-linter configuration", ".checkov.yaml": "Checkov configuration",
    ".checkov.yml": "Checkov configuration", "trivy.yaml": "Trivy configuration",
    ".trivy.yaml": "Trivy configuration", ".markdownlint.yaml": "markdownlint configuration",
    ".markdownlint.yml": "markdownlint configuration", ".markdownlint.json": "markdownlint configuration",
    ".markdownlint-cli2.yaml": "markdownlint configuration", ".prettierrc": "Prettier configuration",
    ".prettierrc.json": "Prettier configuration", ".prettierrc.yaml": "Prettier configuration",
    ".prettierrc.yml": "Prettier configuration", ".eslintrc.json": "ESLint configuration",
    ".eslintrc.yaml": "ESLint configuration", ".eslintrc.yml": "ESLint configuration",
    ".releaserc": "semantic-release configuration", ".releaserc.json": "semantic-release configuration",
    ".releaserc.yaml": "semantic-release configuration", ".releaserc.yml": "semantic-release configuration",
    ".commitlintrc.json": "commitlint configuration", ".commitlintrc.yaml": "commitlint configuration",
    "lefthook.yml": "Lefthook configuration", "lefthook.yaml": "Lefthook configuration",
    ".hadolint.yaml": "hadolint configuration", ".hadolint.yml": "hadolint configuration",
    "docker-compose.yml": "Docker Compose file", "docker-compose.yaml": "Docker Compose file",
    "compose.yml": "Docker Compose file", "compose.yaml": "Docker Compose file",
    "helmfile.yaml": "helmfile configuration", "helmfile.yml": "helmfile configuration",
    "devfile.yaml": "devfile", ".spectral.yaml": "Spectral configuration",
    "skaffold.yaml": "Skaffold configuration", "skaffold.yml": "Skaffold configuration",
    "tilt_config.json": "Tilt configuration", ".coderabbit.yaml": "CodeRabbit configuration",
    "dependabot.yml": "Dependabot configuration", "dependabot.yaml": "Dependabot configuration",
    "kind-config.yaml": "kind cluster configuration",
}
_DOCKER_COMPOSE = re.compile(r"\A(?:docker-)?compose[.-][\w.-]*\.ya?ml\Z", re.IGNORECASE)
# Directories whose every file configures a tool (relative path prefixes, lower-cased).
_TOOL_DIRS = {
    ".github/": "GitHub configuration (workflows, actions, templates)", ".gitlab/": "GitLab configuration",
    ".circleci/": "CircleCI configuration", ".buildkite/": "Buildkite pipeline",
    ".devcontainer/": "dev container configuration", ".vscode/": "editor configuration",
    ".idea/": "editor configuration", ".husky/": "git hook configuration",
    ".azure-pipelines/": "Azure Pipelines configuration", ".tekton/": "Tekton pipelines-as-code",
}
# kubeadm patch files: ``target[suffix][+patchtype].extension`` (kubeadm --patches / patches.directory).
_KUBEADM_PATCH = re.compile(
    r"\A(?:etcd|kube-apiserver|kube-controller-manager|kube-scheduler|kubeletconfiguration|corednsdeployment)"
    r"[^+/]*(?P<type>\+(?:strategic|merge|json))?\.(?:ya?ml|json)\Z")
_CHART_FILES = {"chart.yaml": "Helm chart metadata (Chart.yaml)", "chart.yml": "Helm chart metadata",
                "values.schema.json": "Helm values schema", "requirements.yaml": "Helm v2 chart dependencies"}
_VALUES_NAME = re.compile(r"\A(?:values(?:[._-][\w.-]*)?|[\w.-]*[._-]values)\.ya?ml\Z", re.IGNORECASE)

# -- content ----------------------------------------------------------------------------------

# apiVersion groups of files that configure a local tool: never applied to a cluster.
TOOL_GROUPS = {
    "kind.x-k8s.io": "kind cluster configuration", "kubeadm.k8s.io": "kubeadm configuration",
    "k3d.io": "k3d cluster configuration", "ctlptl.dev": "ctlptl cluster configuration",
    "kubelet.config.k8s.io": "kubelet configuration", "kubeproxy.config.k8s.io": "kube-proxy configuration",
    "kubescheduler.config.k8s.io": "kube-scheduler configuration",
    "apiserver.config.k8s.io": "API server configuration (encryption, admission)",
    "apiserver.k8s.io": "API server configuration", "audit.k8s.io": "API server audit policy",
    "pod-security.admission.config.k8s.io": "Pod Security admission configuration",
    "eventratelimit.admission.k8s.io": "EventRateLimit admission configuration",
    "clusterctl.cluster.x-k8s.io": "clusterctl configuration", "cli.kyverno.io": "Kyverno CLI test or values",
    "test.gatekeeper.sh": "gator test suite", "kpt.dev": "kpt package configuration",
    "fn.kpt.dev": "kpt function configuration", "config.kubernetes.io": "KRM function configuration",
    "skaffold": "Skaffold configuration", "skaffold.dev": "Skaffold configuration",
    "kubectl.config.k8s.io": "kubectl preferences (kuberc)",
}


def tool_of(api_version: str, kind: str) -> str | None:
    """What local tool an object configures (None: a cluster object, or not known to be local)."""
    group = api_version.rpartition("/")[0] if "/" in api_version else api_version
    if group in TOOL_GROUPS:
        return TOOL_GROUPS[group]
    if api_version == "v1" and kind == "Config":
        return "kubeconfig"
    return None


def _typed(obj: Any) -> tuple[str, str] | None:
    if isinstance(obj, dict) and isinstance(obj.get("apiVersion"), str) and isinstance(obj.get("kind"), str):
        return obj["apiVersion"], obj["kind"]
    return None


# -- kustomize --------------------------------------------------------------------------------

_KUSTOMIZE_CONFIG_FIELDS = {
    "transformers": "a transformer config", "generators": "a generator config", "validators": "a validator config",
    "configurations": "a transformer configuration (fieldSpecs)", "crds": "a CRD schema for kustomize",
}


def kustomize_roles(documents: Sequence[Document], files: frozenset[str] = frozenset(),
                    applied: dict[str, str] | None = None) -> dict[str, tuple[FileClass, str]]:
    """The class of every file a kustomization in the tree names, and of kustomizations themselves.

    Kustomizations and patches come from ``sources.kustomize``; the files named by
    ``transformers``/``generators``/``validators``/``configurations``/``crds``/``replacements``/
    ``openapi`` and Helm ``valuesFile`` are read here from each kustomization's fields. A patch that
    still reaches the cluster as a plain manifest (``applied``: see ``sources.routes``) has no patch
    role; the files a kustomization names as resources are ``resource`` entries (manifests).
    """
    roles: dict[str, tuple[FileClass, str]] = {}
    # only the file names kustomize reads are kustomizations: a kind: Kustomization document under
    # another name is inert and names nothing (else it could hide a file's objects as "patches")
    kustomizations = [d for d in documents if kustomize.is_kustomization_file(d.path)]
    for doc in kustomizations:
        what = "kustomize component" if isinstance(doc.obj, dict) and doc.obj.get("kind") == "Component" \
            else "kustomization"
        roles[doc.path] = (FileClass.KUSTOMIZATION, what)
    known = files | {d.path for d in documents}
    applied = routes.applied_patches(documents, lambda p: "file" if p in known else None) if applied is None \
        else applied
    for path, named in kustomize.reference_roles(documents, lambda p: "file" if p in known else None).items():
        if path in applied:
            roles.setdefault(path, (FileClass.MANIFEST, f"named as a patch by a kustomization, but {applied[path]}"))
        elif named & {kustomize.PATCH, kustomize.PATCH_JSON6902}:
            roles.setdefault(path, (FileClass.KUSTOMIZE_PATCH, "named as a patch by a kustomization"))
        elif named & (kustomize.NOT_OBJECTS - {kustomize.GENERATOR_INPUT}):
            what = sorted(named & kustomize.NOT_OBJECTS)[0]
            roles.setdefault(path, (FileClass.KUSTOMIZE_CONFIG, f"named as a {what} config by a kustomization"))
    for doc in kustomizations:
        if not isinstance(doc.obj, dict):
            continue  # a kustomization of the wrong shape is a finding of its own (kustomize-invalid)
        base = posixpath.dirname(doc.path)
        for path, cls, why in _named_files(doc.obj):
            target = posixpath.normpath(posixpath.join(base, path))
            roles.setdefault(target, (cls, f"{why} named by {doc.path}"))
    return roles


def named_by_kustomizations(documents: Sequence[Document]) -> set[str]:
    """Every root-relative path a kustomization in the tree names as a file it reads (resources,
    patches, components, configs): kustomize reads these whatever their extension's case."""
    return set(kustomize_roles(documents)) | set(kustomize.reference_roles(documents))


def _named_files(obj: dict[str, Any]) -> Iterable[tuple[str, FileClass, str]]:
    """(path, class, what) for each local file a kustomization's config fields name."""
    for key, what in _KUSTOMIZE_CONFIG_FIELDS.items():
        for entry in _list(obj.get(key)):
            if isinstance(entry, str) and "\n" not in entry and ":" not in entry.split("/")[0]:
                yield entry, FileClass.KUSTOMIZE_CONFIG, what
    for entry in _list(obj.get("replacements")):
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            yield entry["path"], FileClass.KUSTOMIZE_CONFIG, "a replacements file"
    openapi = obj.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        yield openapi["path"], FileClass.KUSTOMIZE_CONFIG, "an OpenAPI schema for kustomize"
    for chart in _list(obj.get("helmCharts")):
        if isinstance(chart, dict):
            for key in ("valuesFile",):
                if isinstance(chart.get(key), str):
                    yield chart[key], FileClass.HELM_VALUES, "the values of a helmCharts entry"
            for extra in _list(chart.get("additionalValuesFiles")):
                if isinstance(extra, str):
                    yield extra, FileClass.HELM_VALUES, "additional values of a helmCharts entry"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# -- the classifier ---------------------------------------------------------------------------


def classify(documents: Sequence[Document], paths: Iterable[str] = (),
             applied: dict[str, str] | None = None) -> dict[str, Classification]:
    """Classify every file that has documents (and every extra path, e.g. files that did not parse).
    ``applied``: the patch files that still reach the cluster as plain manifests (computed when None)."""
    by_path: dict[str, list[Document]] = {}
    for doc in documents:
        by_path.setdefault(doc.path, []).append(doc)
    for path in paths:
        by_path.setdefault(path, [])
    roles = kustomize_roles(documents, frozenset(by_path), applied)
    chart_dirs = {posixpath.dirname(p) for p in by_path if posixpath.basename(p) == "Chart.yaml"}
    kubeadm_patch_dirs = _kubeadm_patch_dirs(documents)
    kustomized = {posixpath.dirname(p) for p in by_path if kustomize.is_kustomization_file(p)}
    deployed = _Deployed(routes.direct_sources(documents, kustomized, chart_dirs), kustomized,
                         {p for p, r in kustomize.reference_roles(documents).items() if kustomize.RESOURCE in r})
    return {path: Classification(path, *_classify(path, docs, roles, chart_dirs, kubeadm_patch_dirs, deployed))
            for path, docs in by_path.items()}


@dataclass(frozen=True, slots=True)
class _Deployed:
    """Where files reach the cluster as written: directories GitOps tools apply file by file, and the
    files kustomizations name as resources."""

    sources: list[routes.DirectSource]
    kustomized: set[str]
    resources: set[str]

    def why(self, path: str) -> str | None:
        if path in self.resources:
            return "named as a resource by a kustomization"
        source = next((s for s in self.sources if s.covers(path, self.kustomized)), None)
        return f"applied as a plain manifest by {source.how}" if source is not None else None


def _classify(path: str, docs: list[Document], roles: dict[str, tuple[FileClass, str]],
              chart_dirs: set[str], kubeadm_patch_dirs: set[str], deployed: _Deployed) -> tuple[FileClass, str]:
    named = by_name(path, kubeadm_patch_dirs)
    if named is not None:
        # a name says what a file is only when the file does not hold Kubernetes objects, or when the
        # name settles it (a root CI directory, a kubeadm patches directory) and nothing deploys it
        objects = _holds_cluster_objects(docs)
        if not objects or (named.decisive and deployed.why(path) is None):
            return named.role, named.reason
        return FileClass.MANIFEST, (f"holds Kubernetes objects although named like a {named.reason}"
                                    f"{'; ' + why if (why := deployed.why(path)) else ''}")
    if path in roles:
        return roles[path]
    typed = [t for t in (_typed(d.obj) for d in docs) if t is not None]
    tools = {tool_of(*t) for t in typed}
    if typed and None not in tools:
        return FileClass.TOOL_CONFIG, f"{', '.join(sorted(t for t in tools if t))} (apiVersion {typed[0][0]})"
    if any(t[0] == "builtin" or t[0].startswith("builtin/") for t in typed) and all(
            t[0] == "builtin" or is_local_config(*t) for t in typed):
        return FileClass.KUSTOMIZE_CONFIG, "kustomize builtin plugin configuration (apiVersion builtin)"
    if any(d.resources for d in docs):
        return FileClass.MANIFEST, "holds Kubernetes objects (apiVersion and kind)"
    base = posixpath.basename(path)
    directory = posixpath.dirname(path)
    if _VALUES_NAME.match(base):
        return FileClass.HELM_VALUES, "named like a Helm values file"
    if directory in chart_dirs or any(directory.startswith(c + "/") for c in chart_dirs if c):
        return FileClass.HELM_VALUES, f"a file of the Helm chart in {directory or '.'}"
    if len(docs) == 1 and _json_schema(docs[0].obj):
        return FileClass.TOOL_CONFIG, "a JSON schema"
    if typed:
        return FileClass.MANIFEST, "has apiVersion and kind"
    if not docs or all(d.obj is None for d in docs):
        return FileClass.DATA, "empty or did not parse"
    return FileClass.DATA, "YAML/JSON data without apiVersion and kind"


class Named(NamedTuple):
    """What a file name says: the class, why, and whether the name decides it. Any name yields to
    content when the file holds Kubernetes objects (a Pod saved as ``package-lock.json`` is a Pod),
    except where the name is settled by more than itself: a CI directory at the repository root and
    a kubeadm patch in a patches directory (one a kubeadm configuration names, or named ``*patch*``),
    and even those not when a GitOps tool applies the file as written."""

    role: FileClass
    reason: str
    decisive: bool


def by_name(path: str, kubeadm_patch_dirs: Iterable[str] = ()) -> Named | None:
    """The class a file's name says (lock files, CI and tool configs, Helm chart files)."""
    base = posixpath.basename(path)
    low = base.lower()
    if low in _LOCK_NAMES or _LOCK_SUFFIX.search(low):
        return Named(FileClass.LOCK_FILE, f"dependency lock file ({base})", False)
    lowered = path.lower()
    if "." in lowered.rpartition("/")[0]:  # every tool directory's name starts with a dot (tests/test_classify.py)
        for prefix, what in _TOOL_DIRS.items():
            if lowered.startswith(prefix) or f"/{prefix}" in lowered:
                return Named(FileClass.TOOL_CONFIG, what, lowered.startswith(prefix))
    if low in _PACKAGE_NAMES:
        return Named(FileClass.TOOL_CONFIG, _PACKAGE_NAMES[low], False)
    if low in _TOOL_NAMES:
        return Named(FileClass.TOOL_CONFIG, _TOOL_NAMES[low], False)
    if _DOCKER_COMPOSE.match(low):
        return Named(FileClass.TOOL_CONFIG, "Docker Compose file", False)
    if low in _CHART_FILES:
        return Named(FileClass.HELM_CHART, _CHART_FILES[low], False)
    patch = _KUBEADM_PATCH.match(low)
    if patch is not None:
        directory = posixpath.dirname(path)
        if directory in kubeadm_patch_dirs or "patch" in posixpath.basename(directory).lower():
            return Named(FileClass.TOOL_CONFIG, "kubeadm patch (target[+patchtype] file name in a patches "
                                                "directory)", True)
        if patch.group("type"):
            return Named(FileClass.TOOL_CONFIG, "kubeadm patch (target[+patchtype] file name)", False)
    return None


def _holds_cluster_objects(docs: list[Document]) -> bool:
    """Whether a file holds Kubernetes objects that no local tool reads (a name said otherwise)."""
    return any(d.resources and all(tool_of(r.api_version, r.kind) is None for r in d.resources) for d in docs)


def _kubeadm_patch_dirs(documents: Sequence[Document]) -> set[str]:
    """Directories that a kubeadm configuration in the tree names as ``patches.directory``."""
    out: set[str] = set()
    for doc in documents:
        typed = _typed(doc.obj)
        if typed is None or not typed[0].startswith("kubeadm.k8s.io/"):
            continue
        patches = doc.obj.get("patches")
        directory = patches.get("directory") if isinstance(patches, dict) else None
        if isinstance(directory, str) and not directory.startswith("/"):
            out.add(posixpath.normpath(posixpath.join(posixpath.dirname(doc.path), directory)))
    return out


def _json_schema(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("$schema"), str) and "json-schema" in obj["$schema"]


def soften_parse_error(finding: Finding, cls: Classification | None) -> Finding:
    """A tool configuration or lock file that does not parse (a GitLab ``!reference`` tag, a
    templated CI file) is not a broken manifest: a warning that says its secrets went unchecked."""
    if cls is None or finding.rule != "parse-error" or cls.role not in (FileClass.TOOL_CONFIG, FileClass.LOCK_FILE):
        return finding
    return replace(finding, severity=Severity.WARNING,
                   message=f"{finding.message} ({cls.reason}: not a manifest, but its secrets were not checked)")
