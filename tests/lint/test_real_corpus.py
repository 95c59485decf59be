"""Lint on copies of real-world manifests (../shared/corpus/real): findings point at the right lines."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import shared_dir
from tests.lint.helpers import of_rule, run


def _copy(tmp_path: Path, *parts: str) -> tuple[str, list[str]]:
    source = shared_dir("corpus", "real", *parts)
    shutil.copy(source, tmp_path / source.name)
    return source.name, source.read_text(encoding="utf-8").splitlines()


def _line(lines: list[str], text: str, nth: int = 1) -> int:
    hits = [i for i, line in enumerate(lines, start=1) if line.strip() == text]
    assert len(hits) >= nth, text
    return hits[nth - 1]


def test_node_exporter_daemonset_lines(tmp_path: Path) -> None:
    name, lines = _copy(tmp_path, "prometheus-operator__kube-prometheus", "manifests",
                        "nodeExporter-daemonset.yaml")
    report = run(tmp_path, {})
    got = {(f.rule, f.line) for f in report.findings if f.path == name}
    assert ("host-network", _line(lines, "hostNetwork: true")) in got
    assert ("host-pid", _line(lines, "hostPID: true")) in got
    assert ("dangerous-capabilities", _line(lines, "- SYS_TIME")) in got
    assert ("host-port", _line(lines, "hostPort: 9100")) in got
    sensitive = {f.line for f in of_rule(report, "host-path") if f.severity.name == "ERROR"}
    assert sensitive == {_line(lines, "- hostPath:", 1), _line(lines, "- hostPath:", 2)}
    assert {f.message for f in of_rule(report, "host-path")} == {
        "volume 'sys' mounts sensitive host path /sys", "volume 'root' mounts sensitive host path /"}
    # both containers run as the pod's non-root user and drop ALL: no findings for those rules
    assert not of_rule(report, "run-as-root") and not of_rule(report, "run-as-non-root")
    assert not of_rule(report, "net-raw-not-dropped")


def test_archived_elasticsearch_controller_lines(tmp_path: Path) -> None:
    name, lines = _copy(tmp_path, "kubernetes__examples", "_archived", "elasticsearch", "es-rc.yaml")
    report = run(tmp_path, {})
    [untagged] = of_rule(report, "image-untagged")
    assert untagged.line == _line(lines, "image: busybox")
    assert untagged.field == "spec.template.spec.initContainers[0].image"
    [privileged] = of_rule(report, "privileged-container")
    assert privileged.line == _line(lines, "privileged: true")
    [deprecated] = of_rule(report, "deprecated-service-account")
    assert deprecated.line == _line(lines, "serviceAccount: elasticsearch")
    assert {f.path for f in report.findings} == {name}
