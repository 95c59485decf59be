"""match/exclude and auto-generated Pod-controller rules through the CLI."""

from __future__ import annotations

from pathlib import Path

from tests.kyverno.helpers import check, rows, rule_policy

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
  labels: {{app: {name}}}
  annotations: {{owner: {owner}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: app
          image: nginx:1.27
"""
NS = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels: {{env: {env}}}\n"
DENY = "validate:\n    message: matched\n    deny: {}"


def deploy(name: str, ns: str = "shop", owner: str = "shop") -> str:
    return DEPLOY.format(name=name, ns=ns, owner=owner)


def test_kind_forms_names_namespaces_selectors_operations(tmp_path: Path) -> None:
    rules = {
        "plain": "kinds: [Deployment]",
        "gvk": "kinds: [apps/v1/Deployment]",
        "wild-version": "kinds: ['apps/*/Deployment']",
        "wild-kind": "kinds: ['Deploy*']",
        "wrong-group": "kinds: [batch/v1/Deployment]",
        "names": "kinds: [Deployment]\n          names: ['web-*']",
        "namespaces": "kinds: [Deployment]\n          namespaces: [pay]",
        "selector": "kinds: [Deployment]\n          selector: {matchLabels: {app: 'web-?'}}",
        "ns-selector": "kinds: [Deployment]\n          namespaceSelector:\n"
                       "            {matchExpressions: [{key: env, operator: In, values: [prod]}]}",
        "annotations": "kinds: [Deployment]\n          annotations: {owner: 'pa*'}",
        "delete-only": "kinds: [Deployment]\n          operations: [DELETE]",
    }
    text = "".join(f"""
- name: {name}
  match:
    any:
      - resources:
          {spec}
  {DENY}
""" for name, spec in rules.items())
    text += f"""
- name: all-of
  match:
    all:
      - resources: {{kinds: [Deployment]}}
      - resources: {{namespaces: [shop]}}
  exclude:
    any:
      - resources: {{names: [other]}}
  {DENY}
"""
    resources = {"web-1": deploy("web-1"), "other": deploy("other", ns="pay", owner="pay"),
                 "ns": NS.format(name="pay", env="prod") + "---\n" + NS.format(name="shop", env="dev")}
    _code, report = check(tmp_path, rule_policy(text), resources)
    matched = {(Path(f["path"]).stem, f["rule"].rsplit("/", 1)[1]) for f in report["findings"]}
    common = {"plain", "gvk", "wild-version", "wild-kind"}
    assert matched == ({("web-1", r) for r in common | {"names", "selector", "all-of"}}
                       | {("other", r) for r in common | {"namespaces", "ns-selector", "annotations"}})


def test_autogen_rules_and_the_controllers_annotation(tmp_path: Path) -> None:
    rules = """
- name: no-latest
  match: {any: [{resources: {kinds: [Pod]}}]}
  preconditions:
    all:
      - key: "{{ request.object.spec.containers[0].name }}"
        operator: Equals
        value: app
  validate:
    message: "image {{ request.object.spec.containers[0].image }} uses latest"
    pattern:
      spec:
        containers:
          - image: "!*:latest"
"""
    cron = """
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 1 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: app
              image: busybox:latest
"""
    latest = deploy("web", "shop").replace("nginx:1.27", "nginx:latest")
    code, report = check(tmp_path, rule_policy(rules), {"deploy": latest, "cron": cron})
    assert rows(report) == [
        ("cron", 14, "kyverno/pol/autogen-cronjob-no-latest",
         "spec.jobTemplate.spec.template.spec.containers[0].image"),
        ("deploy", 16, "kyverno/pol/autogen-no-latest", "spec.template.spec.containers[0].image"),
    ]
    assert next(f for f in report["findings"] if "cron" in f["path"])["message"].startswith(
        "validation error: image busybox:latest uses latest. rule autogen-cronjob-no-latest failed at path "
        "/spec/jobTemplate/spec/template/spec/containers/0/image/")
    only_deploy = rule_policy(rules, annotations="pod-policies.kyverno.io/autogen-controllers: Deployment\n")
    code, report = check(tmp_path, only_deploy, {"deploy": latest, "cron": cron})
    assert [r[2] for r in rows(report)] == ["kyverno/pol/autogen-no-latest"]
    none = rule_policy(rules, annotations="pod-policies.kyverno.io/autogen-controllers: none\n")
    code, report = check(tmp_path, none, {"deploy": latest, "cron": cron})
    assert report["findings"] == [] and code == 0


def test_user_filters_hold_only_for_the_described_user_and_say_so(tmp_path: Path) -> None:
    rules = f"""
- name: admins-only
  match:
    any:
      - resources: {{kinds: [Deployment]}}
        clusterRoles: [cluster-admin]
  {DENY}
- name: not-for-admins
  match:
    any:
      - resources: {{kinds: [Deployment]}}
  exclude:
    any:
      - clusterRoles: [cluster-admin]
  {DENY}
"""
    _code, report = check(tmp_path, rule_policy(rules), {"web": deploy("web")})
    assert [r[2] for r in rows(report)] == ["kyverno/pol/not-for-admins"]
    assert any("evaluated as a CREATE by an unknown user: pol/admins-only, pol/not-for-admins" in n
               for n in report["notes"])
