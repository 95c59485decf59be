"""The parse cache of git modes: same reports, exact lines in cached files, no secret in the store."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from tests.conftest import run_cli, run_json
from tests.pr.conftest import SERVICE, WEB_CM, Repo
from tests.secrets.fakes import pem_private_key

STORE = Path(".git") / "gatekeeper" / "context-cache.sqlite3"

PASSWORD = "Sup3r-S3cret-Value-9x"
ENV_PASSWORD = "hunter2-Zq7-literal"
EMBEDDED_PASSWORD = "Kj8mQ2vL9pWx4zRt"
GENERATOR_PASSWORD = "gen-Pa55-literal-77"
KUBE_TOKEN = "kubeconfig-token-abcDEF123456"
SECRETS = (PASSWORD, ENV_PASSWORD, EMBEDDED_PASSWORD, GENERATOR_PASSWORD, KUBE_TOKEN)

SECRET_FILES = {
    "apps/secret.yaml": f"""
        apiVersion: v1
        kind: Secret
        metadata: {{name: db, namespace: shop}}
        stringData:
          password: "{PASSWORD}"
        data:
          token: {base64.b64encode(PASSWORD.encode()).decode()}
        """,
    "apps/deploy.yaml": f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: web, namespace: shop}}
        spec:
          selector: {{matchLabels: {{app: web}}}}
          template:
            metadata: {{labels: {{app: web}}}}
            spec:
              containers:
                - name: web
                  image: registry.example.com/web:1.2.3
                  env:
                    - name: DB_PASSWORD
                      value: "{ENV_PASSWORD}"
        """,
    "apps/cm.yaml": f"""
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: app, namespace: shop}}
        data:
          application.yaml: |
            db:
              password: "{EMBEDDED_PASSWORD}"
        """,
    "apps/kustomization.yaml": f"""
        resources: [secret.yaml, deploy.yaml, cm.yaml]
        secretGenerator:
          - name: gen
            literals: ["DB_PASSWORD={GENERATOR_PASSWORD}"]
        """,
    "clusters/kubeconfig.yaml": f"""
        apiVersion: v1
        kind: Config
        users:
          - name: admin
            user:
              token: {KUBE_TOKEN}
        """,
}


def _key(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(f["path"], f["line"], f["column"], f["rule"], f["message"], f["fingerprint"])
            for f in report["findings"]]


def _note(report: dict[str, Any]) -> str:
    return next(n for n in report["notes"] if n.startswith("parse cache:"))


BAD_SERVICE = SERVICE.replace("port: 80", "port: eighty")


def _secrets_at_base(repo: Repo, change: str, text: str) -> None:
    """The secret-bearing files and a ConfigMap at ``main``; a ``feature`` commit writes ``change``."""
    for path, content in SECRET_FILES.items():
        repo.write(path, content)
    repo.write("apps/web.yaml", WEB_CM)
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write(change, text)
    repo.commit("pr")


def test_a_second_run_reads_context_from_the_store_and_reports_the_same(repo: Repo) -> None:
    _secrets_at_base(repo, "apps/service.yaml", BAD_SERVICE)  # selects the Deployment of an unchanged file
    first_code, first = run_json("--base", "main", cwd=repo.path)
    second_code, second = run_json("--base", "main", "--new-only", cwd=repo.path)
    third_code, third = run_json("--base", "main", cwd=repo.path)
    assert (repo.path / STORE).is_file()
    # stored: the clean ConfigMap; the Secret and the files with a secret anywhere else are parsed
    # every time
    assert _note(first) == ("parse cache: 0 context file(s) read from context-cache.sqlite3, "
                            "1 stored (of 6 context files)")
    assert _note(second).startswith("parse cache: 1 context file(s) read")
    assert _note(third).startswith("parse cache: 1 context file(s) read")
    assert first_code == second_code == third_code == 1
    assert _key(first) == _key(second) == _key(third)
    # the change's own schema error is reported; the Deployment read from the store is context
    # enough for the Service not to be dangling
    assert [(f["path"], f["line"], f["rule"]) for f in third["findings"] if f["check"] == "schema"] \
        == [("apps/service.yaml", 6, "schema-type")]
    assert not any(f["rule"] == "dangling-service" for f in third["findings"])


def test_the_store_holds_no_detected_secret(repo: Repo) -> None:
    _secrets_at_base(repo, "apps/web.yaml", WEB_CM.replace("mode: fast", "mode: slow"))
    run_json("--base", "main", cwd=repo.path)
    stored = b"".join(p.read_bytes() for p in (repo.path / STORE).parent.iterdir())
    assert b"apps/secret.yaml" in stored and b"password" not in stored  # marked: parsed every time
    for value in SECRETS:
        assert value.encode() not in stored, value
        assert base64.b64encode(value.encode()) not in stored, value


def test_a_finding_caused_in_a_cached_file_keeps_its_exact_line(repo: Repo) -> None:
    repo.write("apps/web.yaml", WEB_CM)
    repo.write("apps/other.yaml", WEB_CM.replace("name: web", "name: other"))
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("apps/other.yaml", WEB_CM.replace("name: web", "name: other").replace("fast", "slow"))
    repo.commit("warm the store with web.yaml as context")
    run_json("--checks", "lint", "--base", "main", cwd=repo.path)
    repo.write("apps/web-copy.yaml", "# copied\n" + WEB_CM.lstrip("\n"))
    repo.commit("pr")
    code, report = run_json("--checks", "lint", "--base", "main", cwd=repo.path)
    assert "parse cache: 0" not in _note(report)
    dups = [(f["path"], f["line"], f["column"]) for f in report["findings"] if f["rule"] == "duplicate-object"]
    assert (code, dups) == (1, [("apps/web.yaml", 4, 3)])


def test_a_changed_file_whose_content_is_in_the_store_is_parsed_in_full(repo: Repo) -> None:
    secret = SECRET_FILES["apps/deploy.yaml"]
    repo.write("apps/deploy.yaml", secret)
    repo.write("apps/web.yaml", WEB_CM)
    repo.commit("base")
    repo.write("apps/web.yaml", WEB_CM.replace("fast", "slow"))
    repo.commit("touch another file")
    run_json("--base", "HEAD~1", cwd=repo.path)  # deploy.yaml (with its secret) stored as context
    repo.write("apps/deploy.yaml", secret.replace(ENV_PASSWORD, "changed-Zq7-other-literal"))
    repo.commit("change it")
    repo.write("apps/deploy.yaml", secret)
    repo.commit("revert it: the stored content again")
    code, report = run_json("--base", "HEAD~1", cwd=repo.path)
    assert code == 1
    assert [(f["path"], f["line"], f["rule"]) for f in report["findings"] if f["check"] == "secrets"] \
        == [("apps/deploy.yaml", 14, "secret-env-literal")]


def _web_and_other_changed(repo: Repo) -> None:
    """Two ConfigMaps at the base; the head commit changes one of them."""
    repo.write("apps/web.yaml", WEB_CM)
    repo.write("apps/other.yaml", WEB_CM.replace("name: web", "name: other"))
    repo.commit("base")
    repo.write("apps/other.yaml", WEB_CM.replace("name: web", "name: other").replace("fast", "slow"))
    repo.commit("pr")


def test_no_cache_neither_reads_nor_writes_the_store(repo: Repo) -> None:
    _web_and_other_changed(repo)
    code, report = run_json("--base", "HEAD~1", "--no-cache", cwd=repo.path)
    assert code == 0
    assert not (repo.path / STORE).exists()
    assert not any(n.startswith("parse cache:") for n in report["notes"])
    assert run_cli("check", "--no-cache", cwd=repo.path)[0] == 0  # outside the git modes too (the render cache)
    assert not (repo.path / STORE).exists()


def test_a_broken_store_is_only_a_miss(repo: Repo) -> None:
    _web_and_other_changed(repo)
    _, clean = run_json("--base", "HEAD~1", "--no-cache", cwd=repo.path)
    store = repo.path / STORE
    store.parent.mkdir(parents=True)
    store.write_bytes(b"this is not a database" * 100)
    code, report = run_json("--base", "HEAD~1", cwd=repo.path)
    assert (code, _key(report)) == (0, _key(clean))
    assert "parse cache: 0 context file(s) read" in _note(report)


def _stored(repo: Repo) -> bytes:
    return b"".join(p.read_bytes() for p in (repo.path / STORE).parent.iterdir())


def _store_after_two_runs(repo: Repo) -> bytes:
    """Commit the files written so far with a ConfigMap, change only the ConfigMap, run twice."""
    repo.write("apps/web.yaml", WEB_CM)
    repo.commit("base")
    repo.write("apps/web.yaml", WEB_CM.replace("fast", "slow"))
    repo.commit("pr")
    run_json("--base", "HEAD~1", cwd=repo.path)
    run_json("--base", "HEAD~1", cwd=repo.path)
    return _stored(repo)


def test_copies_of_a_secret_and_generator_files_are_not_stored(repo: Repo) -> None:
    applied = "LASTAPPLIED-Pw-9xQz7Lk2"
    alias = "correcthorsebattery"
    generated = "GENFILE-hunter2-prod"
    repo.write("apps/secret.yaml", f"""
        apiVersion: v1
        kind: Secret
        metadata:
          name: s
          annotations:
            kubectl.kubernetes.io/last-applied-configuration: '{{"stringData":{{"password":"{applied}"}}}}'
        stringData:
          password: {applied}
        """)
    repo.write("apps/deploy.yaml", f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: d
          annotations: {{owner-note: &pw {alias}}}
        spec:
          template:
            spec:
              containers: [{{name: c, image: "c:1", env: [{{name: DB_PASSWORD, value: *pw}}]}}]
        """)
    repo.write("apps/kustomization.yaml", "secretGenerator:\n  - name: creds\n    files: [creds.yaml]\n")
    repo.write("apps/creds.yaml", f"db:\n  password: {generated}\n")
    stored = _store_after_two_runs(repo)
    for value in (applied, alias, generated):
        assert value.encode() not in stored, value


COMBINE_POLICY = """
package main

import rego.v1

deny contains msg if {
    some i, j
    a := input[i]
    b := input[j]
    i < j
    a.contents.kind == "ConfigMap"
    b.contents.kind == "ConfigMap"
    a.contents.data.webhookToken == b.contents.data.webhookToken
    msg := sprintf("%s reuses the webhook token of %s", [b.path, a.path])
}
"""


def test_policies_see_the_same_context_with_a_warm_store(repo: Repo) -> None:
    token = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
    repo.write(".gatekeeper.yaml", "checks:\n  policy:\n    combine: true\n")
    repo.write("policies/unique.rego", COMBINE_POLICY)
    repo.write("tenants/a.yaml", WEB_CM.replace("name: web", "name: a") + f"  webhookToken: {token}\n")
    repo.write("tenants/b.yaml", WEB_CM.replace("name: web", "name: b"))
    repo.commit("base")
    repo.write("tenants/b.yaml", WEB_CM.replace("name: web", "name: b") + f"  webhookToken: {token}\n")
    repo.commit("pr")
    runs = [run_json("--checks", "policy", "--base", "HEAD~1", *extra, cwd=repo.path)
            for extra in (["--no-cache"], [], [])]
    assert [code for code, _ in runs] == [1, 1, 1]
    assert _key(runs[0][1]) == _key(runs[1][1]) == _key(runs[2][1])
    assert token.encode() not in _stored(repo)



def test_escaped_and_encoded_copies_and_linked_generator_files_are_not_stored(repo: Repo) -> None:
    pem = pem_private_key()
    body = pem.splitlines()[1]
    quoted = 'plain"quoted"value-77'
    copied = "hunter2hunter2hunter2"
    applied = json.dumps({"stringData": {"id_rsa": pem, "q": quoted}})
    repo.write("apps/secret.yaml", "\n".join([
        "apiVersion: v1", "kind: Secret", "metadata:", "  name: s", "  annotations:",
        f"    kubectl.kubernetes.io/last-applied-configuration: {json.dumps(applied)}",
        f"    backup: {base64.b64encode(copied.encode()).decode()}",
        "stringData:", f"  id_rsa: {json.dumps(pem)}", f"  q: {json.dumps(quoted)}", f"  other: {copied}", ""]))
    repo.write("data/creds.yaml", "db:\n  password: LINKED-gen-secret-42\n")
    (repo.path / "apps" / "shared").symlink_to("../data")
    repo.write("apps/kustomization.yaml", "secretGenerator:\n  - name: c\n    files: [creds=shared/creds.yaml]\n")
    stored = _store_after_two_runs(repo)
    assert b"apps/kustomization.yaml" in stored  # the store was written
    for value in (body, "quoted", copied, base64.b64encode(copied.encode()).decode().rstrip("="),
                  "LINKED-gen-secret-42"):
        assert value.encode() not in stored, value


def test_policies_see_the_same_secrets_of_a_kind_that_is_not_a_list(repo: Repo) -> None:
    bundle = ("apiVersion: example.com/v1\nkind: Bundle\nmetadata: {name: b}\n"
              "items:\n  - apiVersion: v1\n    kind: Secret\n    metadata: {name: s}\n"
              "    stringData: {pw: bundlepass-value-99}\n")
    policy = ('package main\n\nimport rego.v1\n\ndeny contains msg if {\n    some doc in input\n'
              '    some item in doc.contents.items\n    item.stringData.pw == "bundlepass-value-99"\n'
              '    some other in input\n    other.path == "apps/web.yaml"\n    msg := "bundle password in use"\n}\n')
    repo.write(".gatekeeper.yaml", "checks:\n  policy:\n    combine: true\n")
    repo.write("policies/bundle.rego", policy)
    repo.write("apps/bundle.yaml", bundle)
    repo.write("apps/web.yaml", WEB_CM)
    repo.commit("base")
    repo.write("apps/web.yaml", WEB_CM.replace("fast", "slow"))
    repo.commit("pr")
    runs = [run_json("--checks", "policy", "--base", "HEAD~1", *extra, cwd=repo.path)
            for extra in (["--no-cache"], [], [])]
    assert [code for code, _ in runs][1:] == [runs[0][0]] * 2
    assert _key(runs[0][1]) == _key(runs[1][1]) == _key(runs[2][1])
