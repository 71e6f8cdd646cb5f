"""The claim's indexes end in id, the claim's tie-break (issue 17)

PostgreSQL can then walk the due posts in the claim's order (due_at, id) and stop at its
limit instead of checking every due post and sorting, and seek an account's same-time
earlier post by id. SQLite's indexes already end in the rowid (id): the same order there.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_posts_due", table_name="posts")
    op.create_index("ix_posts_due", "posts", ["state", "due_at", "id"])
    op.drop_index("ix_posts_account_queue", table_name="posts")
    op.create_index("ix_posts_account_queue", "posts", ["account", "state", "due_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_posts_account_queue", table_name="posts")
    op.create_index("ix_posts_account_queue", "posts", ["account", "state", "due_at"])
    op.drop_index("ix_posts_due", table_name="posts")
    op.create_index("ix_posts_due", "posts", ["state", "due_at"])
