"""The git modes' store gives the same results as no store, and a stored pass at the base is used
only for the same base: every kind of committed change (edit, add, delete, rename, mode, a
kustomization edit, a symlink) makes the next hook run compute the base again. Real git
repositories, real kustomize renders."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.conftest import run_json
from tests.pr.conftest import Repo

TOKEN = "ghp_" + "YU0lWvjyBuI3O8SHr88nmkkIk99jhCLHiBi2"
KEPT = "the findings at the base were read from"

FILES = {
    "app/kustomization.yaml": """
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        namespace: shop
        resources:
        - configmap.yaml
        - secret.yaml
        """,
    "app/configmap.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
        data:
          mode: fast
        """,
    "app/secret.yaml": f"""
        apiVersion: v1
        kind: Secret
        metadata:
          name: repo-credentials
        type: Opaque
        stringData:
          username: git
          password: {TOKEN}
        """,
    # a remote chart: a finding in a file the change does not touch, so the hook needs the base
    "clusters/app.yaml": """
        apiVersion: argoproj.io/v1alpha1
        kind: Application
        metadata: {name: web, namespace: argocd}
        spec:
          project: default
          source: {repoURL: https://charts.example.com, chart: web, targetRevision: 1.0.0}
          destination: {server: https://kubernetes.default.svc, namespace: web}
        """,
    "other/cm.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: other, namespace: shop}
        data: {key: value}
        """,
}


@pytest.fixture
def app(repo: Repo) -> Repo:
    for path, text in FILES.items():
        repo.write(path, text)
    repo.commit("base")
    return repo


def _stage_edit(repo: Repo, mode: str) -> None:
    """Stage an edit of the ConfigMap the unit renders (the same staged change after every commit)."""
    repo.write("app/configmap.yaml", FILES["app/configmap.yaml"].replace("mode: fast", f"mode: {mode}"))
    repo.git("add", "-A")


def _hook(repo: Repo, *extra: str) -> tuple[int, dict[str, Any]]:
    return run_json("--staged", "--scope", "all", *extra, "app/configmap.yaml", cwd=repo.path)


def _shown(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(f["path"], f["line"], f["column"], f["rule"], f["field"], f["message"], f.get("units"),
             str(f.get("origin"))) for f in report["findings"]]


def _same_with_and_without_store(repo: Repo) -> list[str]:
    code, stored = _hook(repo)
    plain_code, plain = _hook(repo, "--no-cache")
    assert code == plain_code == 1
    assert _shown(stored) == _shown(plain)
    assert not any(KEPT in n for n in plain["notes"])
    return list(stored["notes"])


def test_a_warm_store_reports_what_no_store_reports_at_the_same_lines(app: Repo) -> None:
    _stage_edit(app, "slow")
    first = _same_with_and_without_store(app)  # the store is written by the first run
    _code, warm = _hook(app)
    _code, plain = _hook(app, "--no-cache")
    assert _shown(warm) == _shown(plain)
    assert not any(KEPT in n for n in first) and any(KEPT in n for n in warm["notes"])
    assert any(n.startswith("parse cache: ") and not n.startswith("parse cache: 0 ") for n in warm["notes"])
    # the Secret's token is located in its own file, also when its kustomization comes from the store
    assert ("app/secret.yaml", 8, "secret-github-token") in [(f["path"], f["line"], f["rule"])
                                                              for f in warm["findings"]]
    assert not any(f["rule"] == "render-remote" for f in warm["findings"])  # not caused by the change


CHANGES = {
    "edit": lambda r: r.write("other/cm.yaml", FILES["other/cm.yaml"].replace("key: value", "key: other")),
    "add": lambda r: r.write("other/new.yaml", FILES["other/cm.yaml"].replace("name: other", "name: new")),
    "delete": lambda r: r.git("rm", "-q", "other/cm.yaml"),
    "rename": lambda r: r.git("mv", "other/new.yaml", "other/moved.yaml"),
    "mode": lambda r: os.chmod(r.path / "app/secret.yaml", 0o755),
    "kustomization": lambda r: r.write("app/kustomization.yaml", FILES["app/kustomization.yaml"]
                                       .replace("namespace: shop", "namespace: store")),
    "symlink": lambda r: os.symlink("moved.yaml", r.path / "other/link.yaml"),
}


def test_every_kind_of_change_to_the_base_computes_the_base_again(app: Repo) -> None:
    _stage_edit(app, "slow")
    _hook(app)
    assert any(KEPT in n for n in _hook(app)[1]["notes"])  # the same base and change: kept
    for kind, change in CHANGES.items():
        app.git("reset", "-q", "--hard")
        change(app)
        app.commit(kind)
        _stage_edit(app, "slow")
        notes = _same_with_and_without_store(app)
        assert not any(KEPT in n for n in notes), kind  # a new base: the stored pass is not used
