"""Shopify webhooks: the API version of each delivery taken in, on its channel_event row

Revision ID: 0015_shopify_tokens
Revises: 0014_forecasts
Create Date: 2026-12-05 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_shopify_tokens"
down_revision: str | Sequence[str] | None = "0014_forecasts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("channel_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("api_version", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channel_event", schema=None) as batch_op:
        batch_op.drop_column("api_version")
