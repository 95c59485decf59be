"""Limits and isolation for renderer processes: time, memory, output size, environment, no network.

A renderer runs in a temporary directory that holds only the unit's inputs, with a scrubbed
environment (its own HOME, no kubeconfig, proxies pointed at a closed local port, git told to
allow no transport), a wall-clock limit, a cap on the bytes it may write and a memory limit.

The memory limit is ``RLIMIT_DATA``: the memory a process can write to (heap, anonymous maps,
thread stacks). ``RLIMIT_AS`` would count address space the Go runtime of both renderers
reserves without using (over 700 MB before kubectl or the Helm SDK allocate anything), so a cap
that stops a runaway template would leave little for real work. The Go runtime is also told
the limit (``GOMEMLIMIT``, three quarters of it), so it collects garbage harder before it gets
there instead of failing a render that fits. A renderer that hits the limit is ``render-limit``.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

RENDER_TIMEOUT = 60.0  # seconds per render
MAX_OUTPUT = 64 * 1024 * 1024  # bytes of rendered YAML per unit
MAX_MEMORY_MB = 1536  # MiB a renderer process may allocate (GATEKEEPER_RENDER_MEMORY overrides)
MEMORY_ENV = "GATEKEEPER_RENDER_MEMORY"
DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, a connection fails at once


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a renderer process did: exit status, output, error text, and a limit it hit (or None)."""

    returncode: int
    stdout: bytes
    stderr: str
    limit: str | None = None


def max_memory() -> int:
    """MiB a renderer process may allocate: ``$GATEKEEPER_RENDER_MEMORY``, else the default.
    Raises ValueError with a message for a value that is not a whole number of at least 64."""
    raw = os.environ.get(MEMORY_ENV, "").strip()
    if not raw:
        return MAX_MEMORY_MB
    if not raw.isdigit() or int(raw) < 64:
        raise ValueError(f"{MEMORY_ENV} must be a whole number of MiB, at least 64 (got {raw[:40]!r})")
    return int(raw)


_OUT_OF_MEMORY = ("out of memory", "cannot allocate memory", "MemoryError", "pthread_create failed",
                  "failed to reserve page summary memory")

_RUNTIME_FAULT = ("SIGSEGV", "fatal error:", "unexpected signal during runtime execution")


WORK_PREFIX = "gatekeeper-render-"  # the name every renderer work directory's root starts with
_WORK_PATH = re.compile(r"[^\s'\"]*" + WORK_PREFIX + r"[^\s'\"/]*(?:/u\d+)?(?:/repo(?=/|[\s'\"]|$))?/?")


def strip_workdir(text: str, repo: Path) -> str:
    """A renderer's message with its work directory taken out: a path in the copy of the
    repository (``repo``) becomes the repository path, a path beside it is named by ``../``
    (outside the repository), and any other mention of a work directory is dropped."""
    for root in {str(repo), os.path.realpath(repo)}:
        text = text.replace(root + "/", "").replace(root, ".")
    for root in {str(repo.parent), os.path.realpath(repo.parent)}:
        text = text.replace(root + "/", "../")
    return _WORK_PATH.sub(lambda m: "../" if not m.group(0).endswith("/repo/") else "", text)


def scratch_root() -> str | None:
    """Where renderer work directories go: a memory file system when the machine has one
    (``/dev/shm``; copying a thousand units' inputs in and out of a disk costs more than
    rendering them), else the default temporary directory."""
    shm = "/dev/shm"
    if "TMPDIR" not in os.environ and os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return None


def sandbox_env(home: Path) -> dict[str, str]:
    """The environment a renderer sees: nothing of the user's but PATH and the locale."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")}
    plugins = home / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    env.update({
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local"), "KUBECONFIG": os.devnull,
        "HTTP_PROXY": DEAD_PROXY, "HTTPS_PROXY": DEAD_PROXY, "ALL_PROXY": DEAD_PROXY,
        "http_proxy": DEAD_PROXY, "https_proxy": DEAD_PROXY, "all_proxy": DEAD_PROXY, "NO_PROXY": "", "no_proxy": "",
        "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ALLOW_PROTOCOL": "none", "KUSTOMIZE_PLUGIN_HOME": str(plugins),
        "HELM_CACHE_HOME": str(home / "helm-cache"), "HELM_CONFIG_HOME": str(home / "helm-config"),
        "HELM_DATA_HOME": str(home / "helm-data"), "HELM_PLUGINS": str(plugins),
        "PYTHONDONTWRITEBYTECODE": "1",  # the Helm worker is Python: bytecode cut short by the cap breaks imports
        "GOGC": "400",  # the Go renderers collect garbage less often: a fifth less CPU on a batch of overlays
    })
    return env


def _shell() -> str | None:
    """``/bin/sh``, which sets the output cap (``ulimit -f``) before it execs the renderer.

    Setting the cap in the child through ``preexec_fn`` makes Python fork the whole gate, page
    tables and all, instead of spawning: with the parsed tree of a large repository in memory that
    is over 0.1 s per renderer process, during which the interpreter stops. The shell counts in
    512- or 1024-byte blocks depending on the shell, so the cap is between one and two times the
    limit; the size check after the run holds the limit exactly."""
    return "/bin/sh" if os.access("/bin/sh", os.X_OK) else None


def _limit(max_output: int, memory_mb: int) -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_output, max_output))
    resource.setrlimit(resource.RLIMIT_DATA, (memory_mb * 2**20, memory_mb * 2**20))


def run(argv: Sequence[str], cwd: Path, env: dict[str, str], *, timeout: float = RENDER_TIMEOUT,
        max_output: int = MAX_OUTPUT, memory_mb: int | None = None, stdin: bytes | None = None) -> Outcome:
    """Run a renderer with its stdout in a size-capped file, a memory limit (default:
    :func:`max_memory`) and a wall-clock limit (the whole process group is killed on timeout)."""
    if memory_mb is None:
        try:
            memory_mb = max_memory()
        except ValueError as exc:
            return Outcome(-1, b"", "", limit=f"was not started: {exc}")
    out_path = cwd.parent / f".out-{os.getpid()}-{id(argv)}"
    shell = _shell()
    env = {**env, "GOMEMLIMIT": f"{memory_mb * 3 // 4}MiB"}
    with open(out_path, "wb") as out:
        try:
            if shell is not None:  # the caps set by the shell: the gate's process is not forked (see _shell)
                blocks = str(max_output // 512 + 1)
                proc = subprocess.Popen([shell, "-c", 'ulimit -f "$0" && ulimit -d "$1" && shift && exec "$@"',
                                         blocks, str(memory_mb * 1024), *argv], cwd=cwd,
                                        env=env, stdout=out, stderr=subprocess.PIPE,
                                        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                        start_new_session=True)
            else:
                proc = subprocess.Popen(list(argv), cwd=cwd, env=env, stdout=out, stderr=subprocess.PIPE,
                                        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                        start_new_session=True, preexec_fn=lambda: _limit(max_output, memory_mb))
        except OSError as exc:
            return Outcome(127, b"", f"cannot start {argv[0]}: {exc.strerror or exc}")
        try:
            _, err = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            proc.communicate()
            return Outcome(-1, b"", "", limit=f"took longer than {timeout:g} s")
    try:
        size = out_path.stat().st_size
        data = out_path.read_bytes() if size < max_output else b""
    finally:
        out_path.unlink(missing_ok=True)
    if size >= max_output or proc.returncode == -signal.SIGXFSZ:
        return Outcome(proc.returncode, b"", "", limit=f"wrote more than {max_output // (1024 * 1024)} MiB")
    text = err.decode("utf-8", "replace")
    if proc.returncode != 0 and any(mark in text for mark in _OUT_OF_MEMORY):
        return Outcome(proc.returncode, b"", "", limit=f"needed more than {memory_mb} MiB of memory")
    if proc.returncode != 0 and "goroutine " in text and any(mark in text for mark in _RUNTIME_FAULT):
        # The Go runtime may fault instead of reporting an allocation it could not make
        return Outcome(proc.returncode, b"", "",
                       limit=f"crashed (a runtime fault; the memory limit is {memory_mb} MiB)")
    return Outcome(proc.returncode, data, text)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
