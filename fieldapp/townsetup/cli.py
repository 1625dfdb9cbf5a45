"""`flask --app fieldapp town ...`: set up a town from the command line (scripted installs).

- `town create --name 余坪镇 --code 431226100 [--county 431226]`: an empty town, so that
  `issue-id --role admin` can issue the first admin's ID; the admin does the rest on the web.
- `town import town.xlsx [--check]`: the set-up workbook (docs/town-workbook.md): town, villages,
  sub-areas and quotas; every row is checked and nothing is written unless all pass. Importing
  the same workbook again updates by code and changes nothing else. Messages in English.
- `town template PATH`: write the blank workbook (the same file as the web page's download).
"""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlalchemy import select

from ..extensions import db
from ..models import Town
from ..rules import town_workbook as rules
from . import messages, service


@click.group("town")
def town_group():
    """Set up a town: create it, import its set-up workbook, write the blank template."""


@town_group.command("create")
@click.option("--name", required=True, help="The town's name, e.g. 余坪镇.")
@click.option("--code", required=True, help="The town's code (GB/T 10114: 9 digits, or your own up to 12).")
@click.option("--county", "county_code", default=None, help="The GB/T 2260 six-digit county code.")
@click.option("--office", default=None, help="The office printed on collection IDs (default: the town's name).")
@with_appcontext
def create_command(name, code, county_code, office):
    """Create an empty town (no villages yet)."""
    issues: list[rules.Issue] = []
    code = rules.check_code("town", 0, "code", (code or "").strip(), issues)
    name = rules.check_name("town", 0, "name", (name or "").strip(), issues)
    problem, division = rules.check_county_code((county_code or "").strip())
    if problem == "bad_county":
        issues.append(rules.Issue("town", 0, "county_code", problem, county_code))
    if code and db.session.scalar(select(Town.id).where(Town.code == code)):
        issues.append(rules.Issue("town", 0, "code", "code_taken", code))
    with force_locale("en"):
        if issues:
            raise click.ClickException("; ".join(messages.issue_line(i) for i in issues))
        if problem:
            click.echo(messages.issue_line(rules.Issue("town", 0, "county_code", problem, county_code)), err=True)
    town = Town(code=code, name=name, office=office or name, county_code=county_code or None)
    db.session.add(town)
    db.session.commit()
    click.echo(f"Created town {town.name} ({town.code}){' in ' + division if division else ''}. "
               "Next: flask --app fieldapp issue-id --role admin --name NAME")


@town_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", "check_only", is_flag=True, help="Only check the workbook and print the report; write nothing.")
@with_appcontext
def import_command(path: Path, check_only: bool):
    """Import a town set-up workbook (.xlsx): all or nothing, updating by code."""
    book = service.read_workbook(path.read_bytes())
    town = service.find_town(book)
    if not any(i.code.startswith("file_") or i.code == "no_sheets" for i in book.errors):
        service.check(book, town)  # every problem at once: the rows' own and the database's
    with force_locale("en"):
        for issue in book.warnings:
            click.echo("warning: " + messages.issue_line(issue), err=True)
        for issue in book.errors:
            click.echo(messages.issue_line(issue), err=True)
    summary = (f"{len(book.villages)} villages, {len(book.sub_areas)} sub-areas, {len(book.quotas)} quota rows read; "
               f"{len(book.errors)} errors.")
    click.echo(summary)
    if not book.ok:
        raise click.ClickException("Nothing was imported: correct the rows above and run again.")
    if check_only:
        db.session.rollback()
        click.echo("Checked only; nothing written.")
        return
    town, counts = service.apply(book, town, None)
    db.session.commit()
    click.echo(f"Town {town.name} ({town.code}): villages {counts['villages'][0]} new, {counts['villages'][1]} updated; "
               f"sub-areas {counts['sub_areas'][0]} new, {counts['sub_areas'][1]} updated; "
               f"quotas of {counts['quotas']} villages changed. Totals: {town.people_quota} people, "
               f"{town.houses_quota} houses, {town.orgs_quota} organisations.")


@town_group.command("template")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--example", is_flag=True, help="Add one sample row per sheet.")
def template_command(path: Path, example: bool):
    """Write the blank set-up workbook to PATH."""
    path.write_bytes(service.template_workbook(example))
    click.echo(f"Wrote {path}.")
