"""FastAPI dependencies and the shared template environment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from web.rasa import RasaClient
from web.settings import WebSettings

__all__ = [
    "WEB_DIR",
    "RasaDep",
    "SettingsDep",
    "get_rasa",
    "get_web_settings",
    "templates",
]

WEB_DIR = Path(__file__).resolve().parent

# One environment for every area (shop, console, rules) so they share base.html.
templates = Jinja2Templates(directory=WEB_DIR / "templates")


def get_web_settings(request: Request) -> WebSettings:
    """Return the settings the running app was created with."""
    settings: WebSettings = request.app.state.settings
    return settings


def get_rasa(request: Request) -> RasaClient:
    """Return the Rasa client opened in the app's lifespan."""
    rasa: RasaClient = request.app.state.rasa
    return rasa


SettingsDep = Annotated[WebSettings, Depends(get_web_settings)]
RasaDep = Annotated[RasaClient, Depends(get_rasa)]
