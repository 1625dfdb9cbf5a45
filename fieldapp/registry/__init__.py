"""The collector's registry pages: villages -> houses -> people and organisations."""
from .views import bp


def init_app(app):
    app.register_blueprint(bp)
