"""returns carry a prepaid return label: carrier, service, tracking number, cost, weight and ship-to

Revision ID: 0012_return_labels
Revises: 0011_manifests
Create Date: 2026-12-05 01:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ordermesh.base

revision: str = "0012_return_labels"
down_revision: str | Sequence[str] | None = "0011_manifests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("return_authorization", schema=None) as batch_op:
        batch_op.add_column(sa.Column("label_carrier", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("label_service", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("label_tracking_number", sa.String(length=60), nullable=True))
        batch_op.add_column(
            sa.Column("label_cost", ordermesh.base.Exact(precision=18, scale=4), nullable=True)
        )
        batch_op.add_column(sa.Column("label_currency", sa.String(length=3), nullable=True))
        batch_op.add_column(
            sa.Column("label_weight_kg", ordermesh.base.Exact(precision=10, scale=3), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "label_location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.create_foreign_key(
            "fk_return_authorization_label_location_id_location", "location", ["label_location_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("return_authorization", schema=None) as batch_op:
        batch_op.drop_constraint("fk_return_authorization_label_location_id_location", type_="foreignkey")
        for column in (
            "label_location_id",
            "label_weight_kg",
            "label_currency",
            "label_cost",
            "label_service",
            "label_tracking_number",
            "label_carrier",
        ):
            batch_op.drop_column(column)
