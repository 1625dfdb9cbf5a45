"""`flask --app fieldapp import-people FILE` and `import-orgs FILE`: the register imports from the
command line, with the web pages' checks and all-or-nothing rule (messages in English), over every
village of the town or only `--village CODE` (then the file may leave the village column out).
The command line is the server's operator: it sees the whole town, people from abroad included, so
a document registered anywhere in the town at the row's own house is updated, not asked to move.
`import-template KIND PATH` writes the blank template."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Town, Village
from . import common, organisations, people, sheets


def _villages(code: str | None) -> tuple[list[Village], Village | None]:
    town = db.session.scalar(select(Town).order_by(Town.id))
    if town is None:
        raise click.ClickException("No town yet: run `flask --app fieldapp setup` first.")
    villages = list(db.session.scalars(select(Village).where(Village.town_id == town.id).order_by(Village.id)))
    if code is None:
        return villages, None
    chosen = [v for v in villages if v.code.upper() == code.upper()]
    if not chosen:
        raise click.ClickException(f"No village with code {code} in {town.name}. Codes: "
                                   + ", ".join(v.code for v in villages))
    return chosen, chosen[0]


def _report(plan: common.Plan, report: Path | None) -> None:
    """Print the errors (and write the full report to `report`, .xlsx or .csv, if asked)."""
    if plan.file_problem:
        if report:
            report.write_bytes(sheets.report_csv(plan) if report.suffix.lower() == ".csv" else sheets.report_xlsx(plan))
        raise click.ClickException(common.file_message(plan))
    shown = 0
    for row in plan.rows:
        for issue in row.errors:
            if shown < 200:
                click.echo(f"row {row.line}: {common.where(plan, issue.column)}: {common.what(issue)} "
                           f"{common.todo(issue)}", err=True)
            shown += 1
    if shown > 200:
        click.echo(f"... and {shown - 200} more errors (see --report).", err=True)
    if plan.ignored_columns:
        click.echo("Ignored columns: " + ", ".join(plan.ignored_columns))
    if report:
        report.write_bytes(sheets.report_csv(plan) if report.suffix.lower() == ".csv" else sheets.report_xlsx(plan))
        click.echo(f"Report written to {report}.")


def _run(kind: str, path: Path, village: str | None, check_only: bool, max_rows: int, report: Path | None):
    villages, default = _villages(village)
    with force_locale("en"):
        if kind == "people":
            plan = people.check(path.read_bytes(), villages, max_rows, None, police=True, lang="en",
                                default_village=default)
        else:
            plan = organisations.check(path.read_bytes(), villages, max_rows, default_village=default)
        _report(plan, report)
    rejected = len(plan.rejected)
    click.echo(f"{len(plan.rows)} rows read: {len(plan.rows) - rejected} valid, {rejected} rejected; "
               f"{plan.count('new')} new, {plan.count('updated')} already registered here (updated)"
               + (f", {plan.count('move')} registered elsewhere (move requests)" if kind == "people" else "")
               + f", {len(plan.new_houses)} new houses.")
    if not plan.ok:
        raise click.ClickException("Nothing was imported: correct the rejected rows and run again.")
    if check_only:
        click.echo("Checked only; nothing imported.")
        return
    module = people if kind == "people" else organisations
    try:
        counts = module.import_rows(plan, None)
        db.session.commit()
    except IntegrityError:
        # Someone registered one of these documents, codes or addresses meanwhile.
        db.session.rollback()
        raise click.ClickException("The register changed while importing, so nothing was imported. "
                                   "Run the command again.") from None
    click.echo("Imported: " + ", ".join(f"{n} {what}" for what, n in counts.items()) + ".")


def _options(function):
    function = click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
                            help="Write the row-by-row report to this .xlsx or .csv file.")(function)
    function = click.option("--max-rows", default=200_000, show_default=True,
                            help="Refuse files with more data rows.")(function)
    function = click.option("--check", "check_only", is_flag=True, help="Only check the file and print the report.")(function)
    function = click.option("--village", default=None, help="Only this village (its code); the file may then "
                            "leave the village column out.")(function)
    return click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))(function)


@click.command("import-people")
@_options
@with_appcontext
def import_people_command(path, village, check_only, max_rows, report):
    """Import a people register (CSV or .xlsx): every row is checked; nothing is imported unless all pass."""
    _run("people", path, village, check_only, max_rows, report)


@click.command("import-orgs")
@_options
@with_appcontext
def import_orgs_command(path, village, check_only, max_rows, report):
    """Import an organisation register (CSV or .xlsx): every row is checked; nothing is imported unless all pass."""
    _run("organisations", path, village, check_only, max_rows, report)


@click.command("import-template")
@click.argument("kind", type=click.Choice(["people", "organisations"]))
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def import_template_command(kind, path):
    """Write the blank .xlsx template (with the code lists as dropdowns) for a register import."""
    villages, _default = _villages(None)
    path.write_bytes(sheets.template(kind, villages))
    click.echo(f"Template written to {path}.")


commands = [import_people_command, import_orgs_command, import_template_command]
