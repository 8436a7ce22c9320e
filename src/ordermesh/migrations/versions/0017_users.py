"""dashboard users (argon2 password hashes, invitations) and their sessions; the order list's indexes
for its channel and SKU filters

Revision ID: 0017_users
Revises: 0016_inbound
Create Date: 2026-12-05 02:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ordermesh.base

revision: str = "0017_users"
down_revision: str | Sequence[str] | None = "0016_inbound"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "user_account",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("merchant_id", BIG_ID, nullable=True),
        sa.Column("location_id", BIG_ID, nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("invite_hash", sa.String(length=64), nullable=True),
        sa.Column("invite_expires_at", ordermesh.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", ordermesh.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("created_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_user_account_location_id_location")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_user_account_merchant_id_merchant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("email", name=op.f("uq_user_account_email")),
        sa.UniqueConstraint("invite_hash", name=op.f("uq_user_account_invite_hash")),
    )
    op.create_table(
        "user_session",
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("acting_merchant_id", BIG_ID, nullable=True),
        sa.Column("expires_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("created_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["acting_merchant_id"], ["merchant.id"], name=op.f("fk_user_session_acting_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_user_session_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_session_token_hash")),
    )
    op.create_index("ix_user_session_user", "user_session", ["user_id"], unique=False)
    op.create_index("ix_order_merchant_channel", "order", ["merchant_id", "channel", "id"], unique=False)
    op.create_index(
        "ix_order_line_merchant_sku_code", "order_line", ["merchant_id", "sku_code", "order_id"], unique=False
    )
    if op.get_bind().dialect.name == "postgresql":
        # Which channels each merchant sells on: without it, PostgreSQL expects a channel another merchant
        # uses a lot to be common for this one too, and walks the whole list by id looking for it.
        op.execute('CREATE STATISTICS st_order_merchant_channel (mcv) ON merchant_id, channel FROM "order"')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS st_order_merchant_channel")
    op.drop_index("ix_order_line_merchant_sku_code", table_name="order_line")
    op.drop_index("ix_order_merchant_channel", table_name="order")
    op.drop_index("ix_user_session_user", table_name="user_session")
    op.drop_table("user_session")
    op.drop_table("user_account")
