"""The Rasa project's files pass ``rasa data validate`` without errors or warnings."""

from __future__ import annotations

import os
import subprocess

import pytest

from web.stack import RASA_BIN, REPO

pytestmark = pytest.mark.integration


def test_validate_bot_data_clean() -> None:
    if not RASA_BIN.exists():
        if os.environ.get("CI"):
            pytest.fail("Rasa is not installed in .venv-rasa")
        pytest.skip("Rasa is not installed in .venv-rasa")
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
    result = subprocess.run(
        [
            str(RASA_BIN),
            "data",
            "validate",
            "--domain",
            "bot/domain",
            "--data",
            "bot/data",
            "--config",
            "config.yml",
            "--fail-on-warnings",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    problems = [
        line
        for line in output.splitlines()
        if (" ERROR " in line or " WARNING " in line or "UserWarning" in line)
        and "Deprecat" not in line
    ]
    assert problems == [], "\n".join(problems)
