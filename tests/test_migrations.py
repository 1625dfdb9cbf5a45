"""The migrations are the schema: they must produce exactly the models' tables, run again without
harm, go down and up again, and never drop data without saying how it is kept."""
from __future__ import annotations

import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select

from fieldapp import MIGRATIONS
from fieldapp.extensions import db
from fieldapp.models import Village

from .builders import make_town

VERSIONS = sorted(Path(MIGRATIONS, "versions").glob("*.py"))


def test_migrated_schema_equals_the_models(ctx):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert diff == []


def test_upgrade_again_keeps_data(ctx):
    make_town()
    upgrade(directory=MIGRATIONS)
    assert db.session.scalar(select(func.count()).select_from(Village)) == 2


def test_down_to_base_and_up_again(make_app, tmp_path):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'cycle.sqlite'}")
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        downgrade(directory=MIGRATIONS, revision="base")
        assert set(db.inspect(db.engine).get_table_names()) == {"alembic_version"}
        upgrade(directory=MIGRATIONS)
        assert "people" in db.inspect(db.engine).get_table_names()


def test_one_linear_history():
    revisions = {}
    for path in VERSIONS:
        text = path.read_text(encoding="utf-8")
        revision = re.search(r"^revision = '([0-9a-f]+)'", text, re.M).group(1)
        down = re.search(r"^down_revision = (None|'([0-9a-f]+)')", text, re.M).group(2)
        revisions[revision] = down
    heads = set(revisions) - set(revisions.values())
    assert len(heads) == 1, f"several heads: {heads}; merge them"
    assert list(revisions.values()).count(None) == 1


def test_upgrades_do_not_drop_data_silently():
    """A drop in an upgrade must say, in a '# keeps data:' comment, where the data went."""
    for path in VERSIONS:
        text = path.read_text(encoding="utf-8")
        upgrade_body = text.split("def upgrade", 1)[1].split("def downgrade", 1)[0]
        if re.search(r"op\.drop_(table|column)|batch_op\.drop_column", upgrade_body):
            assert "# keeps data:" in upgrade_body, f"{path.name} drops a table or column without saying why"
