"""Remote OPA mode against a local stand-in server.

No OPA binary exists here, so the test starts an HTTP server implementing OPA's Data API
(``POST /v1/data/{path}`` with ``{"input": ...}`` -> ``{"result": ...}``) that evaluates
with the embedded engine. The gate talks to it through opa-python-client, as to a real OPA.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.rego.engine import RegorusEngine
from gatekeeper.rego.modules import load_module
from tests.conftest import run_json

Write = Callable[[str, str], Path]

POLICY = """package main
import rego.v1

deny contains msg if {
  input.kind == "Service"
  input.spec.type == "LoadBalancer"
  msg := sprintf("%s is public", [input.metadata.name])
}

warn contains {"msg": "no labels", "field": ["metadata"]} if not input.metadata.labels
"""

REPO = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: LoadBalancer\n"


class _Server:
    def __init__(self, policy: str, fail: bool = False) -> None:
        self.module = load_module("server.rego", policy)
        self.fail = fail
        self.requests: list[tuple[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                path = self.path.removeprefix("/v1/data/").strip("/").split("/")
                outer.requests.append((self.path, body.get("input")))
                if outer.fail:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b'{"code": "internal_error"}')
                    return
                program = RegorusEngine().compile([outer.module], {}, {"r": path})  # engines stay in one thread
                values = program.evaluate(body.get("input"))
                reply = {"result": values["r"]} if "r" in values else {}
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server(POLICY)
    yield s
    s.close()


def test_remote_findings_match_embedded(write: Write, tmp_path: Path, server: _Server) -> None:
    write("repo/svc.yaml", REPO)
    write("pol/main.rego", POLICY)
    repo = str(tmp_path / "repo")
    code, remote = run_json(repo, "--opa-url", server.url, "--checks", "policy")
    _, local = run_json(repo, "--policy", str(tmp_path / "pol"), "--checks", "policy")
    strip = [(f["path"], f["line"], f["rule"], f["severity"], f["message"]) for f in remote["findings"]]
    assert code == 1
    assert strip == [("svc.yaml", 1, "policy/main/deny", "error", "web is public"),
                     ("svc.yaml", 3, "policy/main/warn", "warning", "no labels")]
    assert strip == [(f["path"], f["line"], f["rule"], f["severity"], f["message"]) for f in local["findings"]]
    assert server.requests == [("/v1/data/main", {"apiVersion": "v1", "kind": "Service",
                                                  "metadata": {"name": "web"}, "spec": {"type": "LoadBalancer"}})]


def test_server_error_fails_closed(write: Write, tmp_path: Path) -> None:
    write("repo/svc.yaml", REPO)
    failing = _Server(POLICY, fail=True)
    try:
        code, report = run_json(str(tmp_path / "repo"), "--opa-url", failing.url, "--checks", "policy")
    finally:
        failing.close()
    assert code == 2
    assert "HTTP 500" in report["errors"][0]["message"]
    assert report["findings"] == []


def test_unreachable_server_fails_closed(write: Write, tmp_path: Path) -> None:
    write("repo/svc.yaml", REPO)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, report = run_json(str(tmp_path / "repo"), "--opa-url", f"http://127.0.0.1:{port}", "--checks", "policy")
    assert code == 2
    assert "failed: ConnectionError" in report["errors"][0]["message"]


def test_globs_are_refused_remotely(write: Write, tmp_path: Path, server: _Server) -> None:
    write("repo/svc.yaml", REPO)
    code, report = run_json(str(tmp_path / "repo"), "--opa-url", server.url, "--namespace", "team.*",
                            "--checks", "policy")
    assert code == 2
    assert "no globs" in report["errors"][0]["message"]
