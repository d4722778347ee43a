"""Every table of ours: catalogue, rule workbench, advisor.

Revision ID: 0001
Revises: (none)
Created: 2026-12-04 02:41:25.462612
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from advisor.accounts import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "advisor_assisted_session",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("staff", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("customer_name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("origin_code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_advisor_assisted_session_staff"),
        "advisor_assisted_session",
        ["staff"],
        unique=False,
    )
    op.create_index(
        op.f("ix_advisor_assisted_session_updated_at"),
        "advisor_assisted_session",
        ["updated_at"],
        unique=False,
    )
    op.create_table(
        "advisor_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_advisor_audit_session_id"), "advisor_audit", ["session_id"], unique=False
    )
    op.create_table(
        "advisor_code_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_advisor_code_attempt_at"), "advisor_code_attempt", ["at"], unique=False
    )
    op.create_index(
        op.f("ix_advisor_code_attempt_client"), "advisor_code_attempt", ["client"], unique=False
    )
    op.create_index(
        op.f("ix_advisor_code_attempt_code"), "advisor_code_attempt", ["code"], unique=False
    )
    op.create_table(
        "advisor_code_claim",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "advisor_conversation_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ruleset", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("last_asked", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("offers_at", UTCDateTime(), nullable=True),
        sa.Column("turns_to_offers", sa.Integer(), nullable=True),
        sa.Column("seconds_to_offers", sa.Float(), nullable=True),
        sa.Column("clicked", sa.Boolean(), nullable=False),
        sa.Column("handover_asked", sa.Boolean(), nullable=False),
        sa.Column("handover_taken", sa.Boolean(), nullable=False),
        sa.Column("rating_bot", sa.Integer(), nullable=True),
        sa.Column("rating_staff", sa.Integer(), nullable=True),
        sa.Column("ended", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_advisor_facts_conversation",
        "advisor_conversation_facts",
        ["conversation", "id"],
        unique=False,
    )
    op.create_index(
        "ix_advisor_facts_reports",
        "advisor_conversation_facts",
        [
            "started_at",
            "ruleset",
            "version",
            "language",
            "channel",
            "offers_at",
            "last_asked",
            "clicked",
            "handover_asked",
            "handover_taken",
            "rating_bot",
            "rating_staff",
            "seconds_to_offers",
            "turns_to_offers",
        ],
        unique=False,
    )
    op.create_table(
        "advisor_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("conversation", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ruleset", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("question", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("how", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_advisor_event_conversation", "advisor_event", ["conversation", "id"], unique=False
    )
    op.create_index(
        "ix_advisor_event_reports",
        "advisor_event",
        [
            "kind",
            "ruleset",
            "at",
            "question",
            "value",
            "conversation",
            "version",
            "language",
            "channel",
        ],
        unique=False,
    )
    op.create_table(
        "advisor_handover",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("conversation", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("staff", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("offered_to", sa.JSON(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("accepted_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_advisor_handover_conversation"), "advisor_handover", ["conversation"], unique=False
    )
    op.create_index(
        op.f("ix_advisor_handover_created_at"), "advisor_handover", ["created_at"], unique=False
    )
    op.create_index(op.f("ix_advisor_handover_staff"), "advisor_handover", ["staff"], unique=False)
    op.create_index(
        op.f("ix_advisor_handover_status"), "advisor_handover", ["status"], unique=False
    )
    op.create_table(
        "advisor_inbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handover_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("conversation", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        sa.Column("read_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_advisor_inbox_message_created_at"),
        "advisor_inbox_message",
        ["created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_advisor_inbox_message_handover_id"),
        "advisor_inbox_message",
        ["handover_id"],
        unique=False,
    )
    op.create_table(
        "advisor_live_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handover_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_advisor_live_message_handover_id"),
        "advisor_live_message",
        ["handover_id"],
        unique=False,
    )
    op.create_table(
        "advisor_offer_shown",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("conversation", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ruleset", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_advisor_offer_shown_conversation"),
        "advisor_offer_shown",
        ["conversation"],
        unique=False,
    )
    op.create_index(
        "ix_advisor_offer_shown_sku",
        "advisor_offer_shown",
        ["sku", "ruleset", "version", "language", "channel", "at"],
        unique=False,
    )
    op.create_table(
        "advisor_opening_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "advisor_rating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("ruleset", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation", "target"),
    )
    op.create_table(
        "advisor_shared",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("offers", sa.JSON(), nullable=True),
        sa.Column("conversation", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index(
        op.f("ix_advisor_shared_conversation"), "advisor_shared", ["conversation"], unique=False
    )
    op.create_index(
        op.f("ix_advisor_shared_expires_at"), "advisor_shared", ["expires_at"], unique=False
    )
    op.create_index(op.f("ix_advisor_shared_kind"), "advisor_shared", ["kind"], unique=False)
    op.create_table(
        "advisor_staff_presence",
        sa.Column("staff", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("staff"),
    )
    op.create_table(
        "product",
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("group_sku", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("brand", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("margin_pct", sa.Float(), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("frame_size_cm", sa.Integer(), nullable=True),
        sa.Column("geometry", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("frame_material", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("groupset", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("gears", sa.Integer(), nullable=True),
        sa.Column("brake_type", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("tyre_width_mm", sa.Integer(), nullable=True),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("pedals_included", sa.Boolean(), nullable=True),
        sa.Column("cleat_system", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("suspension_travel_mm", sa.Integer(), nullable=True),
        sa.Column("wheel_size", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("motor", sa.Boolean(), nullable=True),
        sa.Column("battery_wh", sa.Integer(), nullable=True),
        sa.Column("size", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("shoe_size_eu", sa.Float(), nullable=True),
        sa.Column("light_lumen", sa.Integer(), nullable=True),
        sa.Column("mounting", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sku", name="uq_product_sku"),
    )
    op.create_index(op.f("ix_product_battery_wh"), "product", ["battery_wh"], unique=False)
    op.create_index(op.f("ix_product_brake_type"), "product", ["brake_type"], unique=False)
    op.create_index(op.f("ix_product_brand"), "product", ["brand"], unique=False)
    op.create_index(op.f("ix_product_category"), "product", ["category"], unique=False)
    op.create_index(
        "ix_product_category_cleat_price",
        "product",
        ["category", "cleat_system", "price"],
        unique=False,
    )
    op.create_index(
        "ix_product_category_stock_margin",
        "product",
        ["category", "stock", "margin_pct"],
        unique=False,
    )
    op.create_index(op.f("ix_product_cleat_system"), "product", ["cleat_system"], unique=False)
    op.create_index(op.f("ix_product_frame_material"), "product", ["frame_material"], unique=False)
    op.create_index(op.f("ix_product_frame_size_cm"), "product", ["frame_size_cm"], unique=False)
    op.create_index(op.f("ix_product_gears"), "product", ["gears"], unique=False)
    op.create_index(op.f("ix_product_geometry"), "product", ["geometry"], unique=False)
    op.create_index(op.f("ix_product_group_sku"), "product", ["group_sku"], unique=False)
    op.create_index(op.f("ix_product_groupset"), "product", ["groupset"], unique=False)
    op.create_index(op.f("ix_product_light_lumen"), "product", ["light_lumen"], unique=False)
    op.create_index(op.f("ix_product_motor"), "product", ["motor"], unique=False)
    op.create_index(op.f("ix_product_mounting"), "product", ["mounting"], unique=False)
    op.create_index(
        op.f("ix_product_pedals_included"), "product", ["pedals_included"], unique=False
    )
    op.create_index(
        "ix_product_rank_price",
        "product",
        ["category", "price", "pedals_included", "stock", "margin_pct", "geometry", "brake_type"],
        unique=False,
        postgresql_include=["id"],
    )
    op.create_index(
        "ix_product_rank_size",
        "product",
        [
            "category",
            "frame_size_cm",
            "price",
            "pedals_included",
            "stock",
            "margin_pct",
            "geometry",
            "brake_type",
        ],
        unique=False,
        postgresql_include=["id"],
    )
    op.create_index(op.f("ix_product_shoe_size_eu"), "product", ["shoe_size_eu"], unique=False)
    op.create_index(op.f("ix_product_size"), "product", ["size"], unique=False)
    op.create_index(
        op.f("ix_product_suspension_travel_mm"), "product", ["suspension_travel_mm"], unique=False
    )
    op.create_index(op.f("ix_product_tyre_width_mm"), "product", ["tyre_width_mm"], unique=False)
    op.create_index(op.f("ix_product_weight_kg"), "product", ["weight_kg"], unique=False)
    op.create_index(op.f("ix_product_wheel_size"), "product", ["wheel_size"], unique=False)
    op.create_table(
        "productrelation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "kind", sa.Enum("ACCESSORY_OF", "COMPATIBLE_WITH", name="relationkind"), nullable=False
        ),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "target", "kind", name="uq_relation"),
    )
    op.create_index(op.f("ix_productrelation_kind"), "productrelation", ["kind"], unique=False)
    op.create_index(op.f("ix_productrelation_source"), "productrelation", ["source"], unique=False)
    op.create_index(op.f("ix_productrelation_target"), "productrelation", ["target"], unique=False)
    op.create_table(
        "rule_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ruleset_id", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ruleset_id"),
    )
    op.create_table(
        "rule_draft_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ruleset_id", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ruleset_id", "revision", name="uq_rule_draft_revision"),
    )
    op.create_index(
        op.f("ix_rule_draft_revision_ruleset_id"),
        "rule_draft_revision",
        ["ruleset_id"],
        unique=False,
    )
    op.create_table(
        "rule_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ruleset_id", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("changes", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ruleset_id", "version", name="uq_rule_version"),
    )
    op.create_index(
        op.f("ix_rule_version_ruleset_id"), "rule_version", ["ruleset_id"], unique=False
    )
    op.create_table(
        "staff_login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_staff_login_failure_at"), "staff_login_failure", ["at"], unique=False)
    op.create_index(op.f("ix_staff_login_failure_ip"), "staff_login_failure", ["ip"], unique=False)
    op.create_index(
        op.f("ix_staff_login_failure_name"), "staff_login_failure", ["name"], unique=False
    )
    op.create_table(
        "staff_user",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_staff_user_name"), "staff_user", ["name"], unique=True)
    op.create_table(
        "advisor_answer_fact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facts_id", sa.Integer(), nullable=False),
        sa.Column("question", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("ruleset", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facts_id"],
            ["advisor_conversation_facts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("facts_id", "question"),
    )
    op.create_index(
        "ix_advisor_answer_fact_counts",
        "advisor_answer_fact",
        ["question", "value", "ruleset", "version", "language", "channel", "started_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_advisor_answer_fact_facts_id"), "advisor_answer_fact", ["facts_id"], unique=False
    )
    op.create_table(
        "rule_publication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ruleset_id", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["rule_version.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_rule_publication_ruleset_id"), "rule_publication", ["ruleset_id"], unique=False
    )
    op.create_table(
        "staff_login_session",
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_user.id"],
        ),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index(
        op.f("ix_staff_login_session_expires_at"),
        "staff_login_session",
        ["expires_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_staff_login_session_user_id"), "staff_login_session", ["user_id"], unique=False
    )


def downgrade() -> None:
    """Take this migration back."""
    op.drop_index(op.f("ix_staff_login_session_user_id"), table_name="staff_login_session")
    op.drop_index(op.f("ix_staff_login_session_expires_at"), table_name="staff_login_session")
    op.drop_table("staff_login_session")
    op.drop_index(op.f("ix_rule_publication_ruleset_id"), table_name="rule_publication")
    op.drop_table("rule_publication")
    op.drop_index(op.f("ix_advisor_answer_fact_facts_id"), table_name="advisor_answer_fact")
    op.drop_index("ix_advisor_answer_fact_counts", table_name="advisor_answer_fact")
    op.drop_table("advisor_answer_fact")
    op.drop_index(op.f("ix_staff_user_name"), table_name="staff_user")
    op.drop_table("staff_user")
    op.drop_index(op.f("ix_staff_login_failure_name"), table_name="staff_login_failure")
    op.drop_index(op.f("ix_staff_login_failure_ip"), table_name="staff_login_failure")
    op.drop_index(op.f("ix_staff_login_failure_at"), table_name="staff_login_failure")
    op.drop_table("staff_login_failure")
    op.drop_index(op.f("ix_rule_version_ruleset_id"), table_name="rule_version")
    op.drop_table("rule_version")
    op.drop_index(op.f("ix_rule_draft_revision_ruleset_id"), table_name="rule_draft_revision")
    op.drop_table("rule_draft_revision")
    op.drop_table("rule_draft")
    op.drop_index(op.f("ix_productrelation_target"), table_name="productrelation")
    op.drop_index(op.f("ix_productrelation_source"), table_name="productrelation")
    op.drop_index(op.f("ix_productrelation_kind"), table_name="productrelation")
    op.drop_table("productrelation")
    op.drop_index(op.f("ix_product_wheel_size"), table_name="product")
    op.drop_index(op.f("ix_product_weight_kg"), table_name="product")
    op.drop_index(op.f("ix_product_tyre_width_mm"), table_name="product")
    op.drop_index(op.f("ix_product_suspension_travel_mm"), table_name="product")
    op.drop_index(op.f("ix_product_size"), table_name="product")
    op.drop_index(op.f("ix_product_shoe_size_eu"), table_name="product")
    op.drop_index("ix_product_rank_size", table_name="product", postgresql_include=["id"])
    op.drop_index("ix_product_rank_price", table_name="product", postgresql_include=["id"])
    op.drop_index(op.f("ix_product_pedals_included"), table_name="product")
    op.drop_index(op.f("ix_product_mounting"), table_name="product")
    op.drop_index(op.f("ix_product_motor"), table_name="product")
    op.drop_index(op.f("ix_product_light_lumen"), table_name="product")
    op.drop_index(op.f("ix_product_groupset"), table_name="product")
    op.drop_index(op.f("ix_product_group_sku"), table_name="product")
    op.drop_index(op.f("ix_product_geometry"), table_name="product")
    op.drop_index(op.f("ix_product_gears"), table_name="product")
    op.drop_index(op.f("ix_product_frame_size_cm"), table_name="product")
    op.drop_index(op.f("ix_product_frame_material"), table_name="product")
    op.drop_index(op.f("ix_product_cleat_system"), table_name="product")
    op.drop_index("ix_product_category_stock_margin", table_name="product")
    op.drop_index("ix_product_category_cleat_price", table_name="product")
    op.drop_index(op.f("ix_product_category"), table_name="product")
    op.drop_index(op.f("ix_product_brand"), table_name="product")
    op.drop_index(op.f("ix_product_brake_type"), table_name="product")
    op.drop_index(op.f("ix_product_battery_wh"), table_name="product")
    op.drop_table("product")
    op.drop_table("advisor_staff_presence")
    op.drop_index(op.f("ix_advisor_shared_kind"), table_name="advisor_shared")
    op.drop_index(op.f("ix_advisor_shared_expires_at"), table_name="advisor_shared")
    op.drop_index(op.f("ix_advisor_shared_conversation"), table_name="advisor_shared")
    op.drop_table("advisor_shared")
    op.drop_table("advisor_rating")
    op.drop_table("advisor_opening_hours")
    op.drop_index("ix_advisor_offer_shown_sku", table_name="advisor_offer_shown")
    op.drop_index(op.f("ix_advisor_offer_shown_conversation"), table_name="advisor_offer_shown")
    op.drop_table("advisor_offer_shown")
    op.drop_index(op.f("ix_advisor_live_message_handover_id"), table_name="advisor_live_message")
    op.drop_table("advisor_live_message")
    op.drop_index(op.f("ix_advisor_inbox_message_handover_id"), table_name="advisor_inbox_message")
    op.drop_index(op.f("ix_advisor_inbox_message_created_at"), table_name="advisor_inbox_message")
    op.drop_table("advisor_inbox_message")
    op.drop_index(op.f("ix_advisor_handover_status"), table_name="advisor_handover")
    op.drop_index(op.f("ix_advisor_handover_staff"), table_name="advisor_handover")
    op.drop_index(op.f("ix_advisor_handover_created_at"), table_name="advisor_handover")
    op.drop_index(op.f("ix_advisor_handover_conversation"), table_name="advisor_handover")
    op.drop_table("advisor_handover")
    op.drop_index("ix_advisor_event_reports", table_name="advisor_event")
    op.drop_index("ix_advisor_event_conversation", table_name="advisor_event")
    op.drop_table("advisor_event")
    op.drop_index("ix_advisor_facts_reports", table_name="advisor_conversation_facts")
    op.drop_index("ix_advisor_facts_conversation", table_name="advisor_conversation_facts")
    op.drop_table("advisor_conversation_facts")
    op.drop_table("advisor_code_claim")
    op.drop_index(op.f("ix_advisor_code_attempt_code"), table_name="advisor_code_attempt")
    op.drop_index(op.f("ix_advisor_code_attempt_client"), table_name="advisor_code_attempt")
    op.drop_index(op.f("ix_advisor_code_attempt_at"), table_name="advisor_code_attempt")
    op.drop_table("advisor_code_attempt")
    op.drop_index(op.f("ix_advisor_audit_session_id"), table_name="advisor_audit")
    op.drop_table("advisor_audit")
    op.drop_index(
        op.f("ix_advisor_assisted_session_updated_at"), table_name="advisor_assisted_session"
    )
    op.drop_index(op.f("ix_advisor_assisted_session_staff"), table_name="advisor_assisted_session")
    op.drop_table("advisor_assisted_session")
