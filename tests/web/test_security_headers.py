"""Every response of the web app carries the security headers (web/security.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from tests.web.test_app import SETTINGS, FakeRasa, serve
from web.app import create_app
from web.security import CONTENT_SECURITY_POLICY


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with serve(create_app(SETTINGS, transport=httpx.MockTransport(FakeRasa()))) as client:
        yield client


@pytest.mark.parametrize("path", ["/de/", "/en/", "/login", "/healthz", "/static/chat.js", "/nope"])
async def test_every_response_has_the_security_headers(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path, follow_redirects=False)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    # Plain HTTP in development: no HSTS pinning localhost to HTTPS.
    assert "strict-transport-security" not in response.headers


async def test_https_deployments_get_hsts() -> None:
    settings = replace(SETTINGS, cookie_secure=True)
    app = create_app(settings, transport=httpx.MockTransport(FakeRasa()))
    async with serve(app) as client:
        response = await client.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")
