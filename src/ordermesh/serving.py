"""Serving the API from several processes, each listening on a socket of its own, under a supervisor.

uvicorn's own workers share one listening socket, and the process that wakes first accepts every
connection waiting: a client that opens its connections at once (a load balancer's pool, a load
generator) can land them all on one process while the others idle. Here each process binds the same
address with SO_REUSEPORT, so the kernel spreads new connections evenly across them.

The parent supervises them, as gunicorn's arbiter does: a worker that dies is replaced on the same
socket (the parent keeps every socket open, so connections the kernel hands to it wait in its backlog
for the replacement) while the others keep serving. Workers end with the parent, even when it is killed
with SIGKILL: each asks the kernel for SIGTERM when its parent dies (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

from ordermesh.config import get_settings

APP = "ordermesh.app:create_app"
BACKLOG = 2048
# A worker that dies sooner than this after starting died "quickly": it is restarted after a growing
# delay, and the server gives up when one keeps dying quickly (it cannot start: a broken install).
QUICK_DEATH_SECONDS = 10.0
MAX_QUICK_DEATHS = 5
PR_SET_PDEATHSIG = 1


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port) that other sockets of this user may share (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


def restart_delay(quick_deaths: int) -> float | None:
    """Seconds to wait before restarting a worker that died after `quick_deaths` quick deaths in a row;
    None: give up. A worker that had been up for a while is replaced at once."""
    if quick_deaths >= MAX_QUICK_DEATHS:
        return None
    return 0.0 if quick_deaths == 0 else min(0.5 * 2 ** (quick_deaths - 1), 5.0)


@dataclass
class _Slot:
    """One socket and the worker serving it."""

    sock: socket.socket
    process: BaseProcess
    started: float
    quick_deaths: int = 0


def serve(host: str, port: int, workers: int, *, say: Callable[[str], None] = print) -> int:
    """Run `workers` server processes on (host, port) until SIGINT or SIGTERM, replacing any that dies.

    Every socket listens before any process starts, so connections are spread from the first one on:
    those reaching a process still starting up wait in its backlog. Returns the exit status: 0 after a
    signal, 1 when a worker kept dying right after starting (the others are stopped with it).
    """
    first = listening_socket(host, port)
    sockets = [first, *(listening_socket(host, first.getsockname()[1]) for _ in range(workers - 1))]
    context = multiprocessing.get_context("spawn")
    parent = os.getpid()

    def start(sock: socket.socket) -> BaseProcess:
        process = context.Process(target=_serve_one, args=(sock, parent), daemon=True)
        process.start()
        return process

    slots = [_Slot(sock, start(sock), time.monotonic()) for sock in sockets]
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        _terminate([slot.process for slot in slots])

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        return 0 if _supervise(slots, start, stopping, say) else 1
    finally:
        _terminate([slot.process for slot in slots])
        for slot in slots:
            slot.process.join()
        for sock in sockets:
            sock.close()


def _supervise(
    slots: list[_Slot],
    start: Callable[[socket.socket], BaseProcess],
    stopping: threading.Event,
    say: Callable[[str], None],
) -> bool:
    """Replace workers as they die until a signal (True) or one keeps dying as it starts (False)."""
    while not stopping.is_set():
        multiprocessing.connection.wait([slot.process.sentinel for slot in slots])
        for slot in slots:
            if stopping.is_set():
                return True
            if slot.process.is_alive():
                continue
            lived = time.monotonic() - slot.started
            slot.quick_deaths = slot.quick_deaths + 1 if lived < QUICK_DEATH_SECONDS else 0
            delay = restart_delay(slot.quick_deaths)
            code = slot.process.exitcode
            if delay is None:
                say(
                    f"worker {slot.process.pid} ended ({code}) {slot.quick_deaths} times in a row"
                    " right after starting; giving up"
                )
                return False
            say(f"worker {slot.process.pid} ended ({code}) after {lived:.1f} s; starting another")
            slot.process.join()
            if stopping.wait(delay):
                return True
            slot.process, slot.started = start(slot.sock), time.monotonic()
    return True


def _terminate(processes: list[BaseProcess]) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight


def _end_with_parent(parent: int) -> None:
    """Have this process sent SIGTERM when `parent` dies, however it dies."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    else:  # elsewhere a thread watches for the parent to go (the process is then re-parented)
        threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()
    if os.getppid() != parent:  # it died before the request above: no signal will come
        os.kill(os.getpid(), signal.SIGTERM)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)


def _serve_one(sock: socket.socket, parent: int) -> None:
    _end_with_parent(parent)
    deadline = get_settings().request_deadline_seconds
    config = uvicorn.Config(
        APP,
        factory=True,
        log_level="warning",
        # SIGTERM lets the requests in flight finish: they are bounded by their deadline anyway.
        timeout_graceful_shutdown=int(deadline) + 5 if deadline > 0 else None,
    )
    uvicorn.Server(config).run(sockets=[sock])
