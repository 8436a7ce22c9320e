"""Processes the tests start: finding them in /proc, and waiting for them to be gone."""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Have the processes our children leave behind re-parented to us, not to init, so that they are
    seen (Linux; elsewhere only direct children are)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def children(pid: int) -> list[int]:
    """The running (not zombie) children of `pid`."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat(int(entry.name))
        if fields and int(fields[1]) == pid and fields[0] != "Z":  # after "comm": state ppid ...
            found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    """The running processes below `pid`: its children, theirs, and so on."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat(int(entry.name))
        if fields and fields[0] != "Z":
            parent_of[int(entry.name)] = int(fields[1])
    found: list[int] = []
    below = {pid}
    while below:
        below = {child for child, parent in parent_of.items() if parent in below}
        found.extend(sorted(below))
    return found


def is_running(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def reap_zombies() -> None:
    """Collect the exit status of our children that have ended (orphans re-parented to us included)."""
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat(int(entry.name))
        if fields and int(fields[1]) == os.getpid() and fields[0] == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(int(entry.name), os.WNOHANG)


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait up to `timeout` seconds for the processes to end; those still running."""
    deadline = time.monotonic() + timeout
    while (running := [pid for pid in pids if is_running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return running
