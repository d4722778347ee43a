"""The launcher (``make run``, ``python -m web.stack``) refuses to start Rasa without a model.

Rasa started without a model answers every message with nothing: the launcher says how to
train instead of starting anything.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from web import stack


def test_refuses_to_start_without_a_trained_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []

    def ensure_admin() -> list[str]:
        started.append("admin")
        return []

    monkeypatch.setattr(stack, "ensure_admin", ensure_admin)
    monkeypatch.setattr(stack.Stack, "start", lambda self, timeout: started.append("stack"))
    # Rasa's interpreter is checked first; give it one so the model check is reached.
    fake_bin = tmp_path / "rasa"
    fake_bin.write_text("")
    monkeypatch.setattr(stack, "RASA_BIN", fake_bin)
    empty = tmp_path / "models"
    empty.mkdir()

    assert stack.main(["--model", str(empty)]) == 1

    err = capsys.readouterr().err
    assert f"no trained Rasa model in {empty}" in err
    assert "make train" in err
    assert started == [], "nothing may start without a model"


def test_trained_model_is_the_newest_archive(tmp_path: Path) -> None:
    assert stack.trained_model(tmp_path) is None
    (tmp_path / "notes.txt").write_text("")
    assert stack.trained_model(tmp_path) is None
    old, new = tmp_path / "old.tar.gz", tmp_path / "new.tar.gz"
    old.write_bytes(b"1")
    new.write_bytes(b"2")
    os.utime(old, (1, 1))
    assert stack.trained_model(tmp_path) == new
    assert stack.trained_model(new) == new
    assert stack.trained_model(tmp_path / "missing") is None
