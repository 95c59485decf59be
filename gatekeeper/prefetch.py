"""Fast loads of context files made by a child process while the run reads the rest.

A git mode reads most context files from the store, but the files the store may never hold (a
Secret with values, a file holding a detected credential) are loaded again on every run with the
fast loader (``context_cache.quick``): in the 10k-file corpus 625 files, 1.6 MB of YAML and about
0.2 s, a tenth of the pre-commit hook. Which files those are is known before loading starts (the
store's snapshot marks them), so a forked child loads them while the parent reads the store's
records, and streams each file's result back through a pipe in the order the parent reads files.
The parent never waits for the child: a file whose answer has not arrived yet (a child slowed down
on a busy machine) is loaded by the parent itself, so the child can only save time.

The child runs the same code on the same bytes and sends exactly what the fast loader returned
(``marshal`` keeps every type, key and value as built), or that it declined, or nothing it is sure
of; the parent loads any file the child did not answer for itself, so a child that fails, dies or
is slow changes nothing but the time. The values travel only through the pipe between the two
processes (no file, no log); the child never writes anything else, never runs the parent's exit
handlers (``os._exit``), and is killed and reaped when the run no longer needs it.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import os
import signal
import struct
import weakref
from collections.abc import Sequence
from typing import Any

from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.render import fastload
from gatekeeper.sources.yamlload import decode

Loaded = list[tuple[Any, tuple[int, int]]]  # what ``fastload.load_documents`` gives a file
_HEADER = struct.Struct("<cI")  # a frame: its kind and the length of its payload
_VALUE, _DECLINED, _UNKNOWN = b"V", b"D", b"U"
_PIPE_SIZE = 1 << 20  # the child may run this far ahead of the parent (Linux caps it at pipe-max-size)
_F_SETPIPE_SZ = 1031  # fcntl's F_SETPIPE_SZ (Linux; named in fcntl only from Python 3.10 on some builds)
MIN_FILES = 32  # fewer files are loaded in the parent: a fork is not worth it


class Answer:
    """What the child said about one file: ``known`` False means load it yourself."""

    __slots__ = ("found", "known")

    def __init__(self, known: bool, found: Loaded | None = None) -> None:
        self.known = known
        self.found = found


UNANSWERED = Answer(False)


class Prefetch:
    """A child loading ``sources`` in order; :meth:`take` gives one file's result."""

    def __init__(self, sources: Sequence[SourceFile]) -> None:
        self._index = {s.path: i for i, s in enumerate(sources)}
        self._data = [s.data for s in sources]
        self._frames: list[Answer] = []
        self._buffer = bytearray()
        self._fd: int | None = None
        self._pid: int | None = None
        read, write = os.pipe()
        with contextlib.suppress(OSError):
            import fcntl

            fcntl.fcntl(write, _F_SETPIPE_SZ, _PIPE_SIZE)
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return
        if pid == 0:  # the child: load, stream, exit without touching anything of the parent's
            os.close(read)
            _child(sources, write)
        os.close(write)
        self._fd, self._pid = read, pid
        self._reaper = weakref.finalize(self, _reap, pid, read)

    @classmethod
    def start(cls, sources: Sequence[SourceFile]) -> Prefetch | None:
        """A child for ``sources`` (None: too few to be worth a process, or no ``fork`` here)."""
        if len(sources) < MIN_FILES or not hasattr(os, "fork"):
            return None
        prefetch = cls(sources)
        return prefetch if prefetch._pid is not None else None

    def take(self, source: SourceFile, wait: bool = False) -> Answer:
        """The child's result for ``source`` (the same path and bytes it was given); ``UNANSWERED``
        when it cannot say, or has not said yet (with ``wait``: until the child has said it or ended)."""
        at = self._index.get(source.path)
        if at is None or (self._data[at] is not source.data and self._data[at] != source.data):
            return UNANSWERED
        while len(self._frames) <= at:
            if not self._receive(wait):
                return UNANSWERED
        return self._frames[at]

    def _receive(self, wait: bool) -> bool:
        """Read what the pipe holds and decode every whole frame; False when nothing has arrived (and
        ``wait`` is off), at the end of the stream, or on any problem (the child is then done with)."""
        if self._fd is None:
            return False
        try:
            os.set_blocking(self._fd, wait)
            chunk = os.read(self._fd, _PIPE_SIZE)
        except BlockingIOError:
            return False
        except OSError:
            chunk = b""
        if not chunk:
            self.close()
            return False
        self._buffer += chunk
        while len(self._buffer) >= _HEADER.size:
            kind, size = _HEADER.unpack_from(self._buffer)
            if len(self._buffer) < _HEADER.size + size:
                break
            payload = bytes(self._buffer[_HEADER.size:_HEADER.size + size])
            del self._buffer[:_HEADER.size + size]
            self._frames.append(_answer(kind, payload))
        return True

    def close(self) -> None:
        """Stop the child (if it still runs) and reap it; later :meth:`take` calls answer nothing."""
        if self._fd is not None:
            self._reaper()
            self._fd = None


def _answer(kind: bytes, payload: bytes) -> Answer:
    if kind == _DECLINED:
        return Answer(True, None)
    if kind != _VALUE:
        return UNANSWERED
    try:
        found = marshal.loads(payload)
    except (ValueError, EOFError, TypeError):
        return UNANSWERED
    return Answer(True, found) if isinstance(found, list) else UNANSWERED


def _child(sources: Sequence[SourceFile], fd: int) -> None:
    """The child's whole life: one frame per source, in order; it ends here whatever happens."""
    try:
        gc.disable()  # a collection would walk (and copy) every page inherited from the parent
        for source in sources:
            kind, payload = _UNKNOWN, b""
            try:
                text, problem = decode(source)
                found = fastload.load_documents(text) if problem is None and text is not None else None
                kind, payload = (_VALUE, marshal.dumps(found)) if found is not None else (_DECLINED, b"")
            except Exception:  # the parent loads this file itself
                kind, payload = _UNKNOWN, b""
            frame = _HEADER.pack(kind, len(payload)) + payload
            while frame:
                frame = frame[os.write(fd, frame):]
    except BaseException:  # a broken pipe (the parent is done) or anything else: just end
        pass
    finally:
        os._exit(0)


def _reap(pid: int, fd: int) -> None:
    """Kill the child if it still runs, wait for it, close the pipe."""
    with contextlib.suppress(OSError):
        os.close(fd)
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.waitpid(pid, 0)
