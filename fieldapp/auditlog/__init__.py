"""The audit page (/audit): who did what and who read which personal data, for admins and
supervisors; filtered, paged, exported as CSV."""
from .views import bp


def init_app(app) -> None:
    app.register_blueprint(bp)


__all__ = ["bp", "init_app"]
