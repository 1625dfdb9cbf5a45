"""timeliness figures: collector_days review columns, reviewer_days

Revision ID: aa08d93cb432
Revises: 1d602fe5971d
Create Date: 2026-12-03 12:22:19.560715

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'aa08d93cb432'
down_revision = '1d602fe5971d'
branch_labels = None
depends_on = None


def upgrade():
    # The new figures start at zero for changes already stored: `flask --app fieldapp recount`
    # (changefeed.rebuild_daily) fills them from the changes after upgrading.
    op.create_table('reviewer_days',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('approved', sa.Integer(), nullable=False),
    sa.Column('returned', sa.Integer(), nullable=False),
    sa.Column('late', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_reviewer_days_account_id_accounts')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_reviewer_days_village_id_villages')),
    sa.PrimaryKeyConstraint('account_id', 'village_id', 'day', name=op.f('pk_reviewer_days'))
    )
    with op.batch_alter_table('reviewer_days', schema=None) as batch_op:
        batch_op.create_index('ix_reviewer_days_village_day', ['village_id', 'day'], unique=False)

    with op.batch_alter_table('collector_days', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reviewable', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('collected_late', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('reviewed', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('returned', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('reviewed_late', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('timely', sa.Integer(), server_default='0', nullable=False))



def downgrade():
    with op.batch_alter_table('collector_days', schema=None) as batch_op:
        batch_op.drop_column('timely')
        batch_op.drop_column('reviewed_late')
        batch_op.drop_column('returned')
        batch_op.drop_column('reviewed')
        batch_op.drop_column('collected_late')
        batch_op.drop_column('reviewable')

    with op.batch_alter_table('reviewer_days', schema=None) as batch_op:
        batch_op.drop_index('ix_reviewer_days_village_day')

    op.drop_table('reviewer_days')
