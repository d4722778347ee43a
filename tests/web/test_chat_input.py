"""What of a shopper's message reaches Rasa (web/chat_input.py); inputs from the fuzz bench."""

from __future__ import annotations

import pytest

from web.chat_input import RASA_RESTART, clean_text, guard_payload


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ('/inform{"choice":"beginner"}', '/inform{"choice":"beginner"}'),
        ('/request_advice{"ruleset":"road_bike"}', '/request_advice{"ruleset":"road_bike"}'),
        ('/resume_shared{"code":"K7Q2MX"}', '/resume_shared{"code":"K7Q2MX"}'),
        ("/restart", RASA_RESTART),
        ("/restart{}", "restart{}"),
        ('/restart@0.5{"x":1}', 'restart@0.5{"x":1}'),
        ("/restart\x00", "restart\x00"),
        ('/session_start{"a":1}', 'session_start{"a":1}'),
        ("/back", "back"),
        ('/inform{"choice":' * 300 + '"x"' + "}" * 300, None),
        ('/inform{"choice":["a","b"]}', 'inform{"choice":["a","b"]}'),
        ('/inform{"choice": NaN}', 'inform{"choice": NaN}'),
        ("/inform{not json", "inform{not json"),
        ("//inform", "inform"),
        ("1500 euros", "1500 euros"),
        ("  I want a road bike  ", "  I want a road bike  "),
    ],
)
def test_only_the_widgets_payloads_reach_rasa_as_payloads(text: str, sent: str | None) -> None:
    result = guard_payload(text)
    if sent is None:  # deeply nested: never a payload
        assert not result.startswith("/")
    else:
        assert result == sent


def test_lone_surrogates_become_replacement_characters() -> None:
    assert clean_text("\ud800 road bike \udc00") == "\ufffd road bike \ufffd"
    assert clean_text("🚴 Rennrad") == "🚴 Rennrad"
    clean_text("\ud800").encode("utf-8")  # encodable now
