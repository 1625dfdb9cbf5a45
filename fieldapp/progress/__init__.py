"""Progress against quotas: figures (data.py) and the supervisor page (views.py)."""
from .views import bp
from . import timely_views  # noqa: F401  (its routes join bp)


def init_app(app):
    app.register_blueprint(bp)
