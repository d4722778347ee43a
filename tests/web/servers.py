"""Loopback servers for the browser tests, and polling with a deadline.

:class:`LoopbackServer` runs an ASGI app under uvicorn in a thread, on a socket the test
binds and holds itself (``127.0.0.1``, port chosen by the kernel), so no other process
can take the port between choosing and serving. Starting and stopping are bounded in
time and fail with a message naming the server.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import uvicorn

__all__ = ["LoopbackServer", "poll_until"]

T = TypeVar("T")

#: Seconds a server has to answer its first request, and to stop.
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.02


def poll_until(
    probe: Callable[[], T | None], *, timeout_s: float, message: Callable[[], str] | str
) -> T:
    """Call ``probe`` until it returns something truthy; fail after ``timeout_s`` seconds.

    Returns what ``probe`` returned. ``message`` (or what it returns) says what did not
    happen, for the failure.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"{text} (waited {timeout_s:g} s)")
        time.sleep(POLL_INTERVAL_S)


class LoopbackServer:
    """Serve an ASGI app with uvicorn in a thread, on a socket held by the test.

    Use as a context manager: on entry the server answers HTTP (its ``ready_path``
    gives any response), on exit it is stopped within :data:`STOP_TIMEOUT_S`.
    """

    def __init__(self, app: Any, *, name: str = "server", ready_path: str = "/") -> None:
        self.name = name
        self.ready_path = ready_path
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.sock]},
            name=f"loopback-{name}",
            daemon=True,
        )

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        try:
            poll_until(
                self._answers,
                timeout_s=START_TIMEOUT_S,
                message=lambda: f"{self.name} on {self.url} did not answer HTTP",
            )
        except BaseException:
            self.__exit__()
            raise
        return self

    def _answers(self) -> bool:
        if not self.thread.is_alive():
            raise AssertionError(f"{self.name} on {self.url} stopped while starting")
        if not self.server.started:
            return False
        try:
            httpx.get(self.url + self.ready_path, timeout=1.0)
        except httpx.TransportError:
            return False
        return True

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=STOP_TIMEOUT_S)
        if self.thread.is_alive():
            self.server.force_exit = True  # open connections (SSE streams) hold it up
            self.thread.join(timeout=STOP_TIMEOUT_S)
        self.sock.close()
        if self.thread.is_alive():
            raise AssertionError(f"{self.name} on {self.url} did not stop")
