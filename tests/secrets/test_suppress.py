"""Inline allow comments, fingerprints that survive line moves, and the baseline workflow."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from gatekeeper.config import Config
from gatekeeper.model import Severity
from tests.conftest import run_cli, run_json
from tests.secrets.fakes import password, scan, secret_findings


def _secret(name: str, pw: str, comment: str = "", above: str = "") -> str:
    lines = ["apiVersion: v1", "kind: Secret", "metadata:", f"  name: {name}", "stringData:"]
    if above:
        lines.append(f"  {above}")
    lines.append(f'  password: "{pw}"{"  " + comment if comment else ""}')
    return "\n".join(lines) + "\n"


def test_inline_allows(tmp_path: Path) -> None:
    allow = '# gatekeeper:allow secret-k8s-secret reason="test fixture"'
    (tmp_path / "a.yaml").write_text(_secret("a", password(), allow))
    (tmp_path / "b.yaml").write_text(_secret("b", password(), above="# gitleaks:allow"))
    (tmp_path / "c.yaml").write_text(_secret("c", password(), "# pragma: allowlist secret"))
    (tmp_path / "d.yaml").write_text(_secret("d", password(), "# gatekeeper:allow secret-k8s-secret"))
    (tmp_path / "e.yaml").write_text(_secret("e", password(), '# gatekeeper:allow secret-env-literal reason="x"'))
    report = scan(tmp_path)
    found = {(f.path, f.rule): f for f in secret_findings(report)}
    assert found[("a.yaml", "secret-k8s-secret")].waived is not None
    assert found[("a.yaml", "secret-k8s-secret")].waived.reason == "test fixture"  # type: ignore[union-attr]
    assert found[("b.yaml", "secret-k8s-secret")].waived is not None
    assert found[("c.yaml", "secret-k8s-secret")].waived is not None
    assert found[("d.yaml", "secret-k8s-secret")].counts  # no reason: the allow does not apply...
    missing = found[("d.yaml", "secret-allow-without-reason")]  # ...and is itself reported
    assert (missing.line, missing.severity) == (6, Severity.WARNING)
    assert found[("e.yaml", "secret-k8s-secret")].counts  # an allow for another rule does not apply
    assert sorted(f.path for f in report.failing) == ["d.yaml", "e.yaml"]


def test_fingerprint_survives_line_moves_and_depends_on_value_and_salt(tmp_path: Path) -> None:
    pw = password()
    (tmp_path / "s.yaml").write_text(_secret("s", pw))
    config = Config(checks={"secrets": {"salt": "a-fixed-test-salt"}})
    first = secret_findings(scan(tmp_path, config))[0]
    (tmp_path / "s.yaml").write_text("# moved down\n# by two lines\n" + _secret("s", pw))
    moved = secret_findings(scan(tmp_path, config))[0]
    assert (moved.line, moved.fingerprint) == (first.line + 2, first.fingerprint)
    (tmp_path / "s.yaml").write_text(_secret("s", password()))
    assert secret_findings(scan(tmp_path, config))[0].fingerprint != first.fingerprint
    (tmp_path / "s.yaml").write_text(_secret("s", pw))
    other_salt = Config(checks={"secrets": {"salt": "another-test-salt"}})
    assert secret_findings(scan(tmp_path, other_salt))[0].fingerprint != first.fingerprint


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd,
                   check=True, capture_output=True)


def test_salt_from_root_commit_is_the_same_in_every_clone(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "s.yaml").write_text(_secret("s", password()))
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "init")
    _git(tmp_path, "clone", "-q", str(repo), str(tmp_path / "clone"))
    here = secret_findings(scan(repo))[0]
    there = secret_findings(scan(tmp_path / "clone"))[0]
    assert here.fingerprint == there.fingerprint


def test_baseline_workflow(tmp_path: Path) -> None:
    (tmp_path / "old.yaml").write_text(_secret("old", password()))
    (tmp_path / "gone.yaml").write_text(_secret("gone", password()))
    code, out = run_cli("secrets", "baseline", str(tmp_path))
    assert code == 0
    data = json.loads(out)
    assert data["version"] == 1 and len(data["findings"]) == 2
    assert all(set(e) == {"fingerprint", "check", "rule", "path", "resource", "field"} for e in data["findings"])
    (tmp_path / ".gatekeeper-baseline.json").write_text(out)

    code, report = run_json(str(tmp_path), "--checks", "secrets")
    assert code == 0
    assert [(f["path"], f["baseline"]) for f in report["findings"]] == [("gone.yaml", True), ("old.yaml", True)]

    (tmp_path / "gone.yaml").unlink()
    (tmp_path / "new.yaml").write_text(_secret("new", password()))
    code, report = run_json(str(tmp_path), "--checks", "secrets")
    assert code == 1
    assert [(f["path"], f["line"], f["baseline"]) for f in report["findings"]] == [("new.yaml", 6, False),
                                                                                 ("old.yaml", 6, True)]
    stale = [n for n in report["notes"] if n.startswith("baseline: stale")]
    assert len(stale) == 1 and "gone.yaml" in stale[0]


def test_broken_baseline_fails_closed(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(_secret("s", password()))
    (tmp_path / ".gatekeeper-baseline.json").write_text("{not json")
    code, report = run_json(str(tmp_path), "--checks", "secrets")
    assert code == 2
    assert report["errors"][0]["check"] == "baseline"
