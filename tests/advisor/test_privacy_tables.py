"""Every table of ours is either erased for a privacy request or holds no conversation.

A store added later (as ``advisor_conversation`` was, migration 0004) fails here until
it is placed: in :data:`advisor.privacy.ERASED` with its erasure in ``erase`` (which
tests/advisor/test_privacy.py proves by reading every table after one), or in
:data:`advisor.privacy.NOT_CONVERSATION_DATA` with the reason.
"""

from __future__ import annotations

from advisor import privacy, schema


def test_every_table_is_erased_or_holds_no_conversation() -> None:
    tables = set(schema.metadata().tables)

    unplaced = tables - privacy.ERASED - set(privacy.NOT_CONVERSATION_DATA)

    assert not unplaced, f"tables privacy knows nothing of: {sorted(unplaced)}"
    assert not privacy.ERASED & set(privacy.NOT_CONVERSATION_DATA)
    assert privacy.ERASED | set(privacy.NOT_CONVERSATION_DATA) <= tables, "a table that is gone"
