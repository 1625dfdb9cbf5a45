"""The archive PDF (`flask --app fieldapp print-archive`): time, pages, size and memory per village.

Loads the Yuping demo into a fresh SQLite file (`flask --app fieldapp setup`), then for each
--village: renders the batch HTML in this process (time, and this process's peak RSS) and prints
it with the system's Chromium (the command's own code path, prints/pdf.py), counting the PDF's
pages. Chromium's peak is the largest child process's RSS (getrusage RUSAGE_CHILDREN).

    .venv/bin/python bench/print_archive.py --village YP02 --village YP01
"""
from __future__ import annotations

import argparse
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--village", action="append", default=[], help="village code (repeat); default YP02")
    parser.add_argument("--chromium", default=None)
    args = parser.parse_args()
    villages = args.village or ["YP02"]
    work = Path(tempfile.mkdtemp(prefix="bench-prints-"))
    from flask_migrate import upgrade
    from sqlalchemy import select

    from fieldapp import create_app, demo
    from fieldapp.extensions import db
    from fieldapp.models import Village
    from fieldapp.prints import pdf
    from fieldapp.prints.cli import render_archive

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{work / 'demo.sqlite'}", "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade()
        demo.load()
        db.session.commit()
        chromium = pdf.find_chromium(args.chromium)
        print("| village | houses | people | pages | PDF bytes | render s | Chromium s | Python RSS MB | Chromium RSS MB |")
        print("|---|---|---|---|---|---|---|---|---|")
        for code in villages:
            village = db.session.scalar(select(Village).where(Village.code == code))
            started = time.monotonic()
            html, printed = render_archive(village, None, include_abroad=False)
            rendered = time.monotonic() - started
            out = work / f"{code}.pdf"
            started = time.monotonic()
            size = pdf.html_to_pdf(html, out, chromium)
            printed_s = time.monotonic() - started
            pages = len(re.findall(rb"/Type\s*/Page(?!s)", out.read_bytes()))
            own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
            people = sum(len(s.people) for s in printed)
            print(f"| {village.name} ({code}) | {len(printed)} | {people} | {pages} | {size} | {rendered:.1f} | "
                  f"{printed_s:.1f} | {own} | {child} |", flush=True)


if __name__ == "__main__":
    main()
