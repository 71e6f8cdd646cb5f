"""Never twice: a person's resend counter (part of the idempotency key) and the start of
the look-up window of a post whose send is in doubt

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(
            sa.Column("resend_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("check_from", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("check_from")
        batch.drop_column("resend_count")
