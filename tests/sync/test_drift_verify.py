"""``--diff`` (what would change, nothing written) and ``--verify-branch`` (every commit has a verdict)."""

from __future__ import annotations

from pathlib import Path

from tests.sync.gitrepo import BRANCH, commit, configmap, git, init, rev, sync

SECRET = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\n"
          "type: Opaque\nstringData:\n  password: {value}\n")


def _repo(tmp_path: Path) -> Path:
    repo = init(tmp_path / "src")
    commit(repo, {"env/app.yaml": configmap("app", "one"), "env/other.yaml": configmap("other", "x")},
           "first")
    return repo


def test_diff_without_branch_lists_everything_as_added(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    code, out = sync(repo, "--path", "env", "--diff")
    assert code == 1
    assert out == ("env: 2 added, 0 removed, 0 changed\n  + ConfigMap shop/app\n  + ConfigMap shop/other\n"
                   f"{BRANCH}: differs from the rendered state\n")
    assert rev(repo, BRANCH) is None
    assert git(repo, "for-each-ref") == git(repo, "for-each-ref", "refs/heads/main")


def test_diff_after_sync_matches_then_reports_changes(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    assert sync(repo, "--path", "env")[0] == 0
    tip = rev(repo, BRANCH)
    code, out = sync(repo, "--path", "env", "--diff")
    assert (code, out) == (0, f"env: no change\n{BRANCH}: matches the rendered state\n")
    commit(repo, {"env/app.yaml": configmap("app", "two"), "env/other.yaml": None,
                  "env/new.yaml": configmap("new", "n", namespace="web")}, "change")
    code, out = sync(repo, "--path", "env", "--diff")
    assert code == 1
    assert out == ("env: 1 added, 1 removed, 1 changed\n  + ConfigMap web/new\n  - ConfigMap shop/other\n"
                   f"  ~ ConfigMap shop/app: data.key\n{BRANCH}: differs from the rendered state\n")
    assert rev(repo, BRANCH) == tip


def test_diff_names_secret_fields_never_values(tmp_path: Path) -> None:
    repo = init(tmp_path / "src")
    commit(repo, {".gatekeeper.yaml": "version: 1\nchecks:\n  secrets:\n    enabled: false\n",
                  "env/db.yaml": SECRET.format(value="first-Value-123")}, "secret")
    assert sync(repo, "--path", "env")[0] == 0, sync(repo, "--path", "env")[1]
    commit(repo, {"env/db.yaml": SECRET.format(value="second-Value-456")}, "rotate")
    code, out = sync(repo, "--path", "env", "--diff")
    assert code == 1
    assert "~ Secret shop/db: stringData.password" in out
    assert "Value" not in out


def test_diff_reports_a_path_no_longer_published(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    commit(repo, {"old/app.yaml": configmap("legacy", "old-value")}, "old env")
    assert sync(repo, "--path", "env", "--path", "old")[0] == 0
    code, out = sync(repo, "--path", "env", "--diff")
    assert code == 1
    assert "old: would be removed\n  - ConfigMap shop/legacy\n" in out


def test_verify_branch_passes_for_synced_commits_and_names_a_manual_one(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    assert sync(repo, "--path", "env")[0] == 0
    commit(repo, {"env/app.yaml": configmap("app", "two")}, "second")
    assert sync(repo, "--path", "env")[0] == 0
    code, out = sync(repo, "--verify-branch")
    assert (code, out) == (0, f"{BRANCH}: all 2 commit(s) carry a passing gate verdict\n")
    tip = rev(repo, BRANCH)
    assert tip is not None
    tree_id = git(repo, "rev-parse", f"{tip}^{{tree}}")
    forged = git(repo, "commit-tree", tree_id, "-p", tip, "-m",
                 "hotfix by hand\n\nGate-Verdict: pass\n\nSigned-off-by: Dev <dev@example.com>")
    git(repo, "update-ref", f"refs/heads/{BRANCH}", forged)
    code, out = sync(repo, "--verify-branch")
    assert code == 1
    assert out == (f"{forged[:12]} hotfix by hand: no Gate-Verdict: pass trailer\n"
                   f"{BRANCH}: 1 of 3 commit(s) lack a passing gate verdict\n")
    assert sync(repo, "--verify-branch", "--since", forged)[0] == 0


def test_verify_missing_branch_is_an_error(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    code, out = sync(repo, "--verify-branch")
    assert code == 2 and f"branch {BRANCH} does not exist" in out
