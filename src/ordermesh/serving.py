"""Serving the API from several processes, each listening on a socket of its own.

uvicorn's own workers share one listening socket, and the process that wakes first accepts every
connection waiting: a client that opens its connections at once (a load balancer's pool, a load
generator) can land them all on one process while the others idle. Here each process binds the same
address with SO_REUSEPORT, so the kernel spreads new connections evenly across them.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import socket
from types import FrameType

import uvicorn

APP = "ordermesh.app:create_app"
BACKLOG = 2048


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port) that other sockets of this user may share (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


def serve(host: str, port: int, workers: int) -> int:
    """Run `workers` server processes on (host, port) until SIGINT or SIGTERM, or until one of them exits.

    Every socket listens before any process starts, so connections are spread from the first one on:
    those reaching a process still starting up wait in its backlog. Returns the exit status: 0 after a
    signal, 1 when a process ended on its own (the others are stopped with it).
    """
    first = listening_socket(host, port)
    sockets = [first, *(listening_socket(host, first.getsockname()[1]) for _ in range(workers - 1))]
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_serve_one, args=(sock,), daemon=True) for sock in sockets]
    for process in processes:
        process.start()
    signalled = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal signalled
        signalled = True
        _terminate(processes)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        multiprocessing.connection.wait([process.sentinel for process in processes])
    finally:
        _terminate(processes)
        for process in processes:
            process.join()
        for sock in sockets:
            sock.close()
    return 0 if signalled else 1


def _terminate(processes: list[multiprocessing.process.BaseProcess]) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight


def _serve_one(sock: socket.socket) -> None:
    config = uvicorn.Config(APP, factory=True, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])
