"""search indexes on people name and phone

Search (fieldapp/search) finds people by name from its first character and by phone number at a
million people: ix_people_name (PostgreSQL: varchar_pattern_ops, so LIKE 'prefix%' uses it under
any collation; SQLite: a plain index, queried as a range) and ix_people_phone. Indexes only: no
data changes.

Revision ID: 6de517b7b442
Revises: 25d69a02f47b
Create Date: 2026-12-03 07:30:02.127243

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '6de517b7b442'
down_revision = '25d69a02f47b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_people_name', 'people', ['name'], unique=False,
                    postgresql_ops={'name': 'varchar_pattern_ops'})
    op.create_index('ix_people_phone', 'people', ['phone'], unique=False)


def downgrade():
    op.drop_index('ix_people_phone', table_name='people')
    op.drop_index('ix_people_name', table_name='people')
