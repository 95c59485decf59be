"""A hard boundary around policy evaluation: forked worker processes with limits.

Policies are code from the repository under review, and a Rego engine is native code: a policy
can loop, allocate without bound, recurse until the stack overflows, or hit an engine bug that
crashes. None of that may hang CI or end the gate with a signal. Evaluations therefore run in
worker processes forked from the gate (so they inherit the compiled policies, the inventory and
the loaded objects without copying them), each with

* a **time limit per evaluation**: the worker records in shared memory which task and step it is
  on and since when; the parent kills a worker whose current step runs too long;
* a **memory limit**: ``RLIMIT_AS`` in the worker, counted on top of what it inherited;
* crash detection: a worker that dies (segmentation fault, abort, killed) ends the run.

Every such event becomes a ``BoundaryError`` that names the task (the policy and the object,
from the caller's ``describe``) and never quotes what the worker printed; a blown limit (CPU time,
memory, nesting) is a ``LimitExceeded``, which also carries the step and the results completed so
far, for callers that report it as the policy's result and go on. The same workers give
parallelism: tasks are handed out in batches to ``jobs`` workers. Nothing here is particular to
Rego: the kyverno check and ``kyverno test`` files in verify evaluate behind the same boundary,
with the same limits.
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import mmap
import os
import pickle
import resource
import select
import signal
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

R = TypeVar("R")
# A worker's slot: sequence number (odd while being written), task index (-1: idle), step, start
# (time.monotonic) and the worker's CPU time at the start. A writer can be preempted half-way, so the
# reader only trusts a slot whose sequence number is even and unchanged across the read.
_SLOT = struct.Struct("<qqqdd")
_SEQ = struct.Struct("<q")
_FIELDS = struct.Struct("<qqdd")
_LEN = struct.Struct("<Q")
_POLL = 0.05
_TICKS = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
_STALL_FACTOR = 10  # a step that makes no progress for this many timeouts (plus the grace) is stuck
_STALL_GRACE = 60.0

DEFAULT_TIMEOUT = 10.0
DEFAULT_MEMORY_MB = 2048
DEFAULT_MAX_DEPTH = 100


def default_jobs() -> int:
    """The machine's cores (as this process may use them)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits for one run's evaluations (all configurable)."""

    timeout: float = DEFAULT_TIMEOUT  # seconds per evaluation step
    memory_mb: int = DEFAULT_MEMORY_MB  # address space a worker may add to what it inherited
    max_depth: int = DEFAULT_MAX_DEPTH  # nesting of values handed to policies (checked by callers)
    jobs: int = 0  # workers; 0 means the machine's cores

    def workers(self, tasks: int, batch: int) -> int:
        wanted = self.jobs if self.jobs > 0 else default_jobs()
        return max(1, min(wanted, (tasks + batch - 1) // batch))


class BoundaryError(Exception):
    """An evaluation that took too long, ran out of memory or crashed its worker."""


class LimitExceeded(BoundaryError):
    """An evaluation ran past the CPU-time limit, the memory limit or the nesting bound: the
    policy's fault, not the gate's. Carries the task (``index``), the step it was on, the reason,
    and the results of the tasks that had completed (``done``), so a caller can report the step
    that blew the limit and evaluate the rest without it."""

    def __init__(self, message: str, index: int, step: int, reason: str, done: dict[int, Any]) -> None:
        super().__init__(message)
        self.index, self.step, self.reason, self.done = index, step, reason, dict(done)


class Mark:
    """Given to the work function: ``mark(step)`` records that a new evaluation step starts, so
    the time limit applies per step and a failure names it."""

    def __init__(self, shm: mmap.mmap, offset: int) -> None:
        self._shm = shm
        self._offset = offset
        self._seq = 0
        self._started = 0.0
        self._cpu = 0.0
        self.index = -1
        self.current = 0  # the step last recorded (a failure inside the work names it)

    def __call__(self, step: int) -> None:
        self._started, self._cpu = time.monotonic(), time.process_time()
        self.write(self.index, step, self._started, self._cpu)

    def step(self, step: int) -> None:
        """Record which step runs without starting its own clock: the time limit spans the task
        (cheaper than ``mark(step)``, for many short steps), and a failure names the step."""
        self.write(self.index, step, self._started, self._cpu)

    def write(self, index: int, step: int, started: float, cpu: float) -> None:
        self.current = step
        self._seq += 1
        _SEQ.pack_into(self._shm, self._offset, self._seq)
        _FIELDS.pack_into(self._shm, self._offset + _SEQ.size, index, step, started, cpu)
        self._seq += 1
        _SEQ.pack_into(self._shm, self._offset, self._seq)


def _read_slot(shm: mmap.mmap, offset: int) -> tuple[int, int, float, float] | None:
    """(index, step, started, cpu) of a slot, or None while it is being written."""
    seq, index, step, started, cpu = _SLOT.unpack_from(shm, offset)
    if seq % 2 or _SEQ.unpack_from(shm, offset)[0] != seq:
        return None
    return index, step, started, cpu


@dataclass(slots=True)
class _Worker:
    pid: int
    tasks: int  # write end
    results: int  # read end
    stderr: Any
    slot: int
    busy: list[int] = field(default_factory=list)
    buffer: bytes = b""


def run(count: int, work: Callable[[int, Mark], R], describe: Callable[[int, int], str], limits: Limits,
        background: Callable[[], None] | None = None) -> list[R]:
    """``work(i, mark)`` for every i in range(count) in worker processes; results in order.

    An exception inside ``work`` ends the run with a BoundaryError naming the task (work
    functions return expected failures as values). ``background`` runs in this process while
    the workers evaluate.
    """
    if count <= 0:
        if background is not None:
            background()
        return []
    batch = max(1, min(64, count // (max(1, limits.jobs or default_jobs()) * 8)))
    n = limits.workers(count, batch)
    shm = mmap.mmap(-1, _SLOT.size * n)
    for w in range(n):
        _SLOT.pack_into(shm, w * _SLOT.size, 0, -1, 0, 0.0, 0.0)
    workers: list[_Worker] = []
    results: dict[int, R] = {}
    collecting = gc.isenabled()
    gc.disable()  # a collection here would copy every inherited page the workers share (copy-on-write)
    try:
        for w in range(n):
            workers.append(_spawn(w, shm, work, limits, [fd for x in workers for fd in (x.tasks, x.results)]))
        pending = list(range(count - 1, -1, -1))
        for worker in workers:
            _dispatch(worker, pending, batch)
        if background is not None:
            background()
        _collect(workers, pending, batch, results, shm, describe, limits)
    finally:
        _stop(workers)
        shm.close()
        if collecting:
            gc.enable()
    return [results[i] for i in range(count)]


def _spawn(w: int, shm: mmap.mmap, work: Callable[[int, Mark], Any], limits: Limits, others: list[int]
           ) -> _Worker:
    task_r, task_w = os.pipe()
    result_r, result_w = os.pipe()
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by _stop)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the worker: never returns
        code = 0
        try:
            for fd in (task_w, result_r, *others):  # other workers' pipes: their ends must close with them
                os.close(fd)
            _child(task_r, result_w, stderr, Mark(shm, w * _SLOT.size), work, limits)
        except BaseException:
            code = 70
        finally:
            os._exit(code)
    os.close(task_r)
    os.close(result_w)
    return _Worker(pid, task_w, result_r, stderr, w * _SLOT.size)


def _child(task_r: int, result_w: int, stderr: Any, mark: Mark, work: Callable[[int, Mark], Any],
           limits: Limits) -> None:
    gc.disable()
    faulthandler.disable()  # it writes to the gate's own stderr; a crash is reported by the parent
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.dup2(stderr.fileno(), 2)
    os.dup2(stderr.fileno(), 1)
    _limit_memory(limits.memory_mb)
    reader = os.fdopen(task_r, "rb", buffering=0)
    while True:
        message = _read_message(reader)
        if not message:
            return
        indexes: list[int] = pickle.loads(message)
        out = []
        for index in indexes:
            mark.index = index
            mark(0)
            try:
                out.append((index, True, work(index, mark), 0, False))
            except MemoryError:
                out.append((index, False, "ran out of memory (the policy memory limit was reached)", mark.current,
                            True))
            except RecursionError:
                out.append((index, False, "nested too deeply", mark.current, True))
            except Exception as exc:  # reported by the parent, naming the task
                out.append((index, False, f"{exc.__class__.__name__}: {exc}", mark.current, False))
        mark.write(-1, 0, 0.0, 0.0)
        _write_message(result_w, pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))


def _limit_memory(memory_mb: int) -> None:
    if memory_mb <= 0:
        return
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            inherited = int(f.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        inherited = 0
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = inherited + memory_mb * 2**20
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _read_message(reader: Any) -> bytes:
    head = _read_exact(reader, _LEN.size)
    if len(head) < _LEN.size:
        return b""
    (size,) = _LEN.unpack(head)
    return _read_exact(reader, size)


def _read_exact(reader: Any, size: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = reader.read(size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _write_message(fd: int, payload: bytes) -> None:
    data = _LEN.pack(len(payload)) + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _dispatch(worker: _Worker, pending: list[int], batch: int) -> None:
    indexes = [pending.pop() for _ in range(min(batch, len(pending)))]
    worker.busy = indexes
    if indexes:
        _write_message(worker.tasks, pickle.dumps(indexes))


def _collect(workers: list[_Worker], pending: list[int], batch: int, results: dict[int, Any], shm: mmap.mmap,
             describe: Callable[[int, int], str], limits: Limits) -> None:
    by_fd = {w.results: w for w in workers}
    while any(w.busy for w in workers):
        busy = [w.results for w in workers if w.busy]
        ready, _, _ = select.select(busy, [], [], _POLL)
        for fd in ready:
            worker = by_fd[fd]
            message = _receive(worker)
            if message is None:
                continue
            if message == b"":
                raise BoundaryError(_died(worker, shm, describe, limits))
            for index, ok, value, step, limit in pickle.loads(message):
                if not ok:
                    if limit:
                        raise LimitExceeded(f"{describe(index, step)}: {value}", index, step, value, results)
                    raise BoundaryError(f"{describe(index, step)}: {value}")
                results[index] = value
            _dispatch(worker, pending, batch)
        _watch(workers, shm, describe, limits, results)


def _receive(worker: _Worker) -> bytes | None:
    """A whole message from the worker, None when only part of one has arrived, b"" at EOF."""
    chunk = os.read(worker.results, 1 << 20)
    if not chunk:
        return b""
    worker.buffer += chunk
    while True:
        if len(worker.buffer) < _LEN.size:
            return None
        (size,) = _LEN.unpack_from(worker.buffer)
        if len(worker.buffer) < _LEN.size + size:
            more = os.read(worker.results, _LEN.size + size - len(worker.buffer))
            if not more:
                return b""
            worker.buffer += more
            continue
        message = worker.buffer[_LEN.size:_LEN.size + size]
        worker.buffer = worker.buffer[_LEN.size + size:]
        return message


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used, from /proc; None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, ValueError, IndexError):
        return None


def _watch(workers: list[_Worker], shm: mmap.mmap, describe: Callable[[int, int], str], limits: Limits,
           results: dict[int, Any]) -> None:
    """Kill a worker whose current step used more CPU time than the limit (an evaluation is pure
    computation), or made no progress at all for much longer (blocked in native code). CPU time,
    not wall time, decides: on a loaded or paused machine a worker may wait for a CPU for seconds
    without being at fault."""
    if limits.timeout <= 0:
        return
    now = time.monotonic()
    for worker in workers:
        slot = _read_slot(shm, worker.slot)
        if slot is None:
            continue
        index, step, started, cpu_start = slot
        if index < 0 or now - started <= limits.timeout:
            continue
        cpu = _cpu_seconds(worker.pid)
        stalled = now - started > limits.timeout * _STALL_FACTOR + _STALL_GRACE
        if (cpu is None and not stalled and now - started <= limits.timeout * 2) or \
                (cpu is not None and cpu - cpu_start <= limits.timeout and not stalled):
            continue
        again = _read_slot(shm, worker.slot)
        if again is None or again != slot:
            continue
        _kill(worker)
        if cpu is not None and not stalled:
            reason = (f"used more than {limits.timeout:g} s of CPU time (the policy loops or does unbounded "
                      "work); raise the limit with --policy-timeout or checks.policy.timeout if it is only slow")
            raise LimitExceeded(f"{describe(index, step)}: evaluation {reason}", index, step, f"evaluation {reason}",
                                results)
        reason = f"made no progress for {now - started:.0f} s (the policy engine is stuck)"
        raise BoundaryError(f"{describe(index, step)}: evaluation {reason}")


def _died(worker: _Worker, shm: mmap.mmap, describe: Callable[[int, int], str], limits: Limits) -> str:
    slot = _read_slot(shm, worker.slot)
    index, step = (slot[0], slot[1]) if slot is not None else (-1, 0)
    _, status = os.waitpid(worker.pid, 0)
    worker.pid = 0
    worker.stderr.seek(0, os.SEEK_END)
    size = worker.stderr.tell()
    worker.stderr.seek(max(0, size - 8192))
    tail = worker.stderr.read().decode("utf-8", "replace")
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if "overflowed its stack" in tail or (sig == signal.SIGSEGV and "stack" in tail):
            reason = "recursed too deeply (the engine's stack overflowed)"
        elif "memory allocation" in tail or "MemoryError" in tail:
            reason = f"ran out of memory (limit {limits.memory_mb} MiB; raise it with --policy-memory)"
        elif sig == signal.SIGKILL:
            reason = "was killed (out of memory?)"
        else:
            reason = f"crashed ({signal.Signals(sig).name})"
    else:
        reason = f"ended unexpectedly (exit status {os.WEXITSTATUS(status)})"
    what = describe(index, step) if index >= 0 else "policy evaluation"
    return f"{what}: the policy engine {reason}"


def _kill(worker: _Worker) -> None:
    if worker.pid:
        try:
            os.kill(worker.pid, signal.SIGKILL)
            os.waitpid(worker.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        worker.pid = 0


def _stop(workers: list[_Worker]) -> None:
    for worker in workers:
        for fd in (worker.tasks, worker.results):
            with contextlib.suppress(OSError):
                os.close(fd)
    deadline = time.monotonic() + 2.0
    for worker in workers:
        if not worker.pid:
            worker.stderr.close()
            continue
        while time.monotonic() < deadline:
            pid, _ = os.waitpid(worker.pid, os.WNOHANG)
            if pid:
                worker.pid = 0
                break
            time.sleep(0.005)
        _kill(worker)
        worker.stderr.close()
