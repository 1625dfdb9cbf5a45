"""The reviewer's work (信息录入/复核): deciding the conflicts sync kept for a person to settle, and
the move requests of people registered elsewhere, and the entry desk's queue of collected changes."""
from . import desk_views  # noqa: F401  (its routes are on bp)
from .moves import bp as moves_bp
from .views import bp
from . import merge_views  # noqa: F401  (its routes are on bp)


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(moves_bp)


__all__ = ["bp", "init_app"]
