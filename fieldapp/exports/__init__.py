"""Exports (issue 11): houses, people, organisations and changes of a village or the whole town,
within the account's scope, as .xlsx or CSV, masked by default, with a preset column layout for the
public-security platform (rules/export_columns.py, docs/police-platform-export.md)."""
from .views import bp


def init_app(app) -> None:
    app.register_blueprint(bp)


__all__ = ["bp", "init_app"]
