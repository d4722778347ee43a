"""The touchpoint rating: how the shopper found the advice, once per conversation.

After the offers the widget asks how the advice was (the bot), and after a live chat
how the staff member was (staff): five steps from 1 "excellent" to 5 "frustrated", with
an optional comment. One rating per conversation and target; it may be changed for a
few minutes (a slip of the finger), then it stands. Each rating is stored with the rule
set and version the conversation ran on, and goes into the event log, so the reports
count it (:func:`advisor.analytics.ratings`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import Engine, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from advisor.accounts import UTCDateTime
from advisor.events import Event, EventKind, EventLog, Scope
from advisor.facts import current_scope

__all__ = [
    "RATING_STEPS",
    "Rating",
    "RatingClosedError",
    "RatingStore",
    "Target",
]

#: The five steps, best first; stored as 1 to 5.
RATING_STEPS = ("excellent", "good", "okay", "poor", "frustrated")
MAX_COMMENT = 1000
Target = Literal["bot", "staff"]


class RatingClosedError(Exception):
    """The rating was given more than the allowed minutes ago: it stands."""

    def __init__(self, rated_at: datetime) -> None:
        super().__init__(f"rated at {rated_at.isoformat()}; it can no longer be changed")
        self.rated_at = rated_at


class Rating(SQLModel, table=True):
    """One rating of one conversation's advice (``target``: the bot or staff)."""

    __tablename__ = "advisor_rating"
    __table_args__ = (UniqueConstraint("conversation", "target"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation: str = Field(max_length=64)
    target: str = Field(max_length=8)
    step: int
    comment: str = Field(default="", max_length=MAX_COMMENT)
    ruleset: str | None = Field(default=None, max_length=64)
    version: int | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class RatingStore:
    """Ratings in the advisor's database, reported through the event log.

    Args:
        engine: The advisor's database.
        events: Where the rating is also recorded for the reports (``None``: nowhere).
        change_minutes: How long a rating may be changed after it was first given.
        clock: Now, as an aware datetime.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        events: EventLog | None = None,
        change_minutes: float = 10,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.events = events
        self.change_window = timedelta(minutes=change_minutes)
        self.clock = clock

    def get(self, conversation: str, target: Target) -> Rating | None:
        """The conversation's rating of ``target``, if given."""
        with Session(self.engine) as session:
            return session.exec(
                select(Rating).where(
                    col(Rating.conversation) == conversation, col(Rating.target) == target
                )
            ).first()

    def changeable_until(self, rating: Rating) -> datetime:
        """Until when ``rating`` may still be changed."""
        return rating.created_at + self.change_window

    def rate(self, conversation: str, target: Target, step: int, comment: str = "") -> Rating:
        """Give or change the rating.

        Raises:
            ValueError: ``step`` is not 1 to 5.
            RatingClosedError: The rating was given longer ago than the change window.
        """
        if step not in range(1, len(RATING_STEPS) + 1):
            raise ValueError(f"a rating is 1 to {len(RATING_STEPS)}, not {step!r}")
        comment = " ".join(comment.split())[:MAX_COMMENT]
        now = self.clock()
        with self.engine.connect() as connection:
            scope = current_scope(connection, conversation)
        for _ in range(2):  # a second try when another request created it meanwhile
            with Session(self.engine, expire_on_commit=False) as session:
                rating = session.exec(
                    select(Rating).where(
                        col(Rating.conversation) == conversation, col(Rating.target) == target
                    )
                ).first()
                if rating is None:
                    rating = Rating(
                        conversation=conversation,
                        target=target,
                        step=step,
                        comment=comment,
                        ruleset=scope.ruleset if scope else None,
                        version=scope.version if scope else None,
                        created_at=now,
                        updated_at=now,
                    )
                elif now > self.changeable_until(rating):
                    raise RatingClosedError(rating.created_at)
                else:
                    rating.step, rating.comment, rating.updated_at = step, comment, now
                session.add(rating)
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
                    continue
                break
        else:
            raise RuntimeError(f"the rating of {conversation} could not be stored")
        if self.events is not None:
            self.events.record(
                scope or Scope(conversation, None, None, "chat", "en"),
                [Event(EventKind.RATED, value=step, how=target)],
                turn=False,
            )
        return rating

    def erase(self, conversation: str) -> int:
        """Delete the conversation's ratings (a privacy request); rows deleted."""
        with Session(self.engine) as session:
            rows = session.exec(select(Rating).where(col(Rating.conversation) == conversation))
            count = 0
            for row in rows:
                session.delete(row)
                count += 1
            session.commit()
        return count
