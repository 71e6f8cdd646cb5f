"""An index for the claim's "earliest waiting post of this account" check

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_index("ix_posts_account_state")
        batch.create_index("ix_posts_account_queue", ["account", "state", "due_at"])


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_index("ix_posts_account_queue")
        batch.create_index("ix_posts_account_state", ["account", "state"])
