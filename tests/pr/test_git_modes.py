"""The git modes end to end on real repositories: scope, context, --new-only, errors."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import run_cli, run_json
from tests.pr.conftest import BAD_CM, CRD, GOOD_CM, SERVICE, WEB_CM, Repo


def gate(*args: str, cwd: Path) -> tuple[int, dict[str, Any]]:
    """``gatekeeper check --format json`` with the schema check only, so other checks' rules don't mix in."""
    return run_json("--checks", "schema", *args, cwd=cwd)


def _where(report: dict[str, Any]) -> list[tuple[str, int, str]]:
    return sorted((f["path"], f["line"], f["rule"]) for f in report["findings"])


def _base_and_pr(repo: Repo) -> None:
    """Base: an old problem in legacy.yaml and a CRD; PR: a new bad file and a bad Widget."""
    repo.write("crds/widget.yaml", CRD)
    repo.write("apps/legacy.yaml", BAD_CM.format(name="legacy"))
    repo.write("apps/good.yaml", GOOD_CM.format(name="good"))
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("apps/new.yaml", BAD_CM.format(name="new"))
    repo.write("apps/widget.yaml", """
        apiVersion: example.com/v1
        kind: Widget
        metadata:
          name: w
        spec:
          size: large
        """)
    repo.commit("pr")


def test_only_the_changed_files_findings_are_reported(repo: Repo) -> None:
    _base_and_pr(repo)
    code, report = gate("--base", "main", cwd=repo.path)
    assert code == 1
    # legacy.yaml's problem is not reported; the Widget is validated against the CRD of an
    # unchanged file (whole-tree context), at the exact line of the bad field.
    assert _where(report) == [("apps/new.yaml", 5, "schema-unknown-field"),
                              ("apps/widget.yaml", 6, "schema-type")]
    assert report["summary"]["files"] == 5  # the whole tree was loaded as context


def test_without_context_the_referential_check_could_not_validate(repo: Repo) -> None:
    """Control: checking only the changed file (no tree context) cannot know the CRD's schema."""
    _base_and_pr(repo)
    code, report = gate("apps/widget.yaml", cwd=repo.path)
    assert code == 0
    assert [(f["rule"], f["line"]) for f in report["findings"]] == [("schema-missing", 1)]


def test_scope_all_reports_every_file(repo: Repo) -> None:
    _base_and_pr(repo)
    code, report = gate("--base", "main", "--scope", "all", cwd=repo.path)
    assert code == 1
    assert _where(report) == [("apps/legacy.yaml", 5, "schema-unknown-field"),
                              ("apps/new.yaml", 5, "schema-unknown-field"),
                              ("apps/widget.yaml", 6, "schema-type")]


def test_new_only_hides_problems_that_existed_at_the_base(repo: Repo) -> None:
    repo.write("apps/legacy.yaml", BAD_CM.format(name="legacy"))
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    # The PR edits legacy.yaml (moving the old problem down two lines) and adds a new problem.
    repo.write("apps/legacy.yaml", """
        # owned by team a
        # reviewed
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: legacy
          labelz: {}
        data:
          key: 1
        """)
    repo.commit("pr")
    code, report = gate("--base", "main", cwd=repo.path)
    assert _where(report) == [("apps/legacy.yaml", 7, "schema-unknown-field"),
                              ("apps/legacy.yaml", 9, "schema-type")]
    code, report = gate("--base", "main", "--new-only", cwd=repo.path)
    assert code == 1
    assert _where(report) == [("apps/legacy.yaml", 9, "schema-type")]
    assert any("1 finding(s) that already existed" in n for n in report["notes"])


def test_new_only_passes_when_the_pr_adds_nothing_new(repo: Repo) -> None:
    repo.write("apps/legacy.yaml", BAD_CM.format(name="legacy"))
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("apps/legacy.yaml", "# comment\n" + BAD_CM.format(name="legacy").lstrip("\n"))
    repo.commit("pr")
    assert gate("--base", "main", cwd=repo.path)[0] == 1
    code, report = gate("--base", "main", "--new-only", cwd=repo.path)
    assert (code, report["findings"]) == (0, [])


def test_result_comes_from_the_commits_not_the_working_tree(repo: Repo) -> None:
    _base_and_pr(repo)
    (repo.path / "apps/new.yaml").write_text(GOOD_CM.format(name="new"))  # uncommitted fix
    (repo.path / "apps/untracked.yaml").write_text(BAD_CM.format(name="u"))
    code, report = gate("--base", "main", cwd=repo.path)
    assert code == 1
    assert ("apps/new.yaml", 5, "schema-unknown-field") in _where(report)
    assert all(f["path"] != "apps/untracked.yaml" for f in report["findings"])


def test_head_option_and_detached_head(repo: Repo) -> None:
    _base_and_pr(repo)
    pr = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "main")
    code, report = gate("--base", "main", "--head", "feature", cwd=repo.path)
    assert len(report["findings"]) == 2
    repo.git("checkout", "-q", "--detach", pr)
    code, detached = gate("--base", "main", cwd=repo.path)
    assert code == 1
    assert _where(detached) == _where(report)


def test_rename_across_directories_and_deletion(repo: Repo) -> None:
    repo.write("team-a/app.yaml", BAD_CM.format(name="app"))
    repo.write("team-a/old.yaml", GOOD_CM.format(name="old"))
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    (repo.path / "team-b").mkdir()
    repo.git("mv", "team-a/app.yaml", "team-b/app.yaml")
    repo.git("rm", "-q", "team-a/old.yaml")
    repo.commit("move")
    code, report = gate("--base", "main", cwd=repo.path)
    assert _where(report) == [("team-b/app.yaml", 5, "schema-unknown-field")]
    assert "team-b/app.yaml: renamed from team-a/app.yaml" in report["notes"]
    assert "team-a/old.yaml: deleted in this change (nothing to report)" in report["notes"]
    # A moved object keeps its fingerprint: --new-only knows it is not new.
    code, report = gate("--base", "main", "--new-only", cwd=repo.path)
    assert (code, report["findings"]) == (0, [])


def test_paths_limit_the_reported_files_but_not_the_context(repo: Repo) -> None:
    _base_and_pr(repo)
    code, report = gate("--base", "main", "apps/widget.yaml", cwd=repo.path)
    assert code == 1
    assert _where(report) == [("apps/widget.yaml", 6, "schema-type")]
    assert report["summary"]["files"] == 5


def test_staged_reads_the_index(repo: Repo) -> None:
    repo.write("apps/good.yaml", GOOD_CM.format(name="good"))
    repo.write("apps/legacy.yaml", BAD_CM.format(name="legacy"))
    repo.commit("base")
    repo.write("apps/new.yaml", BAD_CM.format(name="new"))
    repo.git("add", "apps/new.yaml")
    (repo.path / "apps/new.yaml").write_text(GOOD_CM.format(name="new"))  # fixed, but not staged
    code, report = gate("--staged", cwd=repo.path)
    assert code == 1
    assert _where(report) == [("apps/new.yaml", 5, "schema-unknown-field")]
    repo.git("add", "apps/new.yaml")
    code, report = gate("--staged", cwd=repo.path)
    assert (code, report["findings"]) == (0, [])


def test_staged_in_a_repository_without_commits(repo: Repo) -> None:
    repo.write("a.yaml", BAD_CM.format(name="a"))
    repo.git("add", "a.yaml")
    code, report = gate("--staged", "--new-only", cwd=repo.path)
    assert code == 1
    assert _where(report) == [("a.yaml", 5, "schema-unknown-field")]


def test_changed_mode_includes_untracked_files(repo: Repo) -> None:
    repo.write("apps/legacy.yaml", BAD_CM.format(name="legacy"))
    repo.commit("base")
    repo.write("apps/untracked.yaml", BAD_CM.format(name="u"))
    code, report = gate("--changed", cwd=repo.path)
    assert code == 1
    assert _where(report) == [("apps/untracked.yaml", 5, "schema-unknown-field")]


def test_not_a_git_repository(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD_CM.format(name="a"))
    code, out = run_cli("check", "--staged", cwd=tmp_path)
    assert code == 2
    assert "is not inside a git repository" in out


def test_unknown_ref(repo: Repo) -> None:
    repo.write("a.yaml", GOOD_CM.format(name="a"))
    repo.commit("base")
    code, out = run_cli("check", "--base", "no-such-branch", cwd=repo.path)
    assert code == 2
    assert "unknown git revision 'no-such-branch'" in out


def test_shallow_clone_missing_the_merge_base_says_how_to_fetch(repo: Repo, tmp_path: Path) -> None:
    repo.write("a.yaml", GOOD_CM.format(name="a"))
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    for i in range(3):
        repo.write(f"f{i}.yaml", GOOD_CM.format(name=f"f{i}"))
        repo.commit(f"pr {i}")
    repo.git("checkout", "-q", "main")
    repo.write("m.yaml", GOOD_CM.format(name="m"))
    repo.commit("main moves on")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--no-single-branch", f"file://{repo.path}",
                    str(clone)], check=True)
    subprocess.run(["git", "checkout", "-q", "feature"], cwd=clone, check=True)
    code, out = run_cli("check", "--base", "origin/main", cwd=clone)
    assert code == 2
    assert "no merge base" in out and "shallow" in out and "fetch-depth: 0" in out
    code, out = run_cli("check", "--base", "main~5", cwd=clone)
    assert code == 2 and "unknown git revision" in out and "shallow" in out


def test_option_conflicts_are_usage_errors(repo: Repo) -> None:
    repo.write("a.yaml", GOOD_CM.format(name="a"))
    repo.commit("base")
    assert run_cli("check", "--staged", "--changed", cwd=repo.path)[0] == 2
    assert run_cli("check", "--head", "HEAD", cwd=repo.path)[0] == 2
    assert run_cli("check", "--new-only", cwd=repo.path)[0] == 2


def test_parse_memo_reuses_unchanged_files_with_fresh_documents() -> None:
    from gatekeeper.scope import ParseMemo
    from gatekeeper.sources.files import SourceFile

    memo = ParseMemo()
    data = BAD_CM.format(name="a").encode()
    first = memo(SourceFile("a.yaml", data))
    first.documents[0].resources.append(object())  # type: ignore[arg-type]  # the loader fills these
    second = memo(SourceFile("a.yaml", data))
    assert memo.hits == 1
    assert second.documents[0] is not first.documents[0] and second.documents[0].resources == []
    assert second.documents[0].obj is first.documents[0].obj
    memo(SourceFile("a.yaml", data + b"\n# edited\n"))
    assert memo.hits == 1


def test_a_path_outside_the_index_is_noted_not_silently_passed(repo: Repo) -> None:
    repo.write("a.yaml", GOOD_CM.format(name="a"))
    repo.commit("base")
    repo.write("untracked.yaml", BAD_CM.format(name="u"))
    code, report = gate("--staged", "--scope", "all", "untracked.yaml", cwd=repo.path)
    assert (code, report["findings"]) == (0, [])
    assert "untracked.yaml: no manifest there in the index; nothing was checked for it" in report["notes"]


def test_duplicate_of_an_object_in_an_unchanged_file_is_caught(repo: Repo) -> None:
    repo.write("apps/web.yaml", WEB_CM)
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("apps/web-copy.yaml", "# copied\n" + WEB_CM.lstrip("\n"))
    repo.commit("pr")
    code, report = run_json("--checks", "lint", "--base", "main", cwd=repo.path)
    dups = [f for f in report["findings"] if f["rule"] == "duplicate-object"]
    assert code == 1
    # lint reports the pair at the old file; the change caused it, so it is reported anyway.
    assert [(f["path"], f["line"]) for f in dups] == [("apps/web.yaml", 4)]
    assert "apps/web-copy.yaml:2" in dups[0]["message"]
    assert any("caused by this change" in n for n in report["notes"])
    # Control: the new file alone has nothing to collide with.
    code, alone = run_json("--checks", "lint", "apps/web-copy.yaml", cwd=repo.path)
    assert all(f["rule"] != "duplicate-object" for f in alone["findings"])


DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "registry.example.com/web:1.2.3"}]
"""



# Every Service that matches no pods (not only near misses), and a second workload so that the
# namespace stays populated when the first one goes.
ANY_DANGLING = "version: 1\nrules:\n  dangling-service:\n    options: {report: any}\n"
OTHER = DEPLOY.replace("web", "api")


def test_a_service_matching_a_workload_in_an_unchanged_file_is_not_dangling(repo: Repo) -> None:
    repo.write(".gatekeeper.yaml", ANY_DANGLING)
    repo.write("apps/deploy.yaml", DEPLOY)
    repo.write("apps/other.yaml", OTHER)
    repo.commit("base")
    repo.write("apps/service.yaml", SERVICE)
    repo.git("add", "-A")
    _, report = run_json("--checks", "lint", "--staged", cwd=repo.path)
    assert all(f["rule"] != "dangling-service" for f in report["findings"])
    assert all(f["path"] == "apps/service.yaml" for f in report["findings"])
    _, alone = run_json("--checks", "lint", "apps/service.yaml", "apps/other.yaml", cwd=repo.path)
    assert [(f["rule"], f["path"]) for f in alone["findings"] if f["rule"] == "dangling-service"] \
        == [("dangling-service", "apps/service.yaml")]


def test_deleting_a_workload_reports_the_service_it_leaves_dangling(repo: Repo) -> None:
    repo.write(".gatekeeper.yaml", ANY_DANGLING)
    repo.write("apps/deploy.yaml", DEPLOY)
    repo.write("apps/other.yaml", OTHER)
    repo.write("apps/service.yaml", SERVICE)
    repo.write("apps/old.yaml", SERVICE.replace("name: web,", "name: old,").replace("app: web", "app: gone"))
    repo.commit("base")  # old.yaml's Service was already dangling at the base
    repo.git("checkout", "-q", "-b", "feature")
    repo.git("rm", "-q", "apps/deploy.yaml")
    repo.commit("remove the deployment")
    _, report = run_json("--checks", "lint", "--base", "main", cwd=repo.path)
    # old.yaml's Service was already dangling (not caused by this change): not reported.
    assert [(f["rule"], f["path"]) for f in report["findings"]] == [("dangling-service", "apps/service.yaml")]


def test_a_changed_generator_input_is_reported_in_every_git_mode(repo: Repo) -> None:
    """A change to a file only a kustomization reads (a configMapGenerator's .env) is checked
    through that kustomization: its new credential is reported at its line, not dropped as
    out of scope because no manifest changed."""
    repo.write("app/kustomization.yaml", """
        resources: [cm.yaml]
        configMapGenerator:
          - name: settings
            envs: [gen/app.env]
        """)
    repo.write("app/cm.yaml", GOOD_CM.format(name="plain"))
    repo.write("app/gen/app.env", "MODE=prod\n")
    repo.commit("base")
    with (repo.path / "app/gen/app.env").open("a", encoding="utf-8") as env:
        env.write("DB_PASSWORD=Zq8xK2mP9vL4nR7tW3yBq\n")
    expected = [("app/gen/app.env", 2, "secret-keyword-entropy")]
    for mode in (["--changed"], ["--staged", "--scope", "all", "app/gen/app.env"]):
        if mode[0] == "--staged":
            repo.git("add", "-A")
        _, report = run_json("--checks", "secrets", *mode, cwd=repo.path)
        assert _where(report) == expected, mode
    repo.commit("pr")
    _, report = run_json("--checks", "secrets", "--base", "HEAD~1", cwd=repo.path)
    assert _where(report) == expected
    assert "Zq8xK2mP9vL4nR7tW3yBq" not in str(report)
