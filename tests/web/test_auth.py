"""Signing in and out: the form, throttling, CSRF, the cookie, redirects, settings."""

from __future__ import annotations

import re
import stat
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from advisor import accounts
from advisor.accounts import MAX_FAILURES
from advisor.settings import Settings
from tests.tables import database_at
from web.app import create_app
from web.auth import COOKIE_NAME, safe_next

RASA_URL = "http://rasa.test:5005"
PASSWORD = "correct horse battery"
USERS = {"anna": "staff", "mia": "merchandiser", "root": "admin"}
HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        accounts, "PASSWORD_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(rasa_url=RASA_URL, database_url=database_at(tmp_path / "web.db"))


def make_app(settings: Settings) -> FastAPI:
    app = create_app(
        settings, transport=httpx.MockTransport(lambda request: httpx.Response(200, json=[]))
    )
    with app.state.db.session() as session:
        for name, role in USERS.items():
            accounts.create_user(session, name=name, role=role, password=PASSWORD)
    return app


@pytest.fixture()
def app(settings: Settings) -> Iterator[FastAPI]:
    app = make_app(settings)
    yield app
    app.state.db.dispose()


@asynccontextmanager
async def serve(
    app: FastAPI, base_url: str = "http://testserver"
) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


@pytest.fixture()
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app) as client:
        yield client


async def csrf_token(client: httpx.AsyncClient, path: str = "/login") -> str:
    page = await client.get(path, headers=HTML)
    found = CSRF_INPUT.search(page.text)
    assert found, f"no CSRF field on {path}"
    return found.group(1)


async def login(
    client: httpx.AsyncClient, name: str, password: str = PASSWORD, next_path: str | None = None
) -> httpx.Response:
    form = {"name": name, "password": password, "csrf_token": await csrf_token(client)}
    if next_path is not None:
        form["next"] = next_path
    return await client.post("/login", data=form, headers=HTML)


def set_cookie(response: httpx.Response) -> str:
    [header] = [v for v in response.headers.get_list("set-cookie") if v.startswith(COOKIE_NAME)]
    return header


# --- the form ----------------------------------------------------------------------


async def test_get_login_shows_form_with_csrf_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/login", headers=HTML)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for testid in ("login-form", "login-name", "login-password", "login-submit"):
        assert f'data-testid="{testid}"' in response.text
    assert CSRF_INPUT.search(response.text)
    assert 'href="/static/staff.css"' in response.text


async def test_session_cookie_is_httponly_and_samesite_lax(client: httpx.AsyncClient) -> None:
    cookie = set_cookie(await client.get("/login"))

    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP in development


async def test_session_cookie_secure_over_https(app: FastAPI) -> None:
    async with serve(app, base_url="https://testserver") as client:
        assert "; Secure" in set_cookie(await client.get("/login"))


async def test_session_cookie_secure_when_settings_say_so(settings: Settings) -> None:
    app = make_app(
        Settings(rasa_url=RASA_URL, database_url=settings.database_url, cookie_secure=True)
    )
    async with serve(app) as client:
        assert "; Secure" in set_cookie(await client.get("/login"))


async def test_shop_page_sets_no_cookie(client: httpx.AsyncClient) -> None:
    response = await client.get("/de/", headers=HTML)

    assert response.status_code == 200
    assert "set-cookie" not in response.headers


# --- logging in --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "home"),
    [("anna", "/console"), ("mia", "/admin/rules"), ("root", "/admin/rules")],
    ids=["staff", "merchandiser", "admin"],
)
async def test_login_ok_redirects_by_role(client: httpx.AsyncClient, name: str, home: str) -> None:
    response = await login(client, name)

    assert response.status_code == 303
    assert response.headers["location"] == home


async def test_login_ok_redirects_to_next(client: httpx.AsyncClient) -> None:
    response = await login(client, "mia", next_path="/admin/analytics?week=3")

    assert response.status_code == 303
    assert response.headers["location"] == "/admin/analytics?week=3"
    page = await client.get("/admin/analytics", headers=HTML)
    assert page.status_code == 200
    assert "Signed in as <strong>mia</strong>" in page.text
    assert page.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/console",
        "https://evil.example/",
        "http:evil.example",
        "/\\evil.example",
        "/\\/evil.example",
        "javascript:alert(1)",
        "evil.example",
        " /console",
        "/console\r\nSet-Cookie: x=1",
        "/login",
    ],
    ids=[
        "protocol_relative",
        "absolute",
        "scheme_no_slashes",
        "backslash",
        "backslash_slash",
        "javascript",
        "relative_host",
        "leading_space",
        "header_injection",
        "login_loop",
    ],
)
async def test_login_next_open_redirect_refused(client: httpx.AsyncClient, target: str) -> None:
    response = await login(client, "anna", next_path=target)

    assert response.status_code == 303
    assert response.headers["location"] == "/console"


async def test_login_page_drops_unsafe_next(client: httpx.AsyncClient) -> None:
    response = await client.get("/login", params={"next": "//evil.example"}, headers=HTML)

    assert "evil.example" not in response.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/console", "/console"),
        ("/console/session/7?tab=trace", "/console/session/7?tab=trace"),
        ("/%2F%2Fevil.example", "/%2F%2Fevil.example"),  # a path on this site
        ("//evil.example", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_next(value: str | None, expected: str | None) -> None:
    assert safe_next(value) == expected


async def test_login_wrong_password_reshows_form_politely(client: httpx.AsyncClient) -> None:
    response = await login(client, "anna", password="not my password")

    assert response.status_code == 200
    assert "do not match an active account" in response.text
    assert 'value="anna"' in response.text  # the name is kept
    assert "not my password" not in response.text
    follow = await client.get("/admin/rules", headers=HTML)
    assert follow.status_code == 303


async def test_login_missing_fields_reshows_form(client: httpx.AsyncClient) -> None:
    token = await csrf_token(client)
    response = await client.post("/login", data={"csrf_token": token, "name": "anna"}, headers=HTML)

    assert response.status_code == 200
    assert "Please enter both" in response.text


async def test_login_throttled_after_five_failures(client: httpx.AsyncClient) -> None:
    for _ in range(MAX_FAILURES):
        assert (await login(client, "anna", password="wrong guess!")).status_code == 200

    response = await login(client, "anna")  # even the right password waits

    assert response.status_code == 429
    assert "Too many sign-in attempts failed" in response.text
    assert re.search(r"try again in 1[45] minutes", response.text)
    assert 800 < int(response.headers["retry-after"]) <= 900
    assert (await client.get("/admin/rules", headers=HTML)).status_code == 303


async def test_get_login_when_signed_in_goes_on(client: httpx.AsyncClient) -> None:
    await login(client, "anna")

    response = await client.get("/login", params={"next": "/console/x"})

    assert response.status_code == 303
    assert response.headers["location"] == "/console/x"


# --- CSRF --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/logout"])
async def test_post_without_csrf_token_refused(client: httpx.AsyncClient, path: str) -> None:
    await client.get("/login")  # a session with a token exists, but the form lacks it

    page = await client.post(path, data={"name": "anna", "password": PASSWORD}, headers=HTML)
    api = await client.post(path, data={"name": "anna", "password": PASSWORD})

    assert page.status_code == 403
    assert "We could not confirm that this form came from this site" in page.text
    assert api.status_code == 403
    assert api.json()["error"] == "csrf_failed"
    assert (await client.get("/admin/rules", headers=HTML)).status_code == 303


@pytest.mark.parametrize("path", ["/login", "/logout"])
async def test_post_without_any_session_refused(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(path, data={"csrf_token": "guess", "name": "anna"})

    assert response.status_code == 403


async def test_post_with_wrong_csrf_token_refused(client: httpx.AsyncClient) -> None:
    await csrf_token(client)

    response = await client.post(
        "/login", data={"name": "anna", "password": PASSWORD, "csrf_token": "x" * 43}
    )

    assert response.status_code == 403


async def test_api_chat_needs_no_csrf_token(client: httpx.AsyncClient) -> None:
    await login(client, "root")

    response = await client.post("/api/chat", json={"sender": "abc", "message": "hi"})

    assert response.status_code == 200


# --- the session -------------------------------------------------------------------


async def test_login_rotates_the_session(client: httpx.AsyncClient) -> None:
    before_token = await csrf_token(client)
    before_cookie = client.cookies[COOKIE_NAME]

    response = await client.post(
        "/login", data={"name": "anna", "password": PASSWORD, "csrf_token": before_token}
    )

    assert response.status_code == 303
    assert client.cookies[COOKIE_NAME] != before_cookie
    stale = await client.post("/logout", data={"csrf_token": before_token})
    assert stale.status_code == 403  # the token from before the login is void


async def test_forged_cookie_is_ignored(client: httpx.AsyncClient) -> None:
    await login(client, "root")
    forged = client.cookies[COOKIE_NAME][:-2] + "xx"
    client.cookies.clear()
    client.cookies.set(COOKIE_NAME, forged)

    response = await client.get("/admin/rules", headers=HTML)

    assert response.status_code == 303


async def test_logout_ends_the_session_everywhere(app: FastAPI, client: httpx.AsyncClient) -> None:
    await login(client, "mia")
    page = await client.get("/admin/rules", headers=HTML)
    [token] = CSRF_INPUT.findall(page.text)  # the staff bar's sign-out form
    signed_in_cookie = client.cookies[COOKIE_NAME]

    response = await client.post("/logout", headers={"X-CSRF-Token": token, **HTML})

    assert response.status_code == 303
    assert response.headers["location"] == "/login?signed_out=1"
    assert "Max-Age=0" in set_cookie(response)
    assert COOKIE_NAME not in client.cookies
    assert (await client.get("/admin/rules", headers=HTML)).status_code == 303
    signed_out = await client.get("/login?signed_out=1", headers=HTML)
    assert "You are signed out" in signed_out.text
    async with serve(app) as replay:  # a copy of the old cookie opens nothing either
        replay.cookies.set(COOKIE_NAME, signed_in_cookie)
        assert (await replay.get("/admin/rules", headers=HTML)).status_code == 303


async def test_disabled_user_loses_access_at_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    await login(client, "mia")
    with app.state.db.session() as session:
        user = accounts.get_user(session, name="mia")
        assert user is not None
        user.disabled = True
        session.commit()

    assert (await client.get("/admin/rules", headers=HTML)).status_code == 303


# --- settings ----------------------------------------------------------------------


def test_settings_production_without_secret_key_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="WEB_SECRET_KEY must be set when APP_ENV=production"):
        Settings.from_env({"APP_ENV": "production"}, var_dir=tmp_path)
    assert not (tmp_path / "secret_key").exists()


def test_settings_production_short_secret_key_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="WEB_SECRET_KEY is too short"):
        Settings.from_env({"APP_ENV": "production", "WEB_SECRET_KEY": "short"}, var_dir=tmp_path)


def test_settings_production(tmp_path: Path) -> None:
    key = "k" * 40
    settings = Settings.from_env(
        {"APP_ENV": "production", "WEB_SECRET_KEY": key, "SHARE_DAYS": "3", "RASA_TOKEN": "t"},
        var_dir=tmp_path,
    )

    assert (settings.secret_key, settings.cookie_secure, settings.share_days) == (key, True, 3)
    assert key not in repr(settings)


def test_settings_development_keeps_a_generated_key(tmp_path: Path) -> None:
    first = Settings.from_env({}, var_dir=tmp_path)
    second = Settings.from_env({"APP_ENV": "development"}, var_dir=tmp_path)

    key_file = tmp_path / "secret_key"
    assert first.secret_key == second.secret_key == key_file.read_text().strip()
    assert len(first.secret_key) >= 43
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.cookie_secure is False


def test_settings_development_key_from_env_wins(tmp_path: Path) -> None:
    settings = Settings.from_env({"WEB_SECRET_KEY": "dev-key"}, var_dir=tmp_path)

    assert settings.secret_key == "dev-key"
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"APP_ENV": "staging"}, "APP_ENV"),
        ({"SHARE_DAYS": "two weeks"}, "SHARE_DAYS"),
        ({"SHARE_DAYS": "0"}, "SHARE_DAYS"),
        ({"WEB_COOKIE_SECURE": "maybe"}, "WEB_COOKIE_SECURE"),
    ],
    ids=["app_env", "share_days_text", "share_days_zero", "cookie_secure"],
)
def test_settings_bad_value_names_the_variable(
    tmp_path: Path, env: dict[str, str], name: str
) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env(env, var_dir=tmp_path)


def test_settings_from_env_reads_database_and_share_days(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"DATABASE_URL": "postgresql://db/x", "SHARE_DAYS": "30", "WEB_COOKIE_SECURE": "true"},
        var_dir=tmp_path,
    )

    assert settings.database_url == "postgresql://db/x"
    assert settings.share_days == 30
    assert settings.cookie_secure is True


async def test_production_turns_off_api_docs(settings: Settings) -> None:
    app = make_app(
        Settings(
            rasa_url=RASA_URL,
            database_url=settings.database_url,
            app_env="production",
            secret_key="p" * 40,
            rasa_token="rasa-token",
        )
    )
    async with serve(app) as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await client.get(path)).status_code == 404
        assert (await client.get("/login")).status_code == 200
