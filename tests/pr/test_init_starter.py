"""``gatekeeper init`` on a real-looking repository: every rule id its templates name exists, the
starter policies take the registries and labels the repository already uses (and say so), and the
starter conftest rules do not repeat what the lint catalogue reports."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import yaml

from gatekeeper import config
from gatekeeper.checks import catalogue
from gatekeeper.checks.lint.registry import RULES as LINT_RULES
from gatekeeper.cli.init import CONFIG_TEXT
from gatekeeper.cli.starter import registry_prefix
from gatekeeper.rego.library import library_path
from tests.conftest import run_cli, run_json

RULE_REFERENCE = re.compile(r"^#?\s*-\s*rule:\s*(?P<rule>[\w./-]+)|^#?\s{1,3}(?P<key>[a-z][\w-]+):\s*\{",
                            re.MULTILINE)


def test_every_rule_id_in_the_config_template_exists(tmp_path: Path) -> None:
    ids = {m.group("rule") or m.group("key") for m in RULE_REFERENCE.finditer(CONFIG_TEXT)}
    ids -= {"policy", "checks"}
    assert ids and ids <= {r.id for r in catalogue().rules}, ids
    # uncommented, the examples are a valid configuration (an unknown rule id would be exit 2)
    uncommented = re.sub(r"^# ((?:rules|waivers):|\s+)", r"\1", CONFIG_TEXT, flags=re.MULTILINE)
    path = tmp_path / ".gatekeeper.yaml"
    path.write_text(uncommented, encoding="utf-8")
    cfg = config.load(path, catalogue())
    assert set(cfg.rules) == {"image-latest", "cpu-limit"} and cfg.waivers[0]["rule"] == "run-as-root"


def test_registry_prefixes() -> None:
    assert registry_prefix("ghcr.io/acme/shop/web:1.2.3") == ["ghcr.io/acme/"]
    assert registry_prefix("registry.example.com:5000/web@sha256:" + "a" * 64) == ["registry.example.com:5000/"]
    assert registry_prefix("bitnami/redis:7.2") == ["bitnami/"]
    assert registry_prefix("nginx:1.27") == ["nginx:", "nginx@"]


WORKLOAD = """
apiVersion: apps/v1
kind: {kind}
metadata:
  name: {name}
  namespace: shop
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/part-of: shop
    {extra}
spec:
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: {name}
          image: {image}
          resources: {{limits: {{cpu: 500m, memory: 256Mi}}}}
"""


def _repo(root: Path) -> None:
    files = {
        "apps/web.yaml": WORKLOAD.format(kind="Deployment", name="web", image="ghcr.io/acme/web:1.4.0",
                                         extra="tier: frontend"),
        "apps/cache.yaml": WORKLOAD.format(kind="StatefulSet", name="cache", image="bitnami/redis:7.2", extra=""),
        "apps/proxy.yaml": WORKLOAD.format(kind="DaemonSet", name="proxy", image="nginx:1.27", extra=""),
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def test_init_writes_the_registries_and_labels_the_repository_uses(tmp_path: Path) -> None:
    _repo(tmp_path)
    code, out = run_cli("init", str(tmp_path))
    assert code == 0, out
    assert ("policies/gatekeeper/allowed-repos/constraint.yaml: allowed registries set to the 4 this repository "
            "uses (bitnami/, ghcr.io/acme/, nginx:, nginx@)") in out
    assert ("policies/gatekeeper/required-labels/constraint.yaml: required labels set to the 2 every workload "
            "carries (app.kubernetes.io/name, app.kubernetes.io/part-of)") in out
    repos = yaml.safe_load((tmp_path / "policies/gatekeeper/allowed-repos/constraint.yaml").read_text())
    assert repos["spec"]["parameters"] == {"repos": ["bitnami/", "ghcr.io/acme/", "nginx:", "nginx@"]}
    assert repos["kind"] == "K8sAllowedRepos" and repos["spec"]["match"]["excludedNamespaces"] == ["kube-*"]
    # the first run passes the starter policies, and a new registry is caught
    code, report = run_json(str(tmp_path), "--checks", "policy")
    assert report["findings"] == [] and report["errors"] == [] and code == 0, report
    (tmp_path / "apps/new.yaml").write_text(textwrap.dedent(WORKLOAD.format(
        kind="Deployment", name="new", image="quay.io/other/new:1.0", extra="")).lstrip(), encoding="utf-8")
    code, report = run_json(str(tmp_path), "--checks", "policy")
    assert [(f["path"], f["line"], f["rule"]) for f in report["findings"]] == [
        ("apps/new.yaml", 19, "policy/K8sAllowedRepos/allowed-registries")] and code == 1
    # the library's own suites still pass (they test the template with their sample constraint)
    code, out = run_cli("verify", str(tmp_path / "policies"))
    assert code == 0, out


def test_init_on_an_empty_repository_keeps_the_examples_and_says_so(tmp_path: Path) -> None:
    code, out = run_cli("init", str(tmp_path))
    assert code == 0
    assert "no container image found, the example registries were kept" in out
    assert "no Deployment, StatefulSet or DaemonSet found, the example labels were kept" in out
    library = yaml.safe_load((library_path() / "gatekeeper/allowed-repos/constraint.yaml").read_text())
    copied = yaml.safe_load((tmp_path / "policies/gatekeeper/allowed-repos/constraint.yaml").read_text())
    assert copied == library


def test_starter_conftest_rules_do_not_repeat_lint_rules(tmp_path: Path) -> None:
    """On every lint rule's bad example, the starter conftest module reports nothing: what lint
    catches is not caught twice."""
    policy = library_path() / "conftest"
    for i, lint_rule in enumerate(LINT_RULES.values()):
        target = tmp_path / f"{i:02d}-{lint_rule.meta.id}.yaml"
        target.write_text(lint_rule.meta.bad_example, encoding="utf-8")
    _, report = run_json(str(tmp_path), "--checks", "policy", "--policy", str(policy))
    assert report["errors"] == [] and report["findings"] == []
    assert report["summary"]["files"] == len(LINT_RULES) and "policy" in report["summary"]["checks"]
