"""The configuration a change is judged against is the base's, discovered from the same PATHS, and a
change cannot choose where the repository's objects are sent (real git, real CLI, a local HTTP
server standing in for an OPA server)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.pr.conftest import GOOD_CM, Repo
from tests.pr.test_weakening_audit import DENY_UNLABELLED


def _check(repo: Repo, *paths: str) -> tuple[int, dict[str, Any]]:
    code, out = run_cli("check", "--base", "HEAD~1", "--format", "json", *paths, cwd=repo.path)
    return code, json.loads(out)


def _weakened(report: dict[str, Any]) -> list[tuple[str, int, str]]:
    return sorted((f["path"], f["line"], f["message"]) for f in report["findings"] if f["rule"] == "config-weakened")


def _org_policies(repo: Repo) -> None:
    repo.write("org/main.rego", DENY_UNLABELLED)
    repo.write(".gatekeeper.yaml", "version: 1\nchecks:\n  policy:\n    paths: [org]\n")
    repo.write("apps/a.yaml", GOOD_CM.format(name="a"))
    repo.commit("base")


def test_a_config_added_where_the_gate_is_pointed_is_compared_with_the_root_config(repo: Repo) -> None:
    _org_policies(repo)
    repo.write("apps/.gatekeeper.yaml", "version: 1\n")
    repo.write("apps/b.yaml", GOOD_CM.format(name="b"))
    repo.commit("nested config")
    code, report = _check(repo, "apps")
    assert _weakened(report) == [("apps/.gatekeeper.yaml", 1, "this change changes the policy directories from "
                                  "['org'] to the default: the gate checks less than at the base")]
    assert code == 1


def test_a_renamed_config_is_compared_with_the_file_the_base_used(repo: Repo) -> None:
    _org_policies(repo)
    (repo.path / ".gatekeeper.yaml").unlink()
    repo.write(".gatekeeper.yml", "version: 1\n")
    repo.commit("rename")
    code, report = _check(repo)
    assert [(p, line) for p, line, _ in _weakened(report)] == [(".gatekeeper.yml", 1)]
    assert code == 1


def test_an_unchanged_nested_config_is_no_weakening(repo: Repo) -> None:
    _org_policies(repo)
    repo.write("apps/.gatekeeper.yaml", "version: 1\n")
    repo.commit("nested config")
    repo.write("apps/b.yaml", GOOD_CM.format(name="b"))
    repo.commit("change")
    code, report = _check(repo, "apps")
    assert _weakened(report) == []
    assert code == 0, report["findings"]


@pytest.fixture
def opa_server() -> Iterator[tuple[str, list[bytes]]]:
    received: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers.get("content-length", 0))))
            body = b'{"result": {}}'
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_an_opa_url_the_change_sets_is_not_contacted(repo: Repo, opa_server: tuple[str, list[bytes]]) -> None:
    url, received = opa_server
    repo.write("policies/main.rego", DENY_UNLABELLED)
    repo.write(".gatekeeper.yaml", "version: 1\n")
    repo.write("apps/a.yaml", GOOD_CM.format(name="a").replace("metadata:", "metadata:\n  labels: {team: t}"))
    repo.commit("base")
    repo.write(".gatekeeper.yaml", f"version: 1\nchecks:\n  policy:\n    opa_url: {url}\n")
    repo.write("apps/b.yaml", GOOD_CM.format(name="b"))
    repo.commit("point the gate elsewhere")
    code, report = _check(repo)
    assert received == []
    assert [(f["path"], f["line"], f["rule"]) for f in report["findings"]] == [
        (".gatekeeper.yaml", 4, "config-weakened"), ("apps/b.yaml", 1, "policy/main/deny")]
    assert any(n.startswith("checks.policy.opa_url: this change sets another value") for n in report["notes"])
    assert code == 1


def test_an_opa_url_already_in_the_base_is_used(repo: Repo, opa_server: tuple[str, list[bytes]]) -> None:
    url, received = opa_server
    repo.write(".gatekeeper.yaml", f"version: 1\nchecks:\n  policy:\n    opa_url: {url}\n")
    repo.write("apps/a.yaml", GOOD_CM.format(name="a"))
    repo.commit("base")
    repo.write("apps/b.yaml", GOOD_CM.format(name="b"))
    repo.commit("change")
    code, report = _check(repo)
    assert len(received) == 1 and b'"name": "b"' in received[0]
    assert code == 0, report
