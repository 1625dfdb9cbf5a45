"""Search: people by name, document number or phone; houses by address or door code; organisations
by name or credit code. Scoped, masked and audited (service.py states how)."""
from .views import bp


def init_app(app):
    app.register_blueprint(bp)
