"""Web app settings, read once from the environment.

Variables:
    RASA_URL: base URL of the Rasa server (default ``http://localhost:5005``).
    RASA_TIMEOUT_SECONDS: how long one call to Rasa may take (default 30).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

__all__ = ["WebSettings", "get_settings"]

DEFAULT_RASA_URL = "http://localhost:5005"
DEFAULT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class WebSettings:
    """Where the web app finds Rasa and how long it waits for it.

    Attributes:
        rasa_url: Base URL of the Rasa server, without a trailing slash.
        request_timeout_s: Seconds one call to Rasa may take before the shopper
            is told the advisor is unavailable.
    """

    rasa_url: str = DEFAULT_RASA_URL
    request_timeout_s: float = DEFAULT_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        # Normalise here so every way of building settings (env, tests) agrees.
        object.__setattr__(self, "rasa_url", self.rasa_url.rstrip("/"))
        if not self.rasa_url.startswith(("http://", "https://")):
            raise ValueError(f"RASA_URL must start with http:// or https://, got {self.rasa_url!r}")
        if not self.request_timeout_s > 0:
            raise ValueError(
                f"RASA_TIMEOUT_SECONDS must be a positive number, got {self.request_timeout_s!r}"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebSettings:
        """Build settings from environment variables.

        Args:
            env: Variables to read; ``os.environ`` when omitted.

        Returns:
            The settings, with defaults for anything unset.

        Raises:
            ValueError: A variable is set to something unusable; the message names it.
        """
        env = os.environ if env is None else env
        raw_timeout = env.get("RASA_TIMEOUT_SECONDS", str(DEFAULT_TIMEOUT_SECONDS))
        try:
            timeout = float(raw_timeout)
        except ValueError:
            raise ValueError(
                f"RASA_TIMEOUT_SECONDS must be a number of seconds, got {raw_timeout!r}"
            ) from None
        return cls(rasa_url=env.get("RASA_URL", DEFAULT_RASA_URL), request_timeout_s=timeout)


@cache
def get_settings() -> WebSettings:
    """Return the process-wide settings, read from the environment on first use."""
    return WebSettings.from_env()
