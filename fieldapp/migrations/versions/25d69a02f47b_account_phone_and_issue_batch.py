"""account phone and issue batch

The holder's mobile number on a collection ID (shown masked in lists), and the random key of the
batch an ID was issued in from a file, so the batch's activation letters can be printed again.

Revision ID: 25d69a02f47b
Revises: bfeac20fcbe7
Create Date: 2026-12-03 07:29:41.029822

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '25d69a02f47b'
down_revision = 'bfeac20fcbe7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=11), nullable=True))
        batch_op.add_column(sa.Column('issue_batch', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_accounts_issue_batch'), ['issue_batch'], unique=False)


def downgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_issue_batch'))
        batch_op.drop_column('issue_batch')
        batch_op.drop_column('phone')

