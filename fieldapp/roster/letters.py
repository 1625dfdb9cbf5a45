"""A4 activation letters (开通通知书): one page per person, handed over in person.

A letter carries the collection ID, the one-time activation code, the activation address as a QR
code, where to go and what to do, how to install the app, and the holder's villages and sub-areas.

Rules:
- The activation code exists only in the letter: it is never stored (only its slow hash is), never
  put in a URL the server sees, never logged. The QR code opens ``<base>/activate#id=…&code=…``:
  the part after ``#`` stays in the phone's browser (it is not sent to the server, so it is in no
  access log); the activation page's script fills the form from it and removes it from the address.
- The base address is PUBLIC_BASE_URL (doors.qr.base_url), as on door labels.
- Making letters means making new codes (the old ones stop working), so a letter is printed when an
  ID is issued, or again on purpose (a new code for one ID, or for the unused IDs of a batch).
  Every printing writes an audit row naming how many letters (`print_letters`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from flask import current_app, render_template
from flask_babel import force_locale
from markupsafe import Markup

from ..audit import audit
from ..doors import qr
from ..models import Account


@dataclass
class Letter:
    """What one letter shows, as plain values (no database access once made)."""
    collection_id: str
    name: str
    role: str
    villages: list[str]
    sub_areas: list[str]
    office: str | None
    code: str
    expires_at: datetime | None
    url: str

    @functools.cached_property
    def qr(self) -> Markup:
        """The activation address as an inline SVG QR code. Drawn on first use: callers draw the
        letters (draw()) after committing, so no transaction is open meanwhile."""
        return qr.svg_element(self.url, None, css_class="qr letter-qr")


def draw(letters: list[Letter]) -> list[Letter]:
    """Draw every letter's QR code now (tens of milliseconds each); returns the letters."""
    for letter in letters:
        _ = letter.qr
    return letters


def activation_url(collection_id: str, code: str, base: str | None = None) -> str:
    """The address the letter's QR code opens (module docstring: the secret part is a fragment)."""
    return f"{base or qr.base_url()}/activate#id={quote(collection_id)}&code={quote(code)}"


def letter_for(account: Account, code: str, base: str | None = None) -> Letter:
    url = activation_url(account.collection_id, code, base)
    return Letter(collection_id=account.collection_id, name=account.name, role=account.role,
                  villages=[v.name for v in account.villages],
                  sub_areas=[f"{s.village.name} {s.name}（{s.code}）" for s in account.sub_areas],
                  office=account.office, code=code, expires_at=account.activation_expires_at, url=url)


def letters_for(issued: list[tuple[Account, str]], by: int | None, base: str | None = None) -> list[Letter]:
    """Letters for freshly made codes; logs the printing (one audit row for the lot)."""
    letters = [letter_for(account, code, base) for account, code in issued]
    if letters:
        target = f"account:{issued[0][0].id}" if len(issued) == 1 else None
        audit(by, "print_letters", target, f"{len(letters)} letters", records=len(letters))
    return letters


def standalone_html(letters: list[Letter], base: str, lang: str = "zh_Hans_CN") -> str:
    """The letters as one self-contained HTML file (styles inline, QR codes inline SVG): what the
    CLI writes, to be opened in a browser and printed, or kept on an encrypted disk."""
    static = Path(current_app.static_folder)
    css = (static / "css" / "letters.css").read_text(encoding="utf-8")
    # Outside a request (the CLI) the page's context processors still want one: a bare one, no user.
    with current_app.test_request_context(base_url=base), force_locale(lang):
        return render_template("roster/letters_file.html", letters=letters, inline_css=Markup(css), base=base)
