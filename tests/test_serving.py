"""`ordermesh serve --workers N`: every process listens on a socket of its own, and connections are
spread across them even when a client opens them all at once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from ordermesh.serving import MAX_QUICK_DEATHS, restart_delay
from tests.processes import children, command_line, is_running, wait_gone
from tests.waiting import wait_until

CLI = Path(sys.executable).parent / "ordermesh"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _workers(server_pid: int) -> list[int]:
    """The server processes `serve` started (not multiprocessing's resource tracker)."""
    return [pid for pid in children(server_pid) if "spawn_main" in command_line(pid)]


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _connections_held(pids: list[int], port: int) -> Counter[int]:
    """How many established connections to `port` each process holds, from /proc."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":  # ESTABLISHED
                inodes.add(fields[9])
    held: Counter[int] = Counter()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held[pid] += 1
    return held


@pytest.fixture
def two_workers(tmp_path: Path):  # type: ignore[no-untyped-def]
    """`ordermesh serve --workers 2`, up and answering; stopped (SIGTERM) afterwards, and its workers
    seen gone, whatever the test did to it."""
    port = _free_port()
    env = {**os.environ, "ORDERMESH_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
    command = [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started: set[int] = set()
    try:
        wait_until(
            lambda: started.update(_workers(server.pid)) or len(started) == 2,
            timeout=60,
            what="both workers to start",
        )
        wait_until(lambda: _answers(port), timeout=60, what="the server to answer /healthz")
        yield server, port
    finally:
        started.update(_workers(server.pid))
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        server.stderr.close()
        assert not wait_gone(sorted(started), timeout=30), "workers outlived their server"


def test_connections_opened_at_once_are_spread_over_the_workers(two_workers) -> None:  # type: ignore[no-untyped-def]
    server, port = two_workers
    workers = _workers(server.pid)
    assert len(workers) == 2
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
    try:
        wait_until(
            lambda: sum(_connections_held(workers, port).values()) == 16,
            timeout=20,
            what="the 16 connections to be accepted",
        )
        held = _connections_held(workers, port)
        # The kernel spreads connections by a hash of their addresses: all 16 on one of two
        # processes would happen about once in 30,000 runs.
        assert sum(held.values()) == 16
        assert all(held[pid] >= 1 for pid in workers), held
    finally:
        for client in clients:
            client.close()


def test_sigterm_stops_every_worker(two_workers) -> None:  # type: ignore[no-untyped-def]
    server, _port = two_workers
    workers = _workers(server.pid)
    assert len(workers) == 2
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    assert not [pid for pid in workers if is_running(pid)]


def test_a_worker_that_dies_is_replaced_while_the_other_keeps_serving(two_workers) -> None:  # type: ignore[no-untyped-def]
    server, port = two_workers
    killed, survivor = _workers(server.pid)
    os.kill(killed, signal.SIGKILL)
    # Every request is answered meanwhile: by the survivor, or (a connection the kernel gave the dead
    # worker's socket, which the server keeps open) by the replacement, once it has started.
    url = f"http://127.0.0.1:{port}/healthz"
    fresh = {"Connection": "close"}  # a new connection each time, spread over both sockets
    with httpx.Client(timeout=60) as http:
        replaced: list[int] = []
        while not replaced:
            assert http.get(url, headers=fresh).status_code == 200
            replaced = [pid for pid in _workers(server.pid) if pid not in (killed, survivor)]
        answers = [http.get(url, headers=fresh).status_code for _ in range(20)]
    assert answers == [200] * 20
    assert server.poll() is None
    assert sorted(_workers(server.pid)) == sorted([survivor, *replaced])


def test_workers_end_when_the_server_is_killed_with_sigkill(two_workers) -> None:  # type: ignore[no-untyped-def]
    server, _port = two_workers
    workers = _workers(server.pid)
    assert len(workers) == 2
    server.kill()
    server.wait()
    assert not wait_gone(workers, timeout=30)


def test_a_worker_that_keeps_dying_as_it_starts_is_restarted_ever_later_then_given_up() -> None:
    delays = [restart_delay(quick_deaths) for quick_deaths in range(MAX_QUICK_DEATHS + 1)]
    assert delays == [0.0, 0.5, 1.0, 2.0, 4.0, None]
