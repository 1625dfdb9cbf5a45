"""sub-areas, town county code and package setting

Sub-areas (片区/楼组) inside villages, houses in them, accounts assigned to them; the town's GB/T 2260
county code and whether work packages follow sub-area assignments (off for existing towns).

Revision ID: bfeac20fcbe7
Revises: c66ad3e7fa40
Create Date: 2026-12-02 21:54:14.982678

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'bfeac20fcbe7'
down_revision = 'c66ad3e7fa40'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sub_areas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_sub_areas_village_id_villages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sub_areas')),
    sa.UniqueConstraint('village_id', 'code', name='uq_sub_areas_village_code')
    )
    with op.batch_alter_table('sub_areas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sub_areas_village_id'), ['village_id'], unique=False)

    op.create_table('account_sub_areas',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('sub_area_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_account_sub_areas_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sub_area_id'], ['sub_areas.id'], name=op.f('fk_account_sub_areas_sub_area_id_sub_areas'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'sub_area_id', name=op.f('pk_account_sub_areas'))
    )
    with op.batch_alter_table('houses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sub_area_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_houses_sub_area_id'), ['sub_area_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_houses_sub_area_id_sub_areas'), 'sub_areas', ['sub_area_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('towns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('county_code', sa.String(length=6), nullable=True))
        batch_op.add_column(sa.Column('package_by_sub_area', sa.Boolean(), nullable=False, server_default=sa.false()))



def downgrade():
    with op.batch_alter_table('towns', schema=None) as batch_op:
        batch_op.drop_column('package_by_sub_area')
        batch_op.drop_column('county_code')

    with op.batch_alter_table('houses', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_houses_sub_area_id_sub_areas'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_houses_sub_area_id'))
        batch_op.drop_column('sub_area_id')

    op.drop_table('account_sub_areas')
    with op.batch_alter_table('sub_areas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sub_areas_village_id'))

    op.drop_table('sub_areas')
