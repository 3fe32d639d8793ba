"""reliability (issue 13): suppression list of forgotten contacts; read time of an analysis; connection status

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppressed_contacts",
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("contact_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("connection_id", "contact_key"),
    )
    with op.batch_alter_table("contact_states") as batch:
        batch.add_column(sa.Column("read_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("status", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("status_detail", sa.Text(), nullable=True))
        batch.add_column(sa.Column("status_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("status_since")
        batch.drop_column("status_detail")
        batch.drop_column("status")
    with op.batch_alter_table("contact_states") as batch:
        batch.drop_column("read_at")
    op.drop_table("suppressed_contacts")
