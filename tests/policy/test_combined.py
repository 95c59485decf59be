"""Every Gatekeeper template in one program (``gkdialect.combine``): the same findings as one program
per template, and no combining where a template could then see another's rules."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from gatekeeper.checks.base import Context
from gatekeeper.checks.policy import PolicyCheck, gkdialect
from gatekeeper.pipeline import Run, load
from gatekeeper.rego.engine import RegorusEngine
from gatekeeper.rego.library import library_path
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.yamlload import parse

Write = Callable[[str, str], Path]

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
  labels: {labels}
spec:
  template:
    spec:
      containers:
        - name: app
          image: {image}
{limits}
"""
LIMITS = "          resources:\n            limits: {cpu: 100m, memory: 64Mi}"
INGRESS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: {name}, namespace: {ns}}}
spec:
  rules:
    - host: {host}
"""
# a second constraint of the starter required-labels template, with other parameters
SECOND = """
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: workloads-have-tier
spec:
  enforcementAction: warn
  match:
    kinds:
      - apiGroups: ["apps"]
        kinds: ["Deployment"]
  parameters:
    labels:
      - key: tier
"""


def _findings(root: Path, policies: Path) -> tuple[PolicyCheck, list[tuple[str, int | None, str, str]]]:
    run = Run(root=root, paths=[root], options={"policy": [str(policies)]})
    loaded = load(run)
    check = PolicyCheck()
    ctx = Context(run.root, loaded.documents, loaded.resources, run.config, "1.31", dict(run.options))
    check.prepare(ctx)
    return check, sorted((f.path, f.line, f.rule, f.message) for f in check.check_all(ctx))


def test_combined_program_gives_the_findings_of_one_program_per_template(
        write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write("repo/a.yaml", DEPLOYMENT.format(name="a", ns="shop", labels="{owner: team-x, tier: web}",
                                           image="docker.io/nginx:1", limits=""))
    write("repo/b.yaml", DEPLOYMENT.format(name="b", ns="default", labels="{app.kubernetes.io/name: b, owner: bob}",
                                           image="registry.k8s.io/pause:3.9", limits=LIMITS))
    write("repo/i.yaml", INGRESS.format(name="i", ns="shop", host="x.example") + "---\n"
          + INGRESS.format(name="j", ns="blog", host="x.example"))
    policies = tmp_path / "pol"
    shutil.copytree(library_path() / "gatekeeper", policies)
    write("pol/second.yaml", SECOND)
    check, combined = _findings(tmp_path / "repo", policies)
    assert check.gatekeeper is not None and check.gatekeeper.combined is not None
    monkeypatch.setattr(gkdialect, "combine", lambda *args: None)
    check, separate = _findings(tmp_path / "repo", policies)
    assert check.gatekeeper is not None and check.gatekeeper.combined is None
    assert combined == separate
    rules = {(path, rule.split("/")[1]) for path, _, rule, _ in combined}
    assert rules >= {("a.yaml", "K8sAllowedRepos"), ("a.yaml", "K8sContainerLimits"), ("a.yaml", "K8sRequiredLabels"),
                     ("b.yaml", "K8sNoDefaultNamespace"), ("b.yaml", "K8sRequiredLabels"),
                     ("i.yaml", "K8sUniqueIngressHost")}
    # both constraints of one template report, each with its own parameters
    assert sorted(r for p, _, r, _ in combined if p == "b.yaml" and "RequiredLabels" in r) == [
        "policy/K8sRequiredLabels/workloads-have-owner", "policy/K8sRequiredLabels/workloads-have-tier"]


TEMPLATE = """
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: {lower}
spec:
  crd:
    spec:
      names:
        kind: {kind}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package {package}
        violation[{{"msg": "no"}}] {{
          {body}
        }}
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: {kind}
metadata:
  name: c
"""


def _policies(*templates: tuple[str, str, str], one_file: bool = False) -> gkdialect.GatekeeperPolicies:
    texts = [TEMPLATE.format(lower=kind.lower(), kind=kind, package=package, body=body)
             for kind, package, body in templates]
    files = [("pol.yaml", "---\n".join(texts))] if one_file else [(f"{i}.yaml", t) for i, t in enumerate(texts)]
    docs = [d for name, text in files for d in parse(SourceFile(name, text.encode())).documents]
    return gkdialect.load(docs, "auto", RegorusEngine(), None)


@pytest.mark.parametrize(("package", "body"), [
    ("k8sother", "data.k8sone.violation"),  # reads another template's rules
    ("k8sother", "data[_]"),  # reads data whole
    ("k8sone.inner", "input.review"),  # a package inside another template's
])
def test_templates_that_could_see_each_other_are_not_combined(package: str, body: str) -> None:
    assert _policies(("K8sOne", "k8sone", "input.review"), ("K8sOther", package, body)).combined is None


def test_independent_templates_are_combined() -> None:
    both = (("K8sOne", "k8sone", "input.review"), ("K8sOther", "k8sother", "input.review"))
    assert _policies(*both).combined is not None
    # two templates in one file have modules of one name: an error could not name its template
    assert _policies(*both, one_file=True).combined is None
