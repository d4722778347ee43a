"""Signing in and out: ``/login`` (GET form, POST check) and ``POST /logout``.

Both POSTs need the CSRF token of the form (``verify_csrf``). A wrong name or password
re-shows the form; too many failures answer 429 with the time to retry. After a login
the browser goes back to ``next`` when it is a path on this site, else to its role's
home: ``/console`` for staff, ``/admin/rules`` for merchandisers and admins.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from advisor.accounts import (
    InvalidCredentialsError,
    LoginThrottledError,
    Role,
    StaffUserPublic,
    authenticate,
    end_login_session,
    start_login_session,
)
from web.auth import safe_next
from web.deps import DbSession, OptionalUser, StaffSessionDep, templates, verify_csrf

__all__ = ["home_for", "router"]

router = APIRouter(tags=["auth"])


def home_for(user: StaffUserPublic) -> str:
    """Where a user lands after signing in when no ``next`` was asked for."""
    return "/console" if not user.has_role(Role.MERCHANDISER) else "/admin/rules"


def _form(
    request: Request,
    *,
    next_path: str | None,
    name: str = "",
    problem: str | None = None,
    status_code: int = 200,
    retry_minutes: int | None = None,
    retry_at: datetime | None = None,
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request,
        "auth/login.html",
        {
            "next_path": next_path or "",
            "name": name,
            "problem": problem,
            "retry_minutes": retry_minutes,
            "retry_at": retry_at,
            "signed_out": request.query_params.get("signed_out") == "1",
        },
        status_code=status_code,
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request,
    user: OptionalUser,
    next_path: Annotated[str | None, Query(alias="next")] = None,
) -> Response:
    """Show the login form, or send a signed-in user on."""
    target = safe_next(next_path)
    if user is not None:
        return RedirectResponse(target or home_for(user), status_code=303)
    return _form(request, next_path=target)


@router.post("/login", response_class=HTMLResponse, dependencies=[Depends(verify_csrf)])
def login(
    request: Request,
    db: DbSession,
    session: StaffSessionDep,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    """Check the name and password; on success start a fresh session and redirect."""
    target = safe_next(next_path)
    if not name.strip() or not password:
        return _form(request, next_path=target, name=name, problem="missing")
    client = request.client.host if request.client else None
    try:
        found = authenticate(db, name=name, password=password, ip=client)
    except LoginThrottledError as exc:
        seconds = exc.retry_after_seconds(datetime.now(UTC))
        response = _form(
            request,
            next_path=target,
            name=name,
            problem="throttled",
            status_code=429,
            retry_minutes=max(1, math.ceil(seconds / 60)),
            retry_at=exc.retry_at,
        )
        response.headers["Retry-After"] = str(seconds)
        return response
    except InvalidCredentialsError:
        return _form(request, next_path=target, name=name, problem="invalid")
    user = StaffUserPublic.model_validate(found, from_attributes=True)
    if session.login_token is not None:  # signing in over another login ends that one
        end_login_session(db, token=session.login_token)
    session.begin_login(start_login_session(db, user_id=user.id))
    return RedirectResponse(target or home_for(user), status_code=303)


@router.post("/logout", dependencies=[Depends(verify_csrf)])
def logout(db: DbSession, session: StaffSessionDep) -> RedirectResponse:
    """End the login session on the server and delete the cookie."""
    if session.login_token is not None:
        end_login_session(db, token=session.login_token)
    session.clear()
    return RedirectResponse("/login?signed_out=1", status_code=303)
