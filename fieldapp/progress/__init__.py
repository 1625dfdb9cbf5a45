"""Progress against quotas: figures (data.py) and the supervisor page (views.py)."""
from .views import bp


def init_app(app):
    app.register_blueprint(bp)
