"""blank door labels

Label stock printed before the houses exist (models/labels.py): a collector creating a new house
scans one, and the house takes its code and token when it reaches the server.

Revision ID: 1d602fe5971d
Revises: ca218bdb2f43
Create Date: 2026-12-03 12:06:56.509478

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '1d602fe5971d'
down_revision = 'ca218bdb2f43'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('blank_labels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('door_code', sa.String(length=16), nullable=False),
    sa.Column('door_token', sa.String(length=64), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('batch', sa.String(length=32), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('bound_house_id', sa.Integer(), nullable=True),
    sa.Column('bound_at', sa.DateTime(), nullable=True),
    sa.Column('bound_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['bound_by_id'], ['accounts.id'], name=op.f('fk_blank_labels_bound_by_id_accounts')),
    sa.ForeignKeyConstraint(['bound_house_id'], ['houses.id'], name=op.f('fk_blank_labels_bound_house_id_houses')),
    sa.ForeignKeyConstraint(['created_by_id'], ['accounts.id'], name=op.f('fk_blank_labels_created_by_id_accounts')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_blank_labels_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_blank_labels')),
    sa.UniqueConstraint('bound_house_id', name=op.f('uq_blank_labels_bound_house_id')),
    sa.UniqueConstraint('door_code', name=op.f('uq_blank_labels_door_code')),
    sa.UniqueConstraint('door_token', name=op.f('uq_blank_labels_door_token'))
    )
    with op.batch_alter_table('blank_labels', schema=None) as batch_op:
        batch_op.create_index('ix_blank_labels_village_batch', ['village_id', 'batch'], unique=False)



def downgrade():
    with op.batch_alter_table('blank_labels', schema=None) as batch_op:
        batch_op.drop_index('ix_blank_labels_village_batch')

    op.drop_table('blank_labels')
