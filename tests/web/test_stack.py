"""The launcher hands the web app a socket it already holds, so no one can take the port."""

from __future__ import annotations

import io
import socket

import httpx

from web.stack import Stack, listening_socket, web_service


def test_start_web_app_on_a_held_socket() -> None:
    sock = listening_socket()
    port = sock.getsockname()[1]
    service = web_service(sock, "http://127.0.0.1:9")
    assert "--fd" in service.argv and "--port" not in service.argv
    log = io.StringIO()
    with Stack([service], log=log).running(timeout=60):
        assert service.port == port
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert response.status_code == 200, log.getvalue()[-2000:]
        # The launcher gave its copy to the child: the port is the child's alone.
        assert sock.fileno() == -1
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the web app kept running"
