"""Under CI a run that skipped a layer (Rasa, browser, PostgreSQL, Redis) fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

SKIPPING = """
import pytest

@pytest.mark.integration
@pytest.mark.skipif(True, reason="Rasa is not installed")
def test_layer():
    pass

def test_plain():
    pytest.skip("not a layer")
"""


def _run(tmp_path: Path, source: str, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text())
    (tmp_path / "test_sample.py").write_text(source)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(CONFTEST.parent.parent)}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_fail_run_under_ci_when_a_layer_was_skipped(tmp_path: Path) -> None:
    result = _run(tmp_path, SKIPPING, ci="true")
    assert result.returncode == 1, result.stdout
    assert "layers skipped under CI" in result.stdout
    assert "test_layer [integration]: Rasa is not installed" in result.stdout
    assert "test_plain" not in result.stdout.split("layers skipped under CI")[1].split("short")[0]


@pytest.mark.parametrize("ci", [None, "false"], ids=["unset", "false"])
def test_pass_run_outside_ci_with_skips_shown(tmp_path: Path, ci: str | None) -> None:
    result = _run(tmp_path, SKIPPING, ci=ci)
    assert result.returncode == 0, result.stdout
    assert "SKIPPED [1] test_sample.py:4: Rasa is not installed" in result.stdout
