"""channel orders keep their raw payload as JSON text compressed with LZ4 (PostgreSQL)

The payload is kept for audit only: JSON text skips the JSONB conversion, and LZ4 compresses the
large documents (a Shopify order is about 19 KB) several times faster than the default pglz.

Revision ID: 0018_channel_speed
Revises: 0017_users
Create Date: 2026-12-05 02:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018_channel_speed"
down_revision: str | Sequence[str] | None = "0017_users"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite keeps JSON as text already
    op.execute("ALTER TABLE channel_order ALTER COLUMN raw TYPE json USING raw::json")
    if _has_lz4():
        op.execute("ALTER TABLE channel_order ALTER COLUMN raw SET COMPRESSION lz4")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE channel_order ALTER COLUMN raw SET COMPRESSION default")
    op.execute("ALTER TABLE channel_order ALTER COLUMN raw TYPE jsonb USING raw::jsonb")


def _has_lz4() -> bool:
    """Whether this server was built with LZ4 (PostgreSQL 14 and later, `--with-lz4`)."""
    found = op.get_bind().exec_driver_sql(
        "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
    )
    return found.first() is not None
