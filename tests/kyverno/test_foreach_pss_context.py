"""foreach, podSecurity and context through the CLI, failures located at the element's field."""

from __future__ import annotations

from pathlib import Path

from tests.kyverno.helpers import check, rows, rule_policy

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: shop
spec:
  initContainers:
    - name: init
      image: ghcr.io/acme/init:1.0
  containers:
    - name: app
      image: ghcr.io/acme/app:1.0
      ports:
        - name: http
          containerPort: 8080
    - name: sidecar
      image: {image}
      ports:
        - name: {port}
          containerPort: 9090
"""


def test_foreach_nested_preconditions_element_index(tmp_path: Path) -> None:
    rules = """
- name: registries
  match: {any: [{resources: {kinds: [Pod]}}]}
  validate:
    message: "container {{ elementIndex }} ({{ element.name }}) uses {{ element.image }}"
    foreach:
      - list: request.object.spec.initContainers
        pattern:
          image: "ghcr.io/acme/*"
      - list: request.object.spec.containers
        preconditions:
          all:
            - key: "{{ element.name }}"
              operator: NotEquals
              value: app
        pattern:
          image: "ghcr.io/acme/*"
- name: port-names
  match: {any: [{resources: {kinds: [Pod]}}]}
  validate:
    message: "port {{ element0.name }}/{{ element1.name }} is not a lowercase name"
    foreach:
      - list: request.object.spec.containers
        foreach:
          - list: element.ports
            deny:
              conditions:
                any:
                  - key: "{{ regex_match('^[a-z-]+$', element.name) }}"
                    operator: Equals
                    value: false
- name: empty
  match: {any: [{resources: {kinds: [Pod]}}]}
  validate:
    message: nothing to loop over
    foreach:
      - list: request.object.spec.ephemeralContainers
        deny: {}
"""
    docs = {"good": POD.format(name="good", image="ghcr.io/acme/proxy:2", port="metrics"),
            "bad": POD.format(name="bad", image="docker.io/envoy:1", port="METRICS")}
    code, report = check(tmp_path, rule_policy(rules), docs)
    assert code == 1
    assert rows(report) == [
        ("bad", 17, "kyverno/pol/registries", "spec.containers[1].image"),
        ("bad", 19, "kyverno/pol/port-names", "spec.containers[1].ports[0]"),
    ]
    messages = sorted(f["message"] for f in report["findings"])
    assert messages[0] == "port sidecar/METRICS is not a lowercase name"
    assert messages[1].startswith("validation error: container 1 (sidecar) uses docker.io/envoy:1. rule registries "
                                  "failed at path /spec/containers/1/image/")


def test_pod_security_levels_versions_and_exclusions(tmp_path: Path) -> None:
    rules = """
- name: baseline
  match: {any: [{resources: {kinds: [Pod]}}]}
  validate:
    podSecurity: {level: baseline, version: latest}
- name: restricted
  match: {any: [{resources: {kinds: [Pod]}}]}
  validate:
    podSecurity:
      level: restricted
      version: v1.24
      exclude:
        - controlName: Running as Non-root
        - controlName: Running as Non-root
          images: ["*"]
        - controlName: Seccomp
        - controlName: Seccomp
          images: ["*"]
"""
    good = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: good
spec:
  selector: {matchLabels: {app: good}}
  template:
    metadata:
      labels: {app: good}
    spec:
      containers:
        - name: app
          image: nginx:1.27
          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop: [ALL]
"""
    bad = good.replace("name: good", "name: bad").replace("drop: [ALL]", "drop: [ALL]\n              add: [SYS_ADMIN]")
    bad = bad.replace("    spec:\n      containers:", "    spec:\n      hostPID: true\n      containers:")
    _code, report = check(tmp_path, rule_policy(rules), {"good": good, "bad": bad})
    assert rows(report) == [
        ("bad", 11, "kyverno/pol/autogen-baseline", "spec.template.spec.hostPID"),
        ("bad", 11, "kyverno/pol/autogen-restricted", "spec.template.spec.hostPID"),
    ]
    restricted = next(f for f in report["findings"] if f["rule"].endswith("autogen-restricted"))
    assert restricted["message"].startswith("Validation rule 'autogen-restricted' failed. It violates PodSecurity "
                                            "\"restricted:v1.24\": ({Allowed:false ForbiddenReason:host namespaces")
    assert "must not include 'SYS_ADMIN' in securityContext.capabilities.add" in restricted["message"]


def test_context_variables_configmaps_and_unavailable_sources(tmp_path: Path) -> None:
    rules = """
- name: from-configmap
  match: {any: [{resources: {kinds: [Pod]}}]}
  context:
    - name: settings
      configMap: {name: registries, namespace: platform}
    - name: first
      variable:
        jmesPath: request.object.spec.containers[0].image
    - name: allowed
      variable:
        value: "{{ settings.data.allowed }}"
        jmesPath: "split(@, ',')"
  validate:
    message: "{{ first }} is not in {{ settings.data.allowed }}"
    deny:
      conditions:
        all:
          - key: "{{ images.containers.app.registry }}"
            operator: AnyNotIn
            value: "{{ allowed }}"
- name: from-api
  match: {any: [{resources: {kinds: [Pod]}}]}
  context:
    - name: quota
      apiCall:
        urlPath: "/api/v1/namespaces/{{ request.namespace }}/resourcequotas"
        jmesPath: "items | length(@)"
  validate:
    message: "namespace has no quota"
    deny:
      conditions:
        any:
          - key: "{{ quota }}"
            operator: Equals
            value: 0
"""
    cm = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: registries\n  namespace: platform\n"
          "data:\n  allowed: ghcr.io,registry.acme.io\n")
    docs = {"cm": cm, "good": POD.format(name="good", image="ghcr.io/acme/x:1", port="m"),
            "bad": POD.format(name="bad", image="x", port="m").replace("ghcr.io/acme/app:1.0", "quay.io/app:1")}
    code, report = check(tmp_path, rule_policy(rules), docs)
    assert code == 1
    got = sorted((Path(f["path"]).stem, f["rule"], f["severity"]) for f in report["findings"])
    assert got == [("bad", "kyverno-context-unavailable", "warning"), ("bad", "kyverno/pol/from-configmap", "error"),
                   ("good", "kyverno-context-unavailable", "warning")]
    assert any(f["message"] == "quay.io/app:1 is not in ghcr.io,registry.acme.io" for f in report["findings"])
    values = tmp_path / "values.yaml"
    values.write_text("apiVersion: cli.kyverno.io/v1alpha1\nkind: Values\nmetadata: {name: v}\npolicies:\n"
                      "  - name: pol\n    resources:\n      - name: good\n        values: {quota: 1}\n"
                      "      - name: bad\n        values: {quota: 0}\n", encoding="utf-8")
    _code, report = check(tmp_path, rule_policy(rules), docs, "--kyverno-values", str(values))
    assert sorted((Path(f["path"]).stem, f["rule"]) for f in report["findings"]) == [
        ("bad", "kyverno/pol/from-api"), ("bad", "kyverno/pol/from-configmap")]
