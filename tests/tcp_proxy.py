"""A TCP proxy on 127.0.0.1 in front of the real database, which a test can cut, hang and restore."""

from __future__ import annotations

import selectors
import socket
import threading
from types import TracebackType


class TcpProxy:
    """Forwards connections from a loopback port to (host, port), in a thread of its own.

    `cut()` drops every connection and refuses new ones (the database is gone); `hang()` drops them and
    accepts new ones without ever answering (the database hangs); `restore()` forwards again, on the same
    port.
    """

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._mode = "forward"
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._peer: dict[socket.socket, socket.socket | None] = {}
        self._listener: socket.socket | None = None
        self._stopped = False
        self._switched = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self.port = self._listen(0)
        self._thread = threading.Thread(target=self._run, name="tcp-proxy", daemon=True)
        self._thread.start()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def cut(self) -> None:
        self._switch("refuse")

    def hang(self) -> None:
        self._switch("hang")

    def restore(self) -> None:
        self._switch("forward")

    def close(self) -> None:
        with self._lock:
            self._stopped = True
        self._wake_w.send(b"x")
        self._thread.join(timeout=10)
        self._drop_all()
        for sock in (self._listener, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._selector.close()

    def _switch(self, mode: str) -> None:
        """Change mode and wait until the proxy's thread has acted on it."""
        with self._lock:
            self._mode = mode
        self._switched.clear()
        self._wake_w.send(b"a")
        if not self._switched.wait(timeout=10):
            raise RuntimeError("the proxy did not switch")

    def _listen(self, port: int) -> int:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ)
        return int(listener.getsockname()[1])

    def _apply_mode(self) -> None:
        with self._lock:
            mode = self._mode
        if mode != "forward":
            self._drop_all()
        if mode == "refuse" and self._listener is not None:
            self._selector.unregister(self._listener)
            self._listener.close()
            self._listener = None
        elif mode != "refuse" and self._listener is None:
            self._listen(self.port)

    def _drop_all(self) -> None:
        for sock in list(self._peer):
            self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        if sock in self._peer:
            self._peer.pop(sock)
            self._selector.unregister(sock)
        sock.close()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._stopped:
                    return
            for key, _ in self._selector.select(timeout=1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._wake_r:
                    if b"a" in self._wake_r.recv(64):
                        self._apply_mode()
                        self._switched.set()
                elif sock is self._listener:
                    self._accept(sock)
                elif sock in self._peer:
                    self._relay(sock)

    def _accept(self, listener: socket.socket) -> None:
        client, _ = listener.accept()
        with self._lock:
            mode = self._mode
        upstream = socket.create_connection(self._target) if mode == "forward" else None
        self._peer[client] = upstream
        self._selector.register(client, selectors.EVENT_READ)
        if upstream is not None:
            self._peer[upstream] = client
            self._selector.register(upstream, selectors.EVENT_READ)

    def _relay(self, sock: socket.socket) -> None:
        peer = self._peer.get(sock)
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if peer is None:  # hanging: read and drop what the client sends, answer nothing
            if not data:
                self._close(sock)
            return
        if not data:
            self._close(sock)
            self._close(peer)
            return
        try:
            peer.sendall(data)
        except OSError:
            self._close(sock)
            self._close(peer)
