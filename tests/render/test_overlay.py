"""The overlay of the rendering issue: its errors are found at the patch lines that set them, in
``check`` and in ``sync``, and it passes once the patch is fixed."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_json
from tests.render.conftest import BAD_PATCH, OVERLAY, at, needs_kustomize, put
from tests.sync.gitrepo import BRANCH, commit, init, rev, sync

pytestmark = needs_kustomize

# patch.yaml: 6 replicas: "3", 9 hostNetwork, 12 image :latest, 14 privileged
EXPECTED = [("schema-type", 6), ("host-network", 9), ("image-latest", 12), ("privileged-container", 14)]


def test_check_reports_the_patch_lines(tmp_path: Path) -> None:
    put(tmp_path, OVERLAY)
    code, report = run_json(str(tmp_path))
    assert code == 1
    errors = sorted((f["rule"], f["line"]) for f in report["findings"] if f["severity"] == "error")
    assert errors == sorted(EXPECTED)
    for f in report["findings"]:
        assert f["path"] == "overlays/prod/patch.yaml" and f["unit"] == ["overlays/prod"]
        assert {"path": "overlays/prod/patch.yaml", "line": f["line"], "role": "patch"} in f["origin"]
    assert not any("checked as patches only" in n for n in report["notes"])


def test_the_fixed_patch_passes(tmp_path: Path) -> None:
    put(tmp_path, {**OVERLAY, "overlays/prod/patch.yaml": BAD_PATCH.replace('"3"', "3")
                   .replace("      hostNetwork: true\n", "").replace("nginx:latest", "nginx:1.2.4")
                   .replace("privileged: true", "privileged: false")})
    code, report = run_json(str(tmp_path))
    assert code == 0, report["findings"]
    assert report["summary"]["resources"] == 1  # the rendered Deployment, not the base and patch as files


def test_sync_reports_the_same_source_lines(tmp_path: Path) -> None:
    repo = init(tmp_path / "src")
    commit(repo, OVERLAY, "overlay")
    code, out = sync(repo, "--path", "overlays/prod", "--render", "kustomize", "--format", "json")
    assert code == 1
    import json

    report = json.loads(out[:out.rindex("}") + 1])
    errors = sorted((f["rule"], f["path"], f["line"]) for f in report["findings"] if f["severity"] == "error")
    assert errors == sorted((rule, "overlays/prod/patch.yaml", line) for rule, line in EXPECTED)
    assert "manifest.yaml" not in out  # no finding points at a file that is not in the repository
    assert rev(repo, BRANCH) is None


def test_without_rendering_the_files_are_checked_as_written(tmp_path: Path) -> None:
    put(tmp_path, OVERLAY)
    code, report = run_json(str(tmp_path), "--render", "none")
    assert code == 0 and report["summary"]["resources"] == 1  # the base; the patch is a patch
    assert any("1 deployment unit(s) not rendered (--render none)" in n for n in report["notes"])
    assert at(report, "privileged-container") == []
