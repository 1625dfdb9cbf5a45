"""The reviewer's work (信息录入/复核): deciding the conflicts sync kept for a person to settle."""
from .views import bp


def init_app(app) -> None:
    app.register_blueprint(bp)


__all__ = ["bp", "init_app"]
