"""The issue's acceptance run: the starter library against the demo repository."""

from __future__ import annotations

from tests.conftest import PROJECT, run_json

DEMO = PROJECT / "examples" / "demo-repo"


def test_starter_library_on_demo_repo_reports_located_findings() -> None:
    code, report = run_json(str(DEMO), "--policy", str(PROJECT / "policies"), "--checks", "policy")
    assert not report["errors"]
    findings = [f for f in report["findings"] if f["check"] == "policy"]
    assert code == (1 if any(f["severity"] == "error" for f in findings) else 0)
    rules = {f["rule"].split("/")[1] for f in findings}
    assert "main" in rules, "no conftest-style finding"
    assert rules - {"main"}, "no Gatekeeper finding"
    for f in findings:
        lines = (DEMO / f["path"]).read_text(encoding="utf-8").splitlines()
        assert 1 <= f["line"] <= len(lines)
        assert f["resource"] is not None
        last = f["field"].rsplit(".", 1)[-1].split("[")[0]
        text = lines[f["line"] - 1]
        if f["unit"]:  # a rendered object: the line that set the value (a patch, a transformer, values)
            assert {"path": f["path"], "line": f["line"]} in [{"path": o["path"], "line": o["line"]}
                                                              for o in f["origin"]]
        elif last:  # the finding's line is where its field is written (or, when missing, its list item)
            assert last in text or text.lstrip().startswith("- "), (f["path"], f["line"], f["field"])
