"""The git modes read symlinks inside the tree as the files they point to, as the disk walk, Argo CD,
Helm and kustomize do; a link that leaves the tree, a loop or a link to a directory reads as absent.
A chart template added as a link to a shared file rendered into nothing in a pull request."""

from __future__ import annotations

import json
import os

from gatekeeper.sources import git
from gatekeeper.sources.tree import GitTree
from tests.conftest import run_cli
from tests.pr.conftest import Repo

POD = """
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: x}
spec:
  hostPID: true
  containers: [{name: c, image: "nginx:1.2.3"}]
"""


def test_links_inside_the_tree_read_as_their_files(repo: Repo) -> None:
    repo.write("shared/pod.tpl", POD)
    repo.write("d/real.yaml", "a: 1\n")
    os.symlink("../shared/pod.tpl", repo.path / "d" / "in.yaml")
    os.symlink("in.yaml", repo.path / "d" / "chain.yaml")
    os.symlink("../../outside.yaml", repo.path / "d" / "out.yaml")
    os.symlink("loop.yaml", repo.path / "d" / "loop.yaml")
    os.symlink("../shared", repo.path / "d" / "dir")
    repo.commit("links")
    handle = git.open_repo(repo.path)
    tree = GitTree(handle, git.tree_entries(handle, "HEAD"))
    assert tree.read("d/in.yaml") == tree.read("shared/pod.tpl") == POD.lstrip().encode()
    assert tree.read("d/chain.yaml") == POD.lstrip().encode()
    assert [tree.read(p) for p in ("d/out.yaml", "d/loop.yaml", "d/dir")] == [None, None, None]
    assert tree.kind("d/in.yaml") == "file" and tree.kind("d/out.yaml") is None
    assert tree.files_under("d") == ["d/chain.yaml", "d/in.yaml", "d/real.yaml"]


def test_a_chart_template_linked_in_a_pull_request_is_rendered(repo: Repo) -> None:
    repo.write("chart/Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\n")
    repo.write("chart/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\n")
    repo.commit("base")
    repo.write("shared/pod.tpl", POD)
    os.symlink("../../shared/pod.tpl", repo.path / "chart" / "templates" / "pod.yaml")
    repo.commit("link a template")
    code, out = run_cli("check", "--checks", "lint", "--no-cache", "--base", "HEAD~1", "--format", "json",
                        cwd=repo.path)
    found = [(f["path"], f["line"]) for f in json.loads(out)["findings"] if f["rule"] == "host-pid"]
    assert found == [("chart/templates/pod.yaml", 5)]
    assert code == 1


def test_a_symlinked_manifest_is_read_at_the_links_path_in_every_git_mode(repo: Repo) -> None:
    repo.write("clusters/prod/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\n")
    repo.commit("base")
    repo.write("shared/pod.txt", POD)
    os.symlink("../../shared/pod.txt", repo.path / "clusters" / "prod" / "pod.yaml")
    os.symlink("/etc/hostname", repo.path / "clusters" / "prod" / "host.yaml")
    expected = [("clusters/prod/host.yaml", 1, "symlink-outside-tree"), ("clusters/prod/pod.yaml", 5, "host-pid")]
    code, out = run_cli("check", "--checks", "lint", "--changed", "--format", "json", cwd=repo.path)
    assert _errors(out) == expected
    repo.commit("link manifests")
    code, out = run_cli("check", "--checks", "lint", "--base", "HEAD~1", "--format", "json", cwd=repo.path)
    assert _errors(out) == expected
    assert code == 1
    repo.write("clusters/prod/other.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d, namespace: x}\n")
    repo.commit("unrelated change")
    code, out = run_cli("check", "--checks", "lint", "--base", "HEAD~1", "--format", "json", cwd=repo.path)
    assert json.loads(out)["findings"] == []  # the link's findings existed at the base
    assert code == 0


def _errors(out: str) -> list[tuple[str, int, str]]:
    return sorted((f["path"], f["line"], f["rule"]) for f in json.loads(out)["findings"] if f["severity"] == "error")
