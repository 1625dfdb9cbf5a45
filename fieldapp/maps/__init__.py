"""The progress map: houses by state, village progress markers, a popup per house (issue 5)."""
from .views import bp


def init_app(app):
    app.register_blueprint(bp)
