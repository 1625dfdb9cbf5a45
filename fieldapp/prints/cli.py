"""`flask --app fieldapp print-archive --village CODE [--sub-area CODE] OUT.pdf`: every house's
信息采集表 of a village (or one of its sub-areas) in one PDF for the archive, printed by the
system's Chromium (prints/pdf.py). Identifiers are masked as on the web unless --full-numbers;
people from abroad are left out unless --include-abroad (the police station's archive). Each
printed house is logged (print_house or print_house_full, no account: the server's command)."""
from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app, render_template
from flask.cli import with_appcontext
from sqlalchemy import select

from ..extensions import db
from ..models import SubArea, Town, Village
from ..rules import days
from . import pdf, service


def render_archive(village: Village, sub_area: SubArea | None, include_abroad: bool,
                   full: bool = False) -> tuple[str, list]:
    """The batch document (CSS inline, no links) and its sheets."""
    reach = service.Reach.for_archive(include_police_only=include_abroad)
    houses, _total = service.batch_houses(reach, village, sub_area)
    printed = service.sheets(reach, houses)
    css = (Path(current_app.static_folder) / "css" / "prints.css").read_text(encoding="utf-8")
    place = village.name + (f" · {sub_area.name}" if sub_area else "")
    with current_app.test_request_context("/"):
        html = render_template("prints/houses.html", sheets=printed, town=db.session.get(Town, village.town_id),
                               title_place=place, back="", pager=None, printed_on=days.today(), inline_css=css,
                               full=full)
    return html, printed


@click.command("print-archive")
@click.option("--village", "village_code", required=True, help="The village's code.")
@click.option("--sub-area", "sub_area_code", default=None, help="Only this sub-area (its code in the village).")
@click.option("--include-abroad", is_flag=True, help="Also print people from abroad (police archives only).")
@click.option("--full-numbers", is_flag=True, help="Print document and phone numbers in full (logged as such).")
@click.option("--timeout", default=pdf.DEFAULT_TIMEOUT_S, show_default=True, type=float,
              help="Seconds Chromium may take.")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def print_archive_command(village_code, sub_area_code, include_abroad, full_numbers, timeout, out: Path):
    """Save the collection forms of a village (or sub-area) as one A4 PDF, a page break per house."""
    village = db.session.scalar(select(Village).where(Village.code == village_code.strip()))
    if village is None:
        raise click.ClickException(f"No village with code {village_code}.")
    sub_area = None
    if sub_area_code:
        sub_area = db.session.scalar(select(SubArea).where(SubArea.village_id == village.id,
                                                           SubArea.code == sub_area_code.strip()))
        if sub_area is None:
            raise click.ClickException(f"Village {village_code} has no sub-area with code {sub_area_code}.")
    try:
        chromium = pdf.find_chromium(current_app.config.get("PRINT_CHROMIUM"))
        started = time.monotonic()
        html, printed = render_archive(village, sub_area, include_abroad, full_numbers)
        if not printed:
            raise click.ClickException("No houses to print there.")
        size = pdf.html_to_pdf(html, out, chromium, timeout)
    except pdf.PdfError as error:
        raise click.ClickException(str(error)) from None
    where = f"sub_area:{sub_area.id}" if sub_area else f"village:{village.id}"
    service.log_printed(None, printed, f"archive pdf {where}" + ("; with people from abroad" if include_abroad else ""),
                        full_numbers)
    people = sum(len(s.people) for s in printed)
    orgs = sum(len(s.organisations) for s in printed)
    click.echo(f"Wrote {out}: {len(printed)} houses, {people} people, {orgs} organisations, "
               f"{size} bytes in {time.monotonic() - started:.1f} s.")
