"""The installable collector app: app shell, web app manifest and the service worker at /sw.js."""
from flask import Blueprint

bp = Blueprint("pwa", __name__)

from . import views  # noqa: E402,F401  (routes attach to bp)


def init_app(app):
    app.register_blueprint(bp)
