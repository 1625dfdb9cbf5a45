"""Search views: thin. What a query is comes from rules.search, what it finds from service.py.

Why POST: the query is a name, a document or a phone number, and nothing personal may appear in a
URL (it would be kept in access logs, browser history and Referer headers). So the form is POSTed
with a CSRF token, and so are the pager's buttons (they carry the query as hidden fields). The
page is sent no-store like every signed-in page (security.py); going back to it after opening a
record asks the browser to send the form again, which runs (and logs) the search again.

Each search that runs writes one audit row: action 'search', no target, the number of records
shown, and a detail naming the kind of query and how many of each kind were found. The query
itself is never logged. The search reads in a deferred transaction of its own (read_transaction),
so on SQLite a search over a million names never holds the write lock.
"""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from .. import scope
from ..audit import audit
from ..database import read_transaction
from ..extensions import db
from ..rules.search import classify
from . import service
from .forms import SearchQueryForm

bp = Blueprint("search", __name__)


def _audit_detail(results: service.Results) -> str:
    """What the audit row says about a search: kinds and counts, never the query."""
    found = " ".join(f"{s.name}={len(s.rows)}({s.how})" for s in results.sections)
    return f"kind={results.classified.kind} page={results.sections[0].page if results.paged else 1} {found}".strip()


@bp.route("/search", methods=["GET", "POST"])
@scope.require("registry.read")
def index():
    form = SearchQueryForm()
    if request.method == "GET":
        return render_template("search/index.html", form=form, results=None)
    if not form.validate_on_submit():
        return render_template("search/index.html", form=form, results=None), 422
    classified = classify(form.q.data)
    if classified.kind == "empty":
        form.q.errors = [_("Type what you are looking for: a name, a number or an address.")]
        return render_template("search/index.html", form=form, results=None), 422
    with read_transaction():
        results = service.search(current_user, classified, form.section.data or None, form.page.data or 1)
    audit(current_user.id, "search", None, _audit_detail(results), records=results.count)
    db.session.commit()
    return render_template("search/index.html", form=form, results=results)
