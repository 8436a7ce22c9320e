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

from tests.waiting import wait_until

CLI = Path(sys.executable).parent / "ordermesh"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # after "comm": state ppid ...
            found.append(int(stat.parent.name))
    return found


def _workers(server_pid: int) -> list[int]:
    """The server processes `serve` started (not multiprocessing's resource tracker)."""
    return [
        pid for pid in _children(server_pid) if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


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


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code < 500
    except httpx.TransportError:
        return False


@pytest.fixture
def two_workers(tmp_path: Path):  # type: ignore[no-untyped-def]
    port = _free_port()
    env = {**os.environ, "ORDERMESH_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
    command = [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: _answers(port), timeout=60, what="the server to answer /healthz")
        yield server, port
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_connections_opened_at_once_are_spread_over_the_workers(two_workers) -> None:  # type: ignore[no-untyped-def]
    server, port = two_workers
    workers = [
        pid for pid in _children(server.pid) if Path(f"/proc/{pid}/cmdline").read_bytes().find(b"spawn") >= 0
    ]
    assert len(workers) == 2
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
    try:
        wait_until(
            lambda: sum(_connections_held(workers, port).values()) >= 16,
            timeout=20,
            what="the workers to accept all 16 connections",
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
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def test_a_worker_that_dies_stops_the_others_and_fails(two_workers) -> None:  # type: ignore[no-untyped-def]
    server, _port = two_workers
    killed, survivor = _workers(server.pid)
    os.kill(killed, signal.SIGKILL)
    assert server.wait(timeout=30) == 1
    assert not Path(f"/proc/{survivor}").exists()
    assert b"ended on its own" in server.stderr.read()
