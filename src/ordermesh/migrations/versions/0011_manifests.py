"""floor: end-of-day manifests, each listing the packages of one location and carrier

Revision ID: 0011_manifests
Revises: 0010_order_line_returned
Create Date: 2026-12-05 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ordermesh.base

revision: str = "0011_manifests"
down_revision: str | Sequence[str] | None = "0010_order_line_returned"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "manifest",
        sa.Column("location_id", ID, nullable=False),
        sa.Column("carrier", sa.String(length=40), nullable=False),
        sa.Column("packages", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("created_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_manifest_location_id_location")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manifest")),
    )
    op.create_index("ix_manifest_location", "manifest", ["location_id", "id"], unique=False)
    op.create_table(
        "manifest_line",
        sa.Column("manifest_id", ID, nullable=False),
        sa.Column("shipment_id", ID, nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_id"], ["manifest.id"], name=op.f("fk_manifest_line_manifest_id_manifest")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipment.id"], name=op.f("fk_manifest_line_shipment_id_shipment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manifest_line")),
        sa.UniqueConstraint("shipment_id", name="uq_manifest_line_shipment"),
    )
    op.create_index("ix_manifest_line_manifest", "manifest_line", ["manifest_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_manifest_line_manifest", table_name="manifest_line")
    op.drop_table("manifest_line")
    op.drop_index("ix_manifest_location", table_name="manifest")
    op.drop_table("manifest")
