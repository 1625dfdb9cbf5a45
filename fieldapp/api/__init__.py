"""The phone's JSON API (/api/...): device credentials, work package, push, photos.
Protocol: docs/sync-protocol.md; rules in fieldapp/sync.py; views here stay thin."""
from flask import Blueprint

from ..extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api")


from . import views  # noqa: E402,F401  (registers the routes on bp)


def init_app(app):
    # Bearer device tokens, not cookies, authenticate the API: CSRF does not apply (device
    # registration checks the session's CSRF token itself).
    csrf.exempt(bp)
    app.register_blueprint(bp)
