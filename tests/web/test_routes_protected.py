"""Every route of the app is either on the public list or refuses strangers.

The routes are read from ``create_app().routes``, so a route added anywhere is checked
without touching this file; a route that is neither public nor in a staff area fails
here until it is placed. For every protected route and method:

* no login, a browser: 303 to ``/login?next=<path>``;
* no login, an API call: 401 ``login_required``;
* signed in with a role below the area's: 403 (a page for a browser, JSON otherwise);
* signed in as admin: past the guard (whatever the endpoint then says);
* a state-changing method without the CSRF token, even as admin: 403 ``csrf_failed``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import APIRouter, Depends, FastAPI, WebSocket
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from advisor import accounts
from advisor.accounts import ROLES, Role
from advisor.settings import Settings
from tests.tables import database_at
from web.app import PROTECTED_AREAS, create_app
from web.auth import SAFE_METHODS, login_url
from web.deps import require_role

RASA_URL = "http://rasa.test:5005"
PASSWORD = "correct horse battery"
HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"accept": "application/json"}
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')

#: Routes anyone may open, each with its reason. Add a route here only with a reason.
PUBLIC = {
    "/": "sends a browser to the shop page in its language",
    "/de/": "the shop page in German",
    "/en/": "the shop page in English",
    "/api/chat/strings": "the chat widget's own words in a language",
    "/api/chat": "the shopper's chat (same-origin JSON, no login)",
    "/api/chat/history": "the shopper's own conversation, for its cookie's holder only",
    "/api/chat/events": "the live chat of the cookie holder's own hand-over",
    "/api/chat/message-for-staff": "a message for the inbox from the cookie holder's hand-over",
    "/api/chat/click": "an offer the cookie holder opened, for the analytics",
    "/api/chat/rating": "the cookie holder's rating of its own conversation",
    "/api/chat/privacy/export": "the cookie holder's own conversation, as a download",
    "/api/chat/privacy/erase": "the cookie holder erases its own conversation (JSON, same-origin)",
    "/de/datenschutz": "what the advisor stores, for shoppers, in German",
    "/en/privacy": "what the advisor stores, for shoppers, in English",
    "/healthz": "liveness for load balancers and make run",
    "/healthz/rasa": "Rasa's liveness",
    "/login": "the sign-in form and its POST (CSRF-checked)",
    "/logout": "signing out (CSRF-checked)",
    "/static": "stylesheets and the chat widget",
    "/docs": "API docs, development only (off in production)",
    "/docs/oauth2-redirect": "part of the API docs",
    "/redoc": "API docs, development only",
    "/openapi.json": "API description, development only",
}
#: Shared configurations a customer opens from a link or a code, without an account.
PUBLIC_PREFIXES = ("/s/", "/share/", "/share")
#: The staff areas and the lowest role of each, as web.app includes them (a longer prefix
#: first: privacy requests, inside the console, are for admins).
AREAS = {"/console/privacy": Role.ADMIN, "/console": Role.STAFF, "/admin": Role.MERCHANDISER}
USERS = {role: f"user-{role.value}" for role in ROLES}
DUMMY = {"int": "1", "float": "1.0", "uuid": "00000000-0000-0000-0000-000000000001"}


@dataclass(frozen=True)
class Endpoint:
    path: str
    method: str
    kind: str  # "http" or "websocket"

    @property
    def url(self) -> str:
        """The path with a dummy value for every path parameter."""
        return re.sub(r"{(\w+)(?::(\w+))?}", lambda m: DUMMY.get(m.group(2) or "", "x1"), self.path)

    @property
    def area(self) -> str | None:
        return next((p for p in AREAS if self.path == p or self.path.startswith(p + "/")), None)

    @property
    def api(self) -> bool:
        return "/api/" in self.path


def is_public(path: str) -> bool:
    return path in PUBLIC or path.startswith(PUBLIC_PREFIXES)


def registered_routes(app: FastAPI) -> list[tuple[str, BaseRoute]]:
    """Every route as registered, with included routers expanded, and its full path."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are copied into app.routes
        return [(str(getattr(route, "path", "")), route) for route in app.routes]
    return [(str(c.path), c.original_route) for c in iter_route_contexts(app.routes)]


def endpoints(app: FastAPI) -> list[Endpoint]:
    found: list[Endpoint] = []
    for path, route in registered_routes(app):
        if isinstance(route, (APIRoute, Route)):
            found += [Endpoint(path, m, "http") for m in sorted(route.methods or ())]
        elif isinstance(route, (APIWebSocketRoute, WebSocketRoute)):
            found.append(Endpoint(path, "WEBSOCKET", "websocket"))
        elif isinstance(route, Mount):
            found.append(Endpoint(path, "*", "mount"))
        else:
            pytest.fail(f"{path}: a route of type {type(route).__name__}; teach this test it")
    return found


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        accounts, "PASSWORD_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    database = tmp_path_factory.mktemp("routes") / "web.db"
    app = create_app(
        Settings(rasa_url=RASA_URL, database_url=database_at(database)),
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=[])),
    )
    with app.state.db.session() as session:
        for role, name in USERS.items():
            accounts.create_user(session, name=name, role=role, password=PASSWORD)
    yield app
    app.state.db.dispose()


ALL = endpoints(create_app(Settings(rasa_url=RASA_URL, database_url="sqlite://")))
PROTECTED = [e for e in ALL if not is_public(e.path)]


def ids(endpoint: Endpoint) -> str:
    return f"{endpoint.method} {endpoint.path}"


@asynccontextmanager
async def client_for(app: FastAPI, role: Role | None = None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        if role is not None:
            page = await client.get("/login")
            token = CSRF_INPUT.search(page.text)
            assert token
            signed_in = await client.post(
                "/login",
                data={"name": USERS[role], "password": PASSWORD, "csrf_token": token.group(1)},
            )
            assert signed_in.status_code == 303, signed_in.text
        yield client


async def csrf_of(client: httpx.AsyncClient) -> str:
    """The signed-in session's CSRF token, from the staff bar of a page every role opens."""
    page = await client.get("/admin/analytics", headers=HTML)
    found = CSRF_INPUT.search(page.text)
    if found is None:  # a role that cannot open it: the 403 page has the staff bar too
        raise AssertionError(f"no CSRF token on {page.status_code} page")
    return found.group(1)


def test_walker_sees_every_kind_of_route() -> None:
    paths = {e.path for e in ALL}
    assert {"/", "/api/chat", "/login", "/logout", "/healthz", "/static"} <= paths
    assert {"/admin/rules", "/admin/analytics"} <= paths


def test_every_route_is_public_or_in_a_staff_area() -> None:
    stray = [ids(e) for e in PROTECTED if e.area is None]
    assert not stray, (
        f"routes neither public nor under {', '.join(AREAS)}: {stray}. Put them in a staff "
        "router (web.app.PROTECTED_AREAS) or, if strangers may open them, in PUBLIC here."
    )


def test_areas_here_match_the_app() -> None:
    included = {role for _, role in PROTECTED_AREAS}
    assert set(AREAS.values()) == included


@pytest.mark.parametrize("endpoint", [e for e in PROTECTED if e.kind == "http"], ids=ids)
async def test_protected_route_without_login(app: FastAPI, endpoint: Endpoint) -> None:
    async with client_for(app) as client:
        browser = await client.request(endpoint.method, endpoint.url, headers=HTML)
        api = await client.request(endpoint.method, endpoint.url, headers=JSON)

    if endpoint.api:
        assert browser.status_code == 401
    else:
        assert browser.status_code == 303
        assert browser.headers["location"] == login_url(endpoint.url)
        assert browser.headers["location"].startswith("/login?next=")
    assert api.status_code == 401
    assert api.json()["error"] == "login_required"


@pytest.mark.parametrize("endpoint", [e for e in PROTECTED if e.kind == "http"], ids=ids)
async def test_protected_route_by_role(app: FastAPI, endpoint: Endpoint) -> None:
    assert endpoint.area is not None
    lowest = AREAS[endpoint.area]
    passed: list[bool] = []
    for role in ROLES:
        async with client_for(app, role) as client:
            headers = dict(JSON)
            if endpoint.method not in SAFE_METHODS and role is Role.ADMIN:
                headers["X-CSRF-Token"] = await csrf_of(client)
            api = await client.request(endpoint.method, endpoint.url, headers=headers)
            browser = await client.request(endpoint.method, endpoint.url, headers=HTML)
        ok = api.status_code not in (401, 403) and not api.headers.get("location", "").startswith(
            "/login"
        )
        passed.append(ok)
        if ROLES.index(role) < ROLES.index(lowest):
            assert api.status_code == 403, f"{role} got {api.status_code}"
            assert api.json()["error"] == "forbidden"
            assert browser.status_code == 403
            assert browser.headers["content-type"].startswith("text/html")
            assert "needs the role" in browser.text
    assert passed[-1], f"an admin cannot get past the guard of {ids(endpoint)}"
    assert passed == sorted(passed), f"access is not monotonic in the role: {passed}"


async def test_every_protected_state_change_needs_csrf(app: FastAPI) -> None:
    # A loop, not parametrize: there may be no state-changing staff route yet, and the
    # mechanism itself is proven below with a route of its own.
    for endpoint in [e for e in PROTECTED if e.kind == "http" and e.method not in SAFE_METHODS]:
        async with client_for(app, Role.ADMIN) as client:
            response = await client.request(endpoint.method, endpoint.url, headers=JSON)
        assert response.status_code == 403, ids(endpoint)
        assert response.json()["error"] == "csrf_failed", ids(endpoint)


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_every_protected_websocket_refuses_strangers(app: FastAPI) -> None:
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    for endpoint in [e for e in PROTECTED if e.kind == "websocket"]:
        with TestClient(app) as client, pytest.raises(WebSocketDisconnect):
            with client.websocket_connect(endpoint.url) as socket:
                socket.receive_text()


def test_protected_mounts_do_not_exist() -> None:
    mounts = [e.path for e in PROTECTED if e.kind == "mount"]
    assert not mounts, f"mounted apps bypass route dependencies; protect them: {mounts}"


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_require_role_closes_a_websocket_without_login(tmp_path: Path) -> None:
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    router = APIRouter()

    @router.websocket("/console/live")
    async def live(socket: WebSocket) -> None:
        await socket.accept()
        await socket.send_text("hello")

    app = create_app(Settings(rasa_url=RASA_URL, database_url=database_at(tmp_path / "w.db")))
    app.include_router(router, dependencies=[Depends(require_role(Role.STAFF))])
    with TestClient(app) as client:
        with pytest.raises(WebSocketDisconnect) as closed:
            with client.websocket_connect("/console/live") as socket:
                socket.receive_text()
    assert closed.value.code == 1008
    app.state.db.dispose()


async def test_require_role_checks_csrf_on_a_state_change(tmp_path: Path) -> None:
    router = APIRouter()

    @router.post("/console/things")
    async def make_thing() -> dict[str, str]:
        return {"made": "yes"}

    app = create_app(Settings(rasa_url=RASA_URL, database_url=database_at(tmp_path / "c.db")))
    app.include_router(router, dependencies=[Depends(require_role(Role.STAFF))])
    with app.state.db.session() as session:
        accounts.create_user(session, name=USERS[Role.STAFF], role="staff", password=PASSWORD)
    async with client_for(app, Role.STAFF) as client:
        page = await client.get("/admin/rules", headers=HTML)  # 403 page, with the staff bar
        token = CSRF_INPUT.search(page.text)
        assert token
        missing = await client.post("/console/things", headers=JSON)
        wrong = await client.post("/console/things", headers={"X-CSRF-Token": "nope", **JSON})
        form = await client.post("/console/things", data={"csrf_token": token.group(1)})
        header = await client.post("/console/things", headers={"X-CSRF-Token": token.group(1)})

    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert missing.json()["error"] == "csrf_failed"
    assert form.json() == header.json() == {"made": "yes"}
    app.state.db.dispose()
