"""`flask --app fieldapp import-houses FILE`: the register import from the command line (same checks
and all-or-nothing rule as the web page, over every village of the town; messages in English).
No request timeout here, so the web page's size and row caps do not apply; --max-rows only guards
against the wrong file."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlalchemy import select

from ..extensions import db
from ..models import Town, Village
from . import importer


def report_plan(plan, file_message, row_lines, verb: str, check_only: bool) -> bool:
    """Print a checked all-or-nothing plan (a rules.register_import.ImportPlan) as the import commands
    do, messages in English: a file problem stops here, each rejected row's `row_lines(row)` go to
    stderr, then the ignored columns and the counts. True when the plan may be carried out; False
    after --check; ClickException ("Nothing was `verb`") when a row is rejected. Also used by
    `issue-ids` (fieldapp.roster.cli)."""
    with force_locale("en"):
        if plan.file_problem:
            raise click.ClickException(file_message(plan.file_problem))
        for row in plan.rejected:
            for line in row_lines(row):
                click.echo(f"row {row.line}: {line}", err=True)
        if plan.ignored_columns:
            click.echo("Ignored columns: " + ", ".join(plan.ignored_columns))
    good = len(plan.rows) - len(plan.rejected)
    click.echo(f"{len(plan.rows)} rows read: {good} valid, {len(plan.rejected)} rejected.")
    if not plan.ok:
        raise click.ClickException(f"Nothing was {verb}: correct the rejected rows and run again.")
    if check_only:
        click.echo(f"Checked only; nothing {verb}.")
        return False
    return True


@click.command("import-houses")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", "check_only", is_flag=True, help="Only check the file and print the report.")
@click.option("--max-rows", default=100_000, show_default=True, help="Refuse files with more data rows.")
@with_appcontext
def import_houses_command(path: Path, check_only: bool, max_rows: int):
    """Import a house register (CSV or .xlsx): every row is checked; nothing is imported unless all pass."""
    town = db.session.scalar(select(Town).order_by(Town.id))
    if town is None:
        raise click.ClickException("No town yet: set one up with `flask --app fieldapp town import town.xlsx` or "
                                   "`town create` (README: Start your own town), or load the demo with "
                                   "`flask --app fieldapp setup`.")
    villages = list(db.session.scalars(select(Village).where(Village.town_id == town.id)))
    with force_locale("en"):
        plan = importer.check(path.read_bytes(), villages, max_rows)
    if not report_plan(plan, importer.file_message,
                       lambda row: [f"{importer.COLUMN_LABELS[issue.column]}: {importer.issue_message(issue)}"
                                    for issue in row.issues],
                       "imported", check_only):
        return
    houses = importer.import_rows(plan, None)
    db.session.commit()
    click.echo(f"Imported {len(houses)} houses.")


@click.group("doors")
def doors_group():
    """Door labels: blank label stock for new houses."""


@doors_group.command("blank-labels")
@click.option("--village", "village_code", required=True, help="The village's code (as in town set-up).")
@click.option("--count", type=int, required=True, help="How many labels (at most 240 per batch).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the printable A4 sheets (HTML) to this file; without it only the batch is reported.")
@with_appcontext
def blank_labels_command(village_code: str, count: int, out: Path | None):
    """Print blank door labels for a village: codes not yet bound to a house (issue 12)."""
    from flask import current_app
    from . import labels, qr
    from .views import render_blank_sheet
    if not 1 <= count <= labels.MAX_PER_BATCH:
        raise click.ClickException(f"--count must be 1 to {labels.MAX_PER_BATCH}: print another batch for more.")
    village = db.session.scalar(select(Village).where(Village.code == village_code.strip()))
    if village is None:
        raise click.ClickException(f"No village has code {village_code!r}: see `flask --app fieldapp town` for codes.")
    batch, made = labels.issue(None, village.id, count, source="cli")
    db.session.commit()
    click.echo(f"Printed batch {batch}: {len(made)} blank labels for {village.name}.")
    if out is not None:
        base = current_app.config.get("PUBLIC_BASE_URL") or "http://localhost"
        css = "\n".join((Path(current_app.static_folder) / "css" / name).read_text("utf-8")
                        for name in ("doors.css", "doors-print.css"))
        with current_app.test_request_context(base_url=base), force_locale("zh"):
            page = render_blank_sheet(village, batch, made, qr.base_url(), inline_css=css)
        out.write_text(page, "utf-8")
        click.echo(f"Wrote {out}: open it in a browser and print on A4 at 100 % scale.")
