"""Bringing existing registers in: people (with their house's address) and organisations from
CSV/.xlsx, with a downloadable template, a per-row report, all or nothing (issue 11)."""
from .views import bp


def init_app(app):
    app.register_blueprint(bp)
