"""A hard time limit for one document's extraction: the work runs in a reusable child process.

pdfminer can spend minutes inside one pathological page (a content stream with hundreds of thousands
of text objects, a broken stream it keeps re-scanning), and a check between pages cannot stop that.
So the work for one document is sent to a child process and the caller waits at most `timeout_s`:
- on time: the child's answer (or the exception it raised, re-raised here) comes back; the child
  stays up for the next document, so pdfminer is imported once per child, not per document;
- too slow: the child is killed and ExtractError("... exceeded Ns ...") is raised (-> quarantine);
  the next document gets a fresh child;
- the child dies (segfault, OOM killer, os._exit) or runs out of memory: ExtractError as well.
Each child caps its own address space (current size + CHILD_MEMORY_BYTES) so a runaway document
fails with MemoryError in the child instead of pressing the whole worker machine.

A child is a fresh `python -c` subprocess (never a fork: Beam workers are threaded; not
multiprocessing's spawn either, which re-runs the parent's __main__ script) that exits when its
parent does. Children are kept in a small per-process pool, one per concurrent caller, so Beam's
multi-threaded runner gets one child per busy thread. Nothing here is pickled into a DoFn: the pool
is module state, rebuilt after a fork.

Isolation modes: "process" (the default) or "inline" (run in the calling process, limit checked
only between pages), chosen by the GAP_PDF_ISOLATION environment variable, else
`options.pdf_isolation` when the options carry it. Where no child can be started (a sandbox without
subprocesses, no Python executable) the call falls back to inline with a logged warning.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any, Callable

from transforms.extract.errors import ExtractError

ISOLATION_ENV = "GAP_PDF_ISOLATION"
ISOLATION_MODES = ("process", "inline")
STARTUP_TIMEOUT_S = 120.0     # starting Python + importing the work's modules, not charged to a document
CHILD_MEMORY_BYTES = 4 << 30  # address space a child may add on top of its size after start-up
_PRELOAD = ("transforms.extract.pdf",)  # imported once per child, before the first document

_log = logging.getLogger(__name__)


def isolation_mode(options: Any = None) -> str:
    """"process" or "inline": the environment variable wins, then `options.pdf_isolation`."""
    mode = os.environ.get(ISOLATION_ENV) or getattr(options, "pdf_isolation", None) or "process"
    if mode not in ISOLATION_MODES:
        raise ValueError(f"PDF isolation mode {mode!r} is not one of {ISOLATION_MODES} "
                         f"(set by {ISOLATION_ENV} or extract.pdf_isolation)")
    return mode


# ---------------------------------------------------------------------------------------------------
# The child

def _cap_address_space(extra_bytes: int) -> None:
    try:
        import resource
        with open("/proc/self/statm") as statm:
            current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = current + extra_bytes
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, OSError, ValueError):
        pass  # not Linux: no cap, the time limit still holds


def _watch_parent(parent_pid: int) -> None:
    """Exit when the parent is gone, even in the middle of a stuck document."""
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(0)


def child_main(fd: int, parent_pid: int, preload: tuple[str, ...], memory_bytes: int) -> None:
    """Child main loop: (func, args, kwargs) in, ("ok", result) or ("raise", exception) out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    conn = Connection(fd)
    for name in preload:
        __import__(name)
    _cap_address_space(memory_bytes)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the parent went away
        if job is None:
            return
        func, args, kwargs = job
        try:
            answer = ("ok", func(*args, **kwargs))
        except MemoryError:
            answer = ("raise", ExtractError(f"out of memory (child cap {memory_bytes >> 20} MiB)"))
        except Exception as exc:  # re-raised in the parent, so both modes fail the same way
            answer = ("raise", exc)
        try:
            payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            payload = pickle.dumps(("raise", ExtractError(
                f"unpicklable result from the child: {type(exc).__name__}: {exc}")))
        del answer
        conn.send_bytes(payload)


# ---------------------------------------------------------------------------------------------------
# The parent's handle on one child

class ChildUnavailable(RuntimeError):
    """No child process can be started here."""


_BOOT = ("import sys, json; sys.path[:0] = json.loads(sys.argv[1]); "
         "from transforms.extract.pdf_guard import child_main; "
         "child_main(int(sys.argv[2]), int(sys.argv[3]), tuple(json.loads(sys.argv[4])), int(sys.argv[5]))")


class _Child:
    """A plain `python -c` subprocess (not multiprocessing: its spawn/forkserver re-run the parent's
    __main__ script in the child, which breaks under stdin scripts, notebooks and unguarded mains)
    talking pickles over a socketpair."""

    def __init__(self, preload: tuple[str, ...] = _PRELOAD, memory_bytes: int = CHILD_MEMORY_BYTES):
        self.owner = os.getpid()
        ours, theirs = socket.socketpair()
        # Blocking, whatever socket.setdefaulttimeout() says: a timeout makes the descriptors non-blocking
        # (Beam's GCP auth sets a 60 s default), and the pickled Connection then fails with EAGAIN on any
        # message larger than the socket buffer, i.e. any real PDF.
        ours.setblocking(True)
        theirs.setblocking(True)
        try:
            self.process = subprocess.Popen(
                [sys.executable or "python3", "-c", _BOOT, json.dumps([p for p in sys.path if p]),
                 str(theirs.fileno()), str(os.getpid()), json.dumps(list(preload)), str(memory_bytes)],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, close_fds=True)
        except (OSError, ValueError) as exc:  # no executable, fork limits, sandbox...
            ours.close()
            raise ChildUnavailable(f"{type(exc).__name__}: {exc}") from exc
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        try:
            ready = self.conn.poll(STARTUP_TIMEOUT_S) and self.conn.recv()
        except (EOFError, OSError):
            ready = None
        if not ready or ready[0] != "ready":
            description = self._exit_description()
            self.kill()
            raise ChildUnavailable(f"extraction child did not start ({description})")

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.conn.close()

    def close(self) -> None:
        try:
            self.conn.send(None)
            self.process.wait(2)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def _exit_description(self) -> str:
        try:
            code = self.process.wait(2)
        except subprocess.TimeoutExpired:
            return "still running"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def call(self, func: Callable, args: tuple, kwargs: dict, timeout_s: float, what: str) -> tuple[str, Any]:
        """("ok", result) or ("raise", exception) from the child within timeout_s; otherwise the
        child is killed and ExtractError raised."""
        self.conn.send((func, args, kwargs))  # BrokenPipeError: the caller retries on a fresh child
        if not self.conn.poll(timeout_s):
            self.kill()
            raise ExtractError(f"{what} exceeded {timeout_s}s (pdf_timeout_s); child process stopped")
        try:
            kind, payload = pickle.loads(self.conn.recv_bytes())
        except (EOFError, OSError):
            description = self._exit_description()
            self.kill()
            raise ExtractError(f"{what} crashed: child process died ({description}; "
                               "a parser crash or out of memory)") from None
        return kind, payload


# ---------------------------------------------------------------------------------------------------
# The pool: one idle child per concurrent caller, kept across documents

_lock = threading.Lock()
_idle: list[_Child] = []
_unavailable = ""  # why no child can be started in this process: then every call runs inline


def _forget_inherited() -> None:
    """After a fork the parent's children are not ours: start afresh (without touching them)."""
    global _lock, _idle
    _lock = threading.Lock()
    _idle = []


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited)


def _acquire() -> _Child:
    with _lock:
        while _idle:
            child = _idle.pop()
            if child.alive():
                return child
            if child.owner == os.getpid():
                child.kill()
    return _Child()


def _release(child: _Child) -> None:
    with _lock:
        _idle.append(child)


def shutdown() -> None:
    """Stop every idle child (at exit, or in tests)."""
    with _lock:
        children, _idle[:] = list(_idle), []
    for child in children:
        if child.owner == os.getpid():
            child.close()


def idle_children() -> int:
    with _lock:
        return len(_idle)


atexit.register(shutdown)


def run_limited(func: Callable, args: tuple = (), kwargs: dict | None = None, *, timeout_s: float,
                mode: str = "process", what: str = "PDF extraction") -> Any:
    """func(*args, **kwargs), with a hard wall-clock limit in "process" mode (see the module doc).
    `func` must be a module-level function (it is pickled by reference into the child)."""
    kwargs = kwargs or {}
    global _unavailable
    if mode not in ISOLATION_MODES:
        raise ValueError(f"PDF isolation mode {mode!r} is not one of {ISOLATION_MODES}")
    if mode == "process" and timeout_s <= 0:
        raise ExtractError(f"{what} exceeded {timeout_s}s (pdf_timeout_s); nothing was run")
    if mode == "process" and not _unavailable:
        for attempt in (1, 2):
            try:
                child = _acquire()
            except ChildUnavailable as exc:
                _unavailable = str(exc)  # not retried per document: a start can take seconds to fail
                _log.warning("cannot start an extraction child (%s): extracting in-process, "
                             "time limit checked between pages only", exc)
                break
            try:
                kind, payload = child.call(func, args, kwargs, timeout_s, what)
            except (BrokenPipeError, ConnectionResetError):
                child.kill()  # died while idle: not this document's fault, retry once on a fresh child
                if attempt == 2:
                    raise ExtractError(f"{what} crashed: child process unreachable") from None
                continue
            except BaseException:
                child.kill()  # timeout, crash, or interrupted mid-document: its answer must never be read
                raise
            _release(child)
            if kind == "raise":
                raise payload
            return payload
    return func(*args, **kwargs)


__all__ = ["run_limited", "isolation_mode", "shutdown", "idle_children", "ISOLATION_ENV", "ISOLATION_MODES"]
