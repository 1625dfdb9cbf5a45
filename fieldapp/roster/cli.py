"""`flask --app fieldapp issue-ids FILE --letters PATH`: issue collection IDs from a list (the same
checks and all-or-nothing rule as the web page, over every village of the town; messages in English).

Activation codes are secrets: they are never printed to the terminal (terminals are logged, scripts
pipe output into files). They go only into the letters file, written with owner-only permissions
(0600) to a path that must not exist yet; the command prints the IDs and that path. Open the file in
a browser, print it (one A4 page per person), then delete it.
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlalchemy import select

from ..doors.cli import report_plan
from ..extensions import db
from ..models import Town, Village
from . import issuing, letters


@click.command("issue-ids")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", "check_only", is_flag=True, help="Only check the list and print the report.")
@click.option("--letters", "letters_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the activation letters (.html, created with mode 0600; must not exist).")
@click.option("--base-url", default=None, help="The public address the letters' QR codes open "
                                                "(default: PUBLIC_BASE_URL).")
@click.option("--valid-until", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option("--lang", type=click.Choice(["zh_Hans_CN", "en"]), default="zh_Hans_CN", show_default=True,
              help="Language of the letters.")
@click.option("--max-rows", default=10_000, show_default=True, help="Refuse lists with more data rows.")
@with_appcontext
def issue_ids_command(path: Path, check_only: bool, letters_path: Path | None, base_url: str | None,
                      valid_until: datetime | None, lang: str, max_rows: int):
    """Issue collection IDs from a CSV or .xlsx list (name, role, villages, sub-areas, phone): every
    row is checked; nothing is issued unless all pass. The activation letters go to --letters."""
    town = db.session.scalar(select(Town).order_by(Town.id))
    if town is None:
        raise click.ClickException("No town yet: run `flask --app fieldapp setup` first.")
    base = (base_url or current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    if not check_only:
        if letters_path is None:
            raise click.ClickException("Give --letters PATH: the activation codes are written only there.")
        if letters_path.exists():
            raise click.ClickException(f"{letters_path} exists already: choose a new file for the letters.")
        if not base.startswith(("https://", "http://")):
            raise click.ClickException("Give --base-url https://… (or set PUBLIC_BASE_URL): the address phones "
                                       "open from the letters' QR codes.")
    villages = list(db.session.scalars(select(Village).where(Village.town_id == town.id)
                                       .order_by(Village.sort_order, Village.id)))
    with force_locale("en"):
        plan = issuing.check(issuing.read_file(path.read_bytes(), max_rows), town.id, villages)
    if not report_plan(plan, issuing.file_message, lambda row: [issuing.row_report(row)], "issued", check_only):
        return
    # The file first (exclusive, owner-only), so a path that cannot be written issues nothing.
    try:
        fd = os.open(letters_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise click.ClickException(f"Cannot create {letters_path}: {error.strerror}.") from None
    try:
        town_id, office = town.id, town.office
        db.session.commit()  # it only read: the slow hashes must not hold the write lock (prepare_codes)
        prepared = issuing.prepare_codes(plan)
        issuing.check(plan, town_id, list(db.session.scalars(select(Village).where(Village.town_id == town_id))))
        if not plan.ok:
            raise click.ClickException("The IDs changed while the codes were made (a phone number was issued "
                                       "meanwhile): nothing was issued. Run the command again.")
        _batch, issued = issuing.issue_all(plan, town_id, office, None,
                                           valid_until.date() if valid_until else None, prepared)
        made = letters.letters_for(issued, None, base)
        html = letters.standalone_html(made, base, lang)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            fd = None
            out.write(html)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        if fd is not None:
            os.close(fd)
        letters_path.unlink(missing_ok=True)
        raise
    for account, _code in issued:
        click.echo(f"{account.collection_id}  {account.role:12} {account.name}")
    click.echo(f"Issued {len(issued)} collection IDs. Activation letters (one A4 page each, codes inside): "
               f"{letters_path}")
    click.echo("Print the letters, hand them over in person, then delete the file.")
