"""one line of history: the channels, floor and routing branches merged

Revision ID: 0004_one_history
Revises: 0002_channels, 0002_routing, 0003_floor_wave_cancel
Create Date: 2026-12-02 19:00:00.000000
"""

from collections.abc import Sequence

revision: str = "0004_one_history"
down_revision: str | Sequence[str] | None = ("0002_channels", "0002_routing", "0003_floor_wave_cancel")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
