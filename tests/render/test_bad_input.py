"""Bad and hostile input to the renderers: each is a finding at its line, or exit 2 with a clear message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gatekeeper.sources import kustomize as kz
from gatekeeper.sources.render import Renderer
from gatekeeper.sources.tree import DiskTree
from gatekeeper.sources.units import HELM, Unit, ValuesSource
from tests.conftest import run_json, run_subprocess
from tests.render.conftest import CLEAN_DEPLOY, at, copy_fixture, needs_helm, needs_kustomize, put

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {a: b}\n"


@needs_kustomize
def test_a_kustomize_error_is_a_finding_at_the_kustomization(tmp_path: Path) -> None:
    put(tmp_path, {"app/kustomization.yaml": "resources: [cm.yaml, cm2.yaml]\n", "app/cm.yaml": CM,
                   "app/cm2.yaml": CM})
    code, report = run_json(str(tmp_path))
    assert code == 1 and report["errors"] == []
    found = [f for f in report["findings"] if f["rule"] == "render-error"]
    assert [(f["path"], f["line"]) for f in found] == [("app/kustomization.yaml", 1)]
    assert "kustomize cannot build app" in found[0]["message"] and "gatekeeper-render" not in found[0]["message"]


def test_renderer_messages_never_name_the_work_directory(tmp_path: Path) -> None:
    from gatekeeper.sources.render import kustomize as kz_render

    repo = tmp_path / "gatekeeper-render-x1y2" / "u7" / "repo"
    message = (f"Error: evalsymlink failure on '{repo.parent}/outside/cm.yaml' : lstat {repo}/app/cm.yaml: "
               "no such file or directory; also /dev/shm/gatekeeper-render-abc/u3/repo/base/x.yaml")
    cleaned = kz_render.clean_message(message, repo)
    assert cleaned == ("evalsymlink failure on '../outside/cm.yaml' : lstat app/cm.yaml: no such file or directory; "
                       "also base/x.yaml")


@needs_kustomize
def test_a_remote_base_is_a_warning_and_the_local_files_are_still_checked(tmp_path: Path) -> None:
    put(tmp_path, {"app/kustomization.yaml": "resources:\n  - deploy.yaml\n"
                                             "  - https://github.com/example/repo//base?ref=v1.0.0\n",
                   "app/deploy.yaml": CLEAN_DEPLOY.replace("nginx:1.2.3", "nginx:latest")})
    code, report = run_json(str(tmp_path))
    assert at(report, "render-remote") == [("app/kustomization.yaml", 3)]
    assert [f["severity"] for f in report["findings"] if f["rule"] == "render-remote"] == ["warning"]
    assert at(report, "image-latest") == [("app/deploy.yaml", 16)]  # checked as a file
    assert code == 1


@needs_kustomize
def test_the_remote_rule_is_configurable(tmp_path: Path) -> None:
    put(tmp_path, {"app/kustomization.yaml": "resources: [github.com/example/repo/base?ref=v1]\n",
                   ".gatekeeper.yaml": "version: 1\nrules:\n  render-remote: {severity: error}\n"})
    code, report = run_json(str(tmp_path))
    assert code == 1 and [f["severity"] for f in report["findings"]] == ["error"]


@needs_kustomize
def test_a_cycle_between_kustomizations_is_a_finding(tmp_path: Path) -> None:
    put(tmp_path, {"top/kustomization.yaml": "resources: [../a]\n", "a/kustomization.yaml": "resources: [../b]\n",
                   "b/kustomization.yaml": "resources: [../a]\n"})
    code, report = run_json(str(tmp_path))
    assert code == 1
    found = [f for f in report["findings"] if f["rule"] == "render-cycle"]
    assert [(f["path"], f["line"]) for f in found] == [("b/kustomization.yaml", 1)]
    assert "a -> b -> a" in found[0]["message"]


@needs_kustomize
def test_exec_plugins_are_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    put(tmp_path, {
        "app/kustomization.yaml": "resources: [cm.yaml]\ntransformers: [fn.yaml]\n",
        "app/cm.yaml": CM,
        "app/fn.yaml": f"""
            apiVersion: example.com/v1
            kind: Touch
            metadata:
              name: touch
              annotations:
                config.kubernetes.io/function: |
                  exec:
                    path: /bin/sh
                    args: ["-c", "touch {marker}"]
            """,
    })
    code, report = run_json(str(tmp_path))
    assert not marker.exists()
    assert code == 1
    found = [f for f in report["findings"] if f["rule"] == "render-error"]
    assert [f["path"] for f in found] == ["app/kustomization.yaml"]


@needs_kustomize
def test_helm_charts_inside_kustomize_are_not_inflated(tmp_path: Path) -> None:
    put(tmp_path, {"app/kustomization.yaml": "helmCharts:\n  - name: redis\n    repo: https://charts.example.com\n"})
    code, report = run_json(str(tmp_path))
    assert at(report, "render-disabled") == [("app/kustomization.yaml", 1)] and code == 1


@needs_helm
def test_a_chart_dependency_that_is_not_vendored_is_remote(tmp_path: Path) -> None:
    copy_fixture("chart", tmp_path)
    chart = tmp_path / "web/Chart.yaml"
    chart.write_text(chart.read_text() + "dependencies:\n  - name: redis\n    version: 18.x\n"
                                         "    repository: oci://registry.example.com/charts\n")
    code, report = run_json(str(tmp_path))
    assert at(report, "render-remote") == [("web/Chart.yaml", 8)]
    assert code == 0  # a warning; the values file is still checked as a file


@needs_helm
@pytest.mark.parametrize(("template", "timeout", "max_output", "words"), [
    ("{{- range until 200000000 }}{{ end }}", 1.0, 1 << 20, "took longer than 1 s"),
    ("data:\n{{- range until 20000 }}\n  k{{ . }}: {{ . | quote }}{{ end }}", 30.0, 4096, "wrote more than"),
], ids=["time", "size"])
def test_each_render_has_a_time_and_size_limit(tmp_path: Path, template: str, timeout: float, max_output: int,
                                               words: str) -> None:
    copy_fixture("chart", tmp_path)
    (tmp_path / "web/templates/big.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n" + template + "\n")
    tree = DiskTree(tmp_path)
    renderer = Renderer(tree, [], {}, timeout=timeout, max_output=max_output)
    try:
        result = renderer.render(Unit(HELM, "web", values=[ValuesSource("web/values.yaml")]))
    finally:
        renderer.close()
    assert not result.rendered
    assert [(f.rule, f.path) for f in result.findings] == [("render-limit", "web/Chart.yaml")]
    assert words in result.findings[0].message


@needs_helm
def test_a_helm_render_has_a_memory_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy_fixture("chart", tmp_path)
    (tmp_path / "web/templates/big.yaml").write_text(
        '{{- $x := repeat 1000000000 "x" }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n'
        'data:\n  len: "{{ len $x }}"\n')
    monkeypatch.setenv("GATEKEEPER_RENDER_MEMORY", "300")
    code, report = run_json(str(tmp_path))
    assert code == 1 and report["errors"] == []
    found = [f for f in report["findings"] if f["rule"] == "render-limit"]
    assert [(f["path"], f["line"]) for f in found] == [("web/Chart.yaml", 1)]
    assert "300 MiB" in found[0]["message"]  # an allocation refused, or the runtime faulting under the limit


@needs_kustomize
def test_kubectl_runs_under_the_memory_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    put(tmp_path, {"app/kustomization.yaml": "resources: [cm.yaml]\n", "app/cm.yaml": CM})
    monkeypatch.setenv("GATEKEEPER_RENDER_MEMORY", "64")  # less than kubectl needs to start
    code, report = run_json(str(tmp_path))
    assert code == 1
    assert at(report, "render-limit") == [("app/kustomization.yaml", 1)]
    monkeypatch.setenv("GATEKEEPER_RENDER_MEMORY", "1536")
    assert run_json(str(tmp_path))[0] == 0


def test_a_memory_limit_that_is_not_a_number_is_exit_2(tmp_path: Path) -> None:
    put(tmp_path, {"app/kustomization.yaml": "resources: [cm.yaml]\n", "app/cm.yaml": CM})
    proc = run_subprocess("check", str(tmp_path), env={**os.environ, "GATEKEEPER_RENDER_MEMORY": "lots"})
    assert proc.returncode == 2
    assert "GATEKEEPER_RENDER_MEMORY must be a whole number of MiB" in proc.stdout + proc.stderr


def test_a_missing_renderer_is_exit_2_with_the_install_command(tmp_path: Path) -> None:
    put(tmp_path, {"app/kustomization.yaml": "resources: [cm.yaml]\n", "app/cm.yaml": CM})
    env = {**os.environ, "GATEKEEPER_KUSTOMIZE": "none"}
    proc = run_subprocess("check", str(tmp_path), env=env)
    assert proc.returncode == 2
    assert "pip install 'gitops-gatekeeper[kustomize]'" in proc.stdout + proc.stderr
    proc = run_subprocess("check", str(tmp_path), "--render", "none", env=env)
    assert proc.returncode == 0, proc.stdout
    assert "1 deployment unit(s) not rendered (--render none)" in proc.stdout


def test_kustomizations_are_found_only_by_their_file_names() -> None:
    from gatekeeper.sources.files import SourceFile
    from gatekeeper.sources.yamlload import parse

    doc = parse(SourceFile("app/kust.yaml", b"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                                           b"patchesStrategicMerge: [pod.yaml]\n")).documents[0]
    assert kz.parse(doc) is None
