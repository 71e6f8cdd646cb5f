"""Indexes for the web pages and the audit search (issue 17)

Revision ID: 0010
Revises: 0009
"""

from alembic import op


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_posts_page_order", "posts", ["due_at", "account", "language", "id"])
    op.create_index("ix_posts_language", "posts", ["language"])
    op.create_index("ix_events_action", "events", ["action", "id"])
    op.create_index("ix_events_actor", "events", ["actor", "id"])
    op.create_index("ix_events_post_action", "events", ["post_id", "action"])
    op.drop_index("ix_events_post", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_post", "events", ["post_id"])
    op.drop_index("ix_events_post_action", table_name="events")
    op.drop_index("ix_events_actor", table_name="events")
    op.drop_index("ix_events_action", table_name="events")
    op.drop_index("ix_posts_language", table_name="posts")
    op.drop_index("ix_posts_page_order", table_name="posts")
