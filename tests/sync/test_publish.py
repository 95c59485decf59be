"""Publishing to a local branch: tree, files, trailers, note; refusals leave the branch untouched."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from gatekeeper import __version__
from tests.conftest import run_cli
from tests.sync.gitrepo import BRANCH, commit, configmap, git, init, note, rev, show, sync, trailers, tree

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27.1
"""


def _repo(tmp_path: Path) -> tuple[Path, str]:
    repo = init(tmp_path / "src")
    sha = commit(repo, {"clusters/prod/app.yaml": configmap("app", "one") + "---\n" + configmap("b", "x"),
                        "clusters/prod/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
                        "clusters/prod/notes.txt": "not a manifest\n",
                        "clusters/staging/app.yaml": configmap("app", "stage"),
                        "README.md": "dry repo\n"}, "Add prod and staging\n\nWith a body line.")
    return repo, sha


def test_pass_creates_branch_with_tree_files_trailers_and_note(tmp_path: Path) -> None:
    repo, sha = _repo(tmp_path)
    git(repo, "remote", "add", "origin", "https://deploy-bot:s3cr3t-t0ken@git.example.com/org/dry.git")
    index_before = git(repo, "ls-files", "--stage")
    code, out = sync(repo, "--path", "clusters/prod")
    assert code == 0, out
    assert "published" in out
    tip = rev(repo, BRANCH)
    assert tip is not None
    assert tree(repo, BRANCH) == [".gatekeeper-sync.json", "clusters/prod/README.md",
                                  "clusters/prod/hydrator.metadata", "clusters/prod/manifest.yaml",
                                  "hydrator.metadata"]
    assert show(repo, BRANCH, "clusters/prod/manifest.yaml") == (
        "---\napiVersion: v1\ndata:\n  key: one\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: shop\n"
        "---\napiVersion: v1\ndata:\n  key: x\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: shop\n"
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop")
    root = json.loads(show(repo, BRANCH, "hydrator.metadata"))
    assert root == {"repoURL": "https://git.example.com/org/dry.git", "drySha": sha,
                    "author": "Dev <dev@example.com>", "date": root["date"],
                    "subject": "Add prod and staging", "body": "With a body line."}
    assert json.loads(show(repo, BRANCH, "clusters/prod/hydrator.metadata")) == {
        "repoURL": "https://git.example.com/org/dry.git", "drySha": sha,
        "commands": ["gatekeeper sync --render plain --path clusters/prod"]}
    assert "s3cr3t" not in git(repo, "log", "-p", BRANCH) + out
    found = trailers(repo, BRANCH)
    assert found["Gate-Verdict"] == "pass"
    assert found["Gate-Source"] == sha
    assert found["Gate-Tool"] == f"gatekeeper/{__version__}"
    assert found["Gate-Waivers"] == "0"
    assert found["Gate-Policy-Digest"].startswith("sha256:") and len(found["Gate-Policy-Digest"]) == 71
    assert git(repo, "log", "-1", "--format=%s", BRANCH) == f"gatekeeper sync: clusters/prod at {sha[:12]}"
    summary = note(repo, BRANCH)
    assert summary["source"] == sha
    assert summary["summary"]["passed"] is True
    assert summary["summary"]["policy_digest"] == found["Gate-Policy-Digest"]
    assert summary["paths"] == [{"source": "clusters/prod", "target": "clusters/prod", "render": "plain",
                                 "objects": 3}]
    # The work tree, the index and HEAD are untouched: everything went through plumbing.
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "ls-files", "--stage") == index_before
    assert git(repo, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert git(repo, "rev-list", "--count", BRANCH) == "1"


def test_credentials_with_slashes_and_ats_never_reach_the_metadata(tmp_path: Path) -> None:
    repo, _ = _repo(tmp_path)
    git(repo, "remote", "add", "origin", "https://deploy-bot:pa/ss@w0rd@git.example.com:8443/org/dry.git?tok=q1")
    code, out = sync(repo, "--path", "clusters/prod")
    assert code == 0, out
    meta = json.loads(show(repo, BRANCH, "hydrator.metadata"))
    assert meta["repoURL"] == "https://git.example.com:8443/org/dry.git"
    code, out = run_cli("sync", "--repo", str(repo), "--target-branch", "env/other", "--path", "clusters/prod",
                        "--repo-url", "ssh://u:x/y@z@git.example.com/org/dry.git#frag")
    assert code == 0, out
    assert json.loads(show(repo, "env/other", "hydrator.metadata"))["repoURL"] == "ssh://git.example.com/org/dry.git"
    published = git(repo, "log", "-p", BRANCH) + git(repo, "log", "-p", "env/other") + out
    assert "pa/ss" not in published and "w0rd" not in published and "x/y" not in published and "q1" not in published


def test_failing_state_leaves_branch_untouched_and_prints_report(tmp_path: Path) -> None:
    repo, _ = _repo(tmp_path)
    code, _ = sync(repo, "--path", "clusters/prod")
    assert code == 0
    tip = rev(repo, BRANCH)
    bad = commit(repo, {"clusters/prod/deploy.yaml": DEPLOY.replace("replicas: 2", 'replicas: "2"')}, "bad")
    code, out = sync(repo, "--path", "clusters/prod")
    assert code == 1
    assert "clusters/prod/deploy.yaml:7:3" in out and "schema-type" in out
    assert f"{bad[:12]} did not pass the gate" in out
    assert rev(repo, BRANCH) == tip


def test_failing_state_never_creates_the_branch(tmp_path: Path) -> None:
    repo = init(tmp_path / "src")
    bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labelz: {}\n"
    commit(repo, {"env/app.yaml": bad}, "x")
    code, out = sync(repo, "--path", "env")
    assert code == 1
    assert "env/app.yaml:5:3" in out and "schema-unknown-field" in out
    assert rev(repo, BRANCH) is None
    assert git(repo, "for-each-ref", "refs/notes") == ""


def test_idempotent_rerun_and_unrelated_commit_make_no_commit(tmp_path: Path) -> None:
    repo, _ = _repo(tmp_path)
    assert sync(repo, "--path", "clusters/prod")[0] == 0
    tip = rev(repo, BRANCH)
    code, out = sync(repo, "--path", "clusters/prod")
    assert code == 0 and "no commit: the rendered output is identical" in out
    commit(repo, {"README.md": "changed outside the path\n"}, "docs only")
    code, out = sync(repo, "--path", "clusters/prod")
    assert code == 0 and "no commit" in out
    assert rev(repo, BRANCH) == tip


def test_change_is_a_new_commit_on_top(tmp_path: Path) -> None:
    repo, first = _repo(tmp_path)
    assert sync(repo, "--path", "clusters/prod")[0] == 0
    old = rev(repo, BRANCH)
    second = commit(repo, {"clusters/prod/app.yaml": configmap("app", "two")}, "bump")
    assert sync(repo, "--path", "clusters/prod")[0] == 0
    assert git(repo, "rev-parse", f"{BRANCH}^") == old
    assert trailers(repo, BRANCH)["Gate-Source"] == second != first
    assert "key: two" in show(repo, BRANCH, "clusters/prod/manifest.yaml")
    assert "name: b\n" not in show(repo, BRANCH, "clusters/prod/manifest.yaml")


def test_stale_owned_files_removed_and_foreign_files_survive(tmp_path: Path) -> None:
    repo, _ = _repo(tmp_path)
    assert sync(repo, "--path", "clusters/prod", "--path", "clusters/staging")[0] == 0
    assert "clusters/staging/manifest.yaml" in tree(repo, BRANCH)
    # Someone adds files of their own to the deploy branch (plumbing, as a person's commit would).
    blob = git(repo, "hash-object", "-w", "--stdin", data=b"team: platform\n")
    git(repo, "read-tree", "--index-output=" + str(tmp_path / "idx"), BRANCH)
    env_index = {**os.environ, "GIT_INDEX_FILE": str(tmp_path / "idx")}
    for path in ("OWNERS", "clusters/staging/extra.yaml"):
        subprocess.run(["git", "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"], cwd=repo,
                       env=env_index, check=True)
    new_tree = subprocess.run(["git", "write-tree"], cwd=repo, env=env_index, check=True,
                              capture_output=True, text=True).stdout.strip()
    manual = git(repo, "commit-tree", new_tree, "-p", BRANCH, "-m", "add owners")
    git(repo, "update-ref", f"refs/heads/{BRANCH}", manual)

    code, out = sync(repo, "--path", "clusters/prod")
    assert code == 0, out
    assert "removed 3 stale file(s)" in out
    assert tree(repo, BRANCH) == [".gatekeeper-sync.json", "OWNERS", "clusters/prod/README.md",
                                  "clusters/prod/hydrator.metadata", "clusters/prod/manifest.yaml",
                                  "clusters/staging/extra.yaml", "hydrator.metadata"]
    assert json.loads(show(repo, BRANCH, ".gatekeeper-sync.json"))["files"] == [
        ".gatekeeper-sync.json", "clusters/prod/README.md", "clusters/prod/hydrator.metadata",
        "clusters/prod/manifest.yaml", "hydrator.metadata"]
    assert git(repo, "rev-parse", f"{BRANCH}^") == manual


def test_target_path_and_message_template(tmp_path: Path) -> None:
    repo, sha = _repo(tmp_path)
    code, out = sync(repo, "--path", "clusters/prod", "--target-path", "prod",
                     "--message", "deploy {paths} from {short} ({subject})")
    assert code == 0, out
    assert "prod/manifest.yaml" in tree(repo, BRANCH)
    subject = git(repo, "log", "-1", "--format=%s", BRANCH)
    assert subject == f"deploy prod from {sha[:12]} (Add prod and staging)"
    code, out = sync(repo, "--path", "clusters/prod", "--message", "{nope}")
    assert code == 2 and "bad --message template" in out


def test_reads_the_commit_not_the_work_tree(tmp_path: Path) -> None:
    repo, _ = _repo(tmp_path)
    (repo / "clusters/prod/app.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: [broken\n")
    code, out = sync(repo, "--path", "clusters/prod")
    assert code == 0, out
    assert "key: one" in show(repo, BRANCH, "clusters/prod/manifest.yaml")


def test_config_and_fail_threshold_come_from_the_source_commit(tmp_path: Path) -> None:
    repo, _ = _repo(tmp_path)
    commit(repo, {"clusters/prod/deploy.yaml": DEPLOY}, "add deployment (lint warnings)")
    assert sync(repo, "--path", "clusters/prod", "--fail-on", "warning")[0] == 1
    assert rev(repo, BRANCH) is None
    commit(repo, {".gatekeeper.yaml": "version: 1\nfail_on: warning\n"}, "stricter config")
    code, out = sync(repo, "--path", "clusters/prod")
    assert code == 1 and "deploy.yaml:15:11" in out
    # An uncommitted config does not count.
    (repo / ".gatekeeper.yaml").write_text("version: 1\nfail_on: error\n")
    assert sync(repo, "--path", "clusters/prod")[0] == 1
    assert rev(repo, BRANCH) is None


def test_unparsable_file_fails_closed_even_with_the_rule_disabled(tmp_path: Path) -> None:
    repo, _ = _repo(tmp_path)
    broken = "apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n"
    commit(repo, {"clusters/prod/broken.yaml": broken}, "broken")
    code, out = sync(repo, "--path", "clusters/prod")
    assert code == 1 and "clusters/prod/broken.yaml:4:1" in out and "parse-error" in out
    commit(repo, {".gatekeeper.yaml": "version: 1\nrules:\n  parse-error:\n    enabled: false\n"}, "hide it")
    code, out = sync(repo, "--path", "clusters/prod")
    assert code == 2 and "could not be read completely" in out
    assert rev(repo, BRANCH) is None


def test_refusals_exit_2(tmp_path: Path) -> None:
    repo, _ = _repo(tmp_path)
    commit(repo, {"empty/readme.txt": "nothing\n", "kust/kustomization.yaml": "resources: []\n"}, "odd dirs")
    cases = [
        (("--path", "empty"), "renders no Kubernetes objects"),
        (("--path", "missing"), "is not a directory at the source commit"),
        (("--path", "../outside"), "must be a directory inside the repository"),
        (("--path", "kust", "--render", "plain"), "render it with --render kustomize"),
        (("--path", "clusters/prod", "--source-ref", "nope"), "unknown source revision"),
        (("--path", "clusters/prod", "--target-path", "a", "--target-path", "b"), "one --target-path per"),
    ]
    for args, message in cases:
        code, out = sync(repo, *args)
        assert code == 2, (args, out)
        assert message in out, (args, out)
    code, out = sync(repo, "--path", "empty", "--allow-empty")
    assert code == 0, out
    assert show(repo, BRANCH, "empty/manifest.yaml") == ""


def test_promoting_a_hydrated_branch_keeps_the_original_dry_commit(tmp_path: Path) -> None:
    """A hydrated branch (``<env>-next``) built on its dry commit is checked and promoted to the sync
    branch with --promote-hydrated: the dry commit is verified, and described from git itself."""
    repo = init(tmp_path / "src")
    dry = commit(repo, {"README.md": "dry\n"}, "Scale shop")
    git(repo, "checkout", "-q", "-b", "environments/prod-next")
    root = {"repoURL": "https://git.example.com/dry.git", "drySha": dry, "author": "Ann <ann@example.com>",
            "date": "2026-11-20T10:00:00Z", "subject": "Scale shop", "body": ""}
    next_sha = commit(repo, {
        "hydrator.metadata": json.dumps(root),
        "apps/shop/hydrator.metadata": json.dumps({"drySha": dry, "commands": ["kustomize build ."]}),
        "apps/shop/README.md": "hydrated by Argo CD\n",
        "apps/shop/manifest.yaml": configmap("shop", "hydrated"),
    }, "[Argo CD Bot] hydrate")
    git(repo, "checkout", "-q", "main")
    code, out = sync(repo, "--source-ref", "environments/prod-next", "--path", "apps/shop", "--promote-hydrated")
    assert code == 0, out
    published = json.loads(show(repo, BRANCH, "hydrator.metadata"))
    assert published["drySha"] == dry and published["repoURL"] == root["repoURL"]
    assert published["author"] == "Dev <dev@example.com>" and published["subject"] == "Scale shop"
    assert json.loads(show(repo, BRANCH, "apps/shop/hydrator.metadata"))["drySha"] == dry
    assert trailers(repo, BRANCH)["Gate-Source"] == next_sha
    assert "key: hydrated" in show(repo, BRANCH, "apps/shop/manifest.yaml")


def test_refuses_to_move_the_checked_out_branch(tmp_path: Path) -> None:
    repo, _ = _repo(tmp_path)
    git(repo, "checkout", "-q", "-b", BRANCH)
    code, out = sync(repo, "--path", "clusters/prod")
    assert code == 2 and f"{BRANCH} is checked out here" in out
    assert git(repo, "rev-list", "--count", BRANCH) == "1"
    assert sync(repo, "--path", "clusters/prod", "--diff")[0] == 1  # read-only modes are fine


def test_export_ignores_git_archive_attributes_and_keeps_in_tree_symlinks(tmp_path: Path) -> None:
    repo = init(tmp_path / "src")
    commit(repo, {".gitattributes": "env/** export-ignore\nenv/*.yaml export-subst\n",
                  "env/app.yaml": configmap("app", "$Format:%H$"),
                  "shared/common.yaml": configmap("common", "shared")}, "attributes")
    (repo / "env" / "common.yaml").symlink_to("../shared/common.yaml")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "link")
    code, out = sync(repo, "--path", "env")
    assert code == 0, out
    manifest = show(repo, BRANCH, "env/manifest.yaml")
    assert "key: $Format:%H$" in manifest  # not substituted, not dropped
    assert "name: common" not in manifest  # a symlinked file is not read by plain rendering
    (repo / "env" / "escape.yaml").symlink_to("/etc/hostname")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "escape")
    code, out = sync(repo, "--path", "env")
    assert code == 2 and "symlink env/escape.yaml points outside the tree" in out


def test_waived_findings_are_counted_in_the_trailer_and_note(tmp_path: Path) -> None:
    repo, _ = _repo(tmp_path)
    bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: legacy\n  namespace: shop\ndata:\n  port: 8080\n"
    commit(repo, {"clusters/prod/legacy.yaml": bad,
                  ".gatekeeper.yaml": "version: 1\nwaivers:\n  - rule: schema-type\n    match: {name: legacy}\n"
                                      "    reason: migrated next sprint\n"}, "waive")
    code, out = sync(repo, "--path", "clusters/prod")
    assert code == 0, out
    assert trailers(repo, BRANCH)["Gate-Waivers"] == "1"
    assert note(repo, BRANCH)["summary"]["waived"] == 1
