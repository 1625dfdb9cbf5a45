"""`flask --app fieldapp backup PATH` and `flask --app fieldapp restore PATH [--force]` (docs/backup.md)."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from . import service


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def backup_command(path: Path):
    """Write one archive (mode 0600) with a consistent copy of the database, the photos and the
    secret key. PATH is a new file, or a directory to put a file named by the time in. Safe while
    the app runs and phones push."""
    try:
        result = service.make_backup(path)
    except service.BackupError as error:
        raise click.ClickException(str(error)) from None
    manifest = result.manifest
    photos = sum(1 for f in manifest["files"] if f["path"].startswith("photos/"))
    rows = sum(n for t, n in manifest["row_counts"].items() if t != "alembic_version")
    size = result.path.stat().st_size
    click.echo(f"Backup written: {result.path} ({size / 1e6:.1f} MB, {manifest['database']['kind']} at revision "
               f"{manifest['alembic_revision']}, {rows} rows, {photos} photo files) in {result.seconds:.1f} s.")
    if manifest["audit_head"]:
        head = manifest["audit_head"]
        click.echo(f"Audit head in the backup: {head['seq']}:{head['hash']}")
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@with_appcontext
def restore_command(path: Path, force: bool):
    """Restore an archive made by `backup` into this instance's database, photo directory and
    instance folder. Every file is checked against the manifest before anything is written. Stop
    the app servers first."""
    try:
        result = service.restore_backup(path, force=force)
    except service.BackupError as error:
        raise click.ClickException(str(error)) from None
    manifest = result.manifest
    rows = sum(n for t, n in manifest["row_counts"].items() if t != "alembic_version")
    click.echo(f"Restored the backup made {manifest['created_at']} ({manifest['database']['kind']}, revision "
               f"{manifest['alembic_revision']}, {rows} rows, counts checked) in {result.seconds:.1f} s.")
    for note in result.notes:
        click.echo(f"  {note}")
