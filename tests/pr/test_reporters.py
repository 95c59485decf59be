"""SARIF, JUnit, GitHub and Markdown reporters on real runs and on hand-built reports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from gatekeeper.model import CheckError, Finding, Report, ResourceRef, Severity, Waiver
from gatekeeper.report import RenderOptions, render, sarif
from gatekeeper.report import github as gh
from gatekeeper.report import markdown as md
from tests.conftest import run_cli, shared_dir
from tests.pr.conftest import BAD_CM, Repo

REF = ResourceRef("v1", "ConfigMap", "prod", "app", 0)


def finding(line: int = 3, severity: Severity = Severity.ERROR, rule: str = "schema-type",
            path: str = "a.yaml", message: str = "bad", **kw: object) -> Finding:
    return Finding("schema", rule, severity, message, path, line, 2, resource=REF, field="data.x",
                   hint="fix it", fingerprint=f"fp{line}{rule}{severity}", **kw)  # type: ignore[arg-type]


def sarif_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(shared_dir("schemas", "sarif-schema-2.1.0.json").read_text())
    return jsonschema.Draft4Validator(schema)


def test_sarif_from_a_real_run_validates_and_points_at_lines(repo: Repo) -> None:
    repo.write("base.yaml", BAD_CM.format(name="base"))
    repo.commit("base")
    repo.write("dir with space/new.yaml", BAD_CM.format(name="new"))
    repo.commit("pr")
    code, _ = run_cli("check", "--base", "HEAD~1", "--sarif", "out.sarif", cwd=repo.path)
    assert code == 1
    doc = json.loads((repo.path / "out.sarif").read_text())
    sarif_validator().validate(doc)
    run = doc["runs"][0]
    (result,) = run["results"]
    loc = result["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "dir%20with%20space/new.yaml", "uriBaseId": "%SRCROOT%"}
    assert loc["region"] == {"startLine": 5, "startColumn": 3}
    assert result["ruleId"] == "schema-unknown-field" and result["level"] == "error"
    rule = run["tool"]["driver"]["rules"][result["ruleIndex"]]
    assert rule["id"] == "schema-unknown-field"
    assert rule["defaultConfiguration"]["level"] == "error" and rule["shortDescription"]["text"]
    assert len(result["partialFingerprints"]["gatekeeper/v1"]) == 32


def test_sarif_waivers_unknown_rules_errors_and_the_result_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    waived = finding(4, waived=Waiver("accepted risk", ".gatekeeper.yaml"))
    custom = finding(5, rule="policy.no-latest")
    report = Report(findings=[finding(3), waived, custom],
                    errors=[CheckError("policy", "cannot load x.rego")])
    doc = sarif.document(report)
    sarif_validator().validate(doc)
    run = doc["runs"][0]
    by_line = {r["locations"][0]["physicalLocation"]["region"]["startLine"]: r for r in run["results"]}
    assert by_line[4]["suppressions"] == [{"kind": "external", "status": "accepted",
                                           "justification": "accepted risk",
                                           "properties": {"source": ".gatekeeper.yaml", "expires": None}}]
    assert "suppressions" not in by_line[3]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert ids[by_line[5]["ruleIndex"]] == "policy.no-latest"
    assert run["invocations"][0]["executionSuccessful"] is False
    monkeypatch.setattr(sarif, "MAX_RESULTS", 2)
    many = Report(findings=[finding(1, Severity.INFO), finding(2, Severity.ERROR),
                            finding(3, Severity.WARNING)])
    capped = sarif.document(many)["runs"][0]
    assert [r["level"] for r in capped["results"]] == ["error", "warning"]
    note = capped["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"]
    assert note.startswith("1 of 3 results were left out")


def test_github_escaping_of_data_and_properties() -> None:
    f = finding(7, path="odd,dir/a:b%.yaml", message="50% off\r\nnext::error::injected")
    line = gh.annotation(f)
    assert line.startswith("::error file=odd%2Cdir/a%3Ab%25.yaml,line=7,col=2,title=schema-type (schema)::")
    message = line.split("::", 2)[2]
    assert message == "50%25 off%0D%0Anext::error::injected [ConfigMap/prod/app]%0AFix: fix it"
    assert "\n" not in line and "\r" not in line


def test_github_most_severe_first_capped_with_a_count_of_the_rest() -> None:
    findings = [finding(i, Severity.WARNING) for i in range(1, 13)] + [finding(100 + i) for i in range(12)]
    findings.append(finding(200, Severity.WARNING, waived=Waiver("ok", "cfg")))
    out = render(Report(findings=findings), "github").splitlines()
    commands = [line for line in out if line.startswith("::")]
    assert [c.split(" ", 1)[0] for c in commands] == ["::error"] * 10 + ["::warning"] * 10
    assert "line=100," in commands[0]
    assert "line=200," not in "".join(commands)  # waived findings are not annotated
    assert out[-2].startswith("gatekeeper: 2 error(s), 2 warning(s) not shown as annotations")
    assert out[-1].startswith("gatekeeper: failed: 12 error(s), 12 warning(s)")


def test_github_environment_files(tmp_path: Path) -> None:
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    report = Report(findings=[finding(3)], files=1, resources=1, checks=["schema"])
    gh.write_environment(report, {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)},
                         {"sarif": "out.sarif"})
    assert "## ❌ gatekeeper failed" in summary.read_text()
    assert "| 🔴 error | `a.yaml:3` | ConfigMap/prod/app | `schema-type` |" in summary.read_text()
    assert parse_outputs(output.read_text()) == {
        "verdict": "failed", "errors": "1", "warnings": "0", "infos": "0", "waived": "0",
        "check-errors": "0", "exit-code": "1", "sarif-file": "out.sarif"}


def parse_outputs(text: str) -> dict[str, str]:
    """Read a $GITHUB_OUTPUT file written with the ``name<<DELIMITER`` form."""
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        name, _, delimiter = line.partition("<<")
        value = []
        for item in lines:
            if item == delimiter:
                break
            value.append(item)
        out[name] = "\n".join(value)
    return out


def test_markdown_escapes_cells_and_stays_under_the_cap() -> None:
    f = finding(3, message="a | b <script>x</script>\nline2 `code`")
    text = md.render_text(Report(findings=[f]))
    row = next(line for line in text.splitlines() if line.startswith("| 🔴"))
    assert "a \\| b &lt;script&gt;x&lt;/script&gt; line2 \\`code\\`" in row
    assert row.count(" | ") == 4  # five cells, the message's pipe is escaped
    huge = Report(findings=[finding(i, message="m" * 400) for i in range(1, 3000)])
    capped = md.render_text(huge, max_chars=64 * 1024)
    assert len(capped) < 64 * 1024
    assert "not listed here to keep the summary under GitHub's size limit" in capped


def test_markdown_makes_mentions_and_issue_references_from_manifests_inert(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '@github/security-team', namespace: shop}\ndata: {a: b}\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: '@github/security-team', namespace: shop}\n"
        "data: {a: b}\n")
    code, out = run_cli("check", str(tmp_path), "--format", "markdown")
    assert code == 1, out
    row = next(line for line in out.splitlines() if "`cm.yaml:8`" in line)
    assert f"ConfigMap/shop/@{md.INERT}github/security-team" in row, row
    assert "/@github" not in out
    text = md.render_text(Report(findings=[finding(
        3, message="ping @octocat, @org/team, see #12, org/repo#34 and gh-56; mail a@b.io; img@sha256 x#y")]))
    row = next(line for line in text.splitlines() if line.startswith("| 🔴"))
    j = md.INERT
    assert (f"ping @{j}octocat, @{j}org/team, see #{j}12, org/repo#{j}34 and gh-{j}56; mail a@b.io; img@sha256 x#y"
            in row), row


def test_junit_a_suite_per_check_a_case_per_resource(repo: Repo) -> None:
    repo.write("good.yaml", BAD_CM.format(name="legacy").replace("  labelz: {}\n", ""))
    repo.write("bad.yaml", BAD_CM.format(name='"bad<&>\\x07"'))
    repo.commit("base")
    code, out = run_cli("check", "--checks", "schema", "--scope", "all", "--base", "HEAD",
                        "--format", "junit", cwd=repo.path)
    assert code == 1
    root = ET.fromstring(out)
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "schema" and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"ConfigMap/bad<&>\ufffd", "ConfigMap/legacy"}
    failure = cases["ConfigMap/bad<&>\ufffd"].find("failure")
    assert failure is not None and failure.text is not None
    assert failure.text.startswith("bad.yaml:5:3 error schema-unknown-field: metadata.labelz: unknown field")
    assert cases["ConfigMap/legacy"].find("failure") is None


def test_junit_reports_check_errors_and_parse_failures() -> None:
    parse = Finding("parse", "parse-error", Severity.ERROR, "cannot parse", "broken.yaml", 2, 1)
    report = Report(findings=[parse], errors=[CheckError("policy", "cannot load x.rego")], checks=["schema"])
    root = ET.fromstring(render(report, "junit", RenderOptions()))
    names = [s.get("name") for s in root.findall("testsuite")]
    assert names == ["parse", "schema", "policy"]
    assert root.get("errors") == "1" and root.get("failures") == "1"


def test_github_format_fails_closed_on_a_check_that_cannot_load(repo: Repo, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    repo.write("a.yaml", BAD_CM.format(name="a").replace("  labelz: {}\n", ""))
    repo.commit("base")
    output = tmp_path / "out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    code, out = run_cli("check", "--checks", "schema", "--staged", "--scope", "all", "--github",
                        "--schema-dir", str(tmp_path / "missing"), cwd=repo.path)
    assert code == 2
    assert out.splitlines()[0].startswith("::error title=gatekeeper%3A schema::schema dir ")
    assert parse_outputs(output.read_text())["verdict"] == "error"


def test_several_formats_in_one_run(repo: Repo) -> None:
    repo.write("a.yaml", BAD_CM.format(name="a"))
    repo.commit("base")
    code, out = run_cli("check", "--checks", "schema", "--base", "HEAD", "--scope", "all",
                        "--format", "text", "--format", "json=r/report.json", "--sarif", "r/report.sarif",
                        "--junit", "r/report.xml", "--markdown", "r/report.md", cwd=repo.path)
    assert code == 1
    assert "a.yaml:5:3 error   schema-unknown-field" in out
    reports = repo.path / "r"
    assert json.loads((reports / "report.json").read_text())["findings"][0]["line"] == 5
    sarif_validator().validate(json.loads((reports / "report.sarif").read_text()))
    assert ET.parse(reports / "report.xml").getroot().get("failures") == "1"
    assert "`a.yaml:5`" in (reports / "report.md").read_text()
