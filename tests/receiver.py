"""A real HTTP server on 127.0.0.1 that receives webhooks in tests.

It records every request (path, headers, raw body, the status it answered) and can be told to fail
the next N requests with a status code, or to hang on the next N until released or closed. It runs in
a background thread on an ephemeral port:

    with Receiver() as receiver:
        ... subscribe receiver.url("/hooks") ...
        receiver.fail_next(2)          # the next two requests answer 500
        receiver.hang_next(1)          # the next request never answers (until receiver.release())
        receiver.wait_for(lambda r: len(r.delivered()) == 3)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.waiting import wait_until

HUNG = -1  # the status recorded for a request that was made to hang


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]  # header names lower-cased
    body: bytes
    status: int  # what the receiver answered; HUNG when it never answered
    received_at: float  # time.monotonic()

    @property
    def message_id(self) -> str | None:
        return self.headers.get("x-ordermesh-message-id")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Plan:
    failures: list[int] = field(default_factory=list)  # status codes for the next failing requests
    hangs: int = 0


class Receiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._plan = _Plan()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="receiver", daemon=True
        )

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> Receiver:
        self._thread.start()
        return self

    def close(self) -> None:
        self._release.set()  # let hanging handlers finish so their threads end
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- control ----------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next `count` requests with `status` (after any failures already planned)."""
        with self._lock:
            self._plan.failures.extend([status] * count)

    def hang_next(self, count: int = 1) -> None:
        """Hold the next `count` requests without answering until release() or close()."""
        with self._lock:
            self._plan.hangs += count

    def release(self) -> None:
        """Let hanging requests go (they then answer 200 to whoever is still listening)."""
        self._release.set()

    # -- what was received ------------------------------------------------------------------------
    def requests(self) -> list[ReceivedRequest]:
        """Every request answered so far, in order of arrival (hanging ones as soon as they arrive)."""
        with self._lock:
            return sorted(self._requests, key=lambda r: r.received_at)

    def delivered(self, path: str | None = None) -> list[ReceivedRequest]:
        """The requests answered 2xx, optionally on one path."""
        return [r for r in self.requests() if 200 <= r.status < 300 and (path is None or r.path == path)]

    def delivered_message_ids(self, path: str | None = None) -> list[str]:
        return [r.message_id for r in self.delivered(path) if r.message_id is not None]

    def wait_for(self, condition: Callable[[Receiver], bool], timeout: float = 10) -> None:
        """Wait until `condition(self)` holds; AssertionError when it does not within `timeout`."""
        try:
            wait_until(lambda: condition(self), timeout=timeout, what="the receiver's condition")
        except AssertionError as error:
            raise AssertionError(f"{error}; got {self.requests()}") from None

    # -- the server side --------------------------------------------------------------------------
    def _next_action(self) -> int | None:
        """The failure status for this request, HUNG to hang, or None to answer 200."""
        with self._lock:
            if self._plan.hangs:
                self._plan.hangs -= 1
                return HUNG
            if self._plan.failures:
                return self._plan.failures.pop(0)
        return None

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                action = receiver._next_action()
                if action == HUNG:
                    receiver._record(ReceivedRequest(self.path, headers, body, HUNG, arrived))
                    receiver._release.wait(timeout=60)
                    self._answer(200)
                    return
                status = 200 if action is None else action
                receiver._record(ReceivedRequest(self.path, headers, body, status, arrived))
                self._answer(status)

            def _answer(self, status: int) -> None:
                payload = b'{"ok":true}' if status < 300 else b"receiver told to fail"
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client went away (killed worker, timeout): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        return Handler
