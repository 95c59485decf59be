"""Context files loaded by a child process: exactly the fast loader's answers, nothing else, and a
child that fails or is stopped changes nothing but who loads the file."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest

from gatekeeper.prefetch import MIN_FILES, UNANSWERED, Prefetch
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.render import fastload
from tests.conftest import run_json
from tests.pr.conftest import SERVICE, Repo

IRREGULAR = b"a: &x {b: 1}\nc: *x\n"  # an alias: the fast loader declines it


def _sources(count: int) -> list[SourceFile]:
    out = [SourceFile(f"apps/s{i:02}.yaml", (f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s{i}}}\n"
                                             f"stringData: {{password: 'P4ss-{i}-x'}}\n---\nn: {i}.5\n").encode())
           for i in range(count)]
    out.insert(3, SourceFile("apps/irregular.yaml", IRREGULAR))
    return out


def _gone(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_child_gives_the_fast_loaders_answers_in_any_order() -> None:
    sources = _sources(MIN_FILES + 8)
    prefetch = Prefetch.start(sources)
    assert prefetch is not None
    for source in [*sources[20:], *sources[:20]]:  # the parent may skip ahead and come back
        answer = prefetch.take(source, wait=True)
        assert answer.known
        assert answer.found == fastload.load_documents(source.data.decode())
    assert prefetch.take(sources[3], wait=True).found is None  # declined: the parent parses it in full
    assert prefetch.take(SourceFile("apps/s01.yaml", b"other: content\n")) is UNANSWERED
    assert prefetch.take(SourceFile("apps/unknown.yaml", b"a: 1\n")) is UNANSWERED
    pid = prefetch._pid
    assert pid is not None
    prefetch.close()
    assert _gone(pid)


def test_a_stopped_child_leaves_the_files_to_the_parent() -> None:
    sources = _sources(MIN_FILES + 200)
    prefetch = Prefetch.start(sources)
    assert prefetch is not None and prefetch._pid is not None
    assert prefetch.take(sources[0], wait=True).known
    os.kill(prefetch._pid, signal.SIGKILL)
    answers = [prefetch.take(s, wait=True) for s in sources]
    cut = next((i for i, a in enumerate(answers) if not a.known), len(answers))
    assert all(a is UNANSWERED for a in answers[cut:])  # after the stream ends, nothing is answered
    for source, answer in zip(sources[:cut], answers[:cut], strict=True):
        assert answer.found == fastload.load_documents(source.data.decode())
    prefetch.close()
    assert _gone(prefetch._pid)


def test_the_parent_never_waits_for_a_stopped_child() -> None:
    sources = _sources(MIN_FILES + 400)
    prefetch = Prefetch.start(sources)
    assert prefetch is not None and prefetch._pid is not None
    os.kill(prefetch._pid, signal.SIGSTOP)  # a child that gets no CPU (a busy machine)
    try:
        for source in sources:  # returns at once: an answer already sent, or none (the parent loads it)
            answer = prefetch.take(source)
            assert answer is UNANSWERED or answer.found == fastload.load_documents(source.data.decode())
    finally:
        os.kill(prefetch._pid, signal.SIGCONT)
        prefetch.close()
    assert _gone(prefetch._pid)


def test_too_few_files_are_not_worth_a_child() -> None:
    assert Prefetch.start(_sources(MIN_FILES - 2)) is None


def _findings(report: dict[str, Any]) -> str:
    return json.dumps(sorted(report["findings"], key=lambda f: json.dumps(f, sort_keys=True)), sort_keys=True)


@pytest.mark.parametrize("count", [MIN_FILES + 4])
def test_the_hook_gives_the_same_findings_with_prefetched_files(repo: Repo, count: int,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []
    real = Prefetch.start.__func__  # type: ignore[attr-defined]

    def spy(cls: type[Prefetch], sources: list[SourceFile]) -> Prefetch | None:
        started.append([s.path for s in sources])
        return real(cls, sources)  # type: ignore[no-any-return]

    monkeypatch.setattr(Prefetch, "start", classmethod(spy))
    for i in range(count):  # Secrets with values: never stored, read on every run
        repo.write(f"apps/s{i:02}.yaml", f"""
            apiVersion: v1
            kind: Secret
            metadata: {{name: s{i}, namespace: shop}}
            stringData: {{password: "Pr3fetch-Secret-{i:02}-value"}}
            """)
    repo.commit("base")
    repo.write("apps/service.yaml", SERVICE.replace("port: 80", "port: eighty"))
    repo.write("apps/dup.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: s7, namespace: shop}\n")
    repo.git("add", "-A")
    _, plain = run_json("--staged", "--no-cache", cwd=repo.path)
    _, cold = run_json("--staged", cwd=repo.path)
    assert started == [[]]  # the first run with the store: nothing is known to be unstorable yet
    _, warm = run_json("--staged", cwd=repo.path)  # the snapshot marks the Secrets: a child loads them
    assert started[1] == [f"apps/s{i:02}.yaml" for i in range(count)]
    assert _findings(plain) == _findings(cold) == _findings(warm)
    # a finding the change causes at the older copy, in a prefetched file, is located as without the store
    assert [f["line"] for f in warm["findings"] if f["path"] == "apps/s07.yaml"] == \
        [f["line"] for f in plain["findings"] if f["path"] == "apps/s07.yaml"] != []
    for value in (f"Pr3fetch-Secret-{i:02}-value" for i in range(count)):
        assert value not in json.dumps(warm)
