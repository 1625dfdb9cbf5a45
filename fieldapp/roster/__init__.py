"""Collection IDs in bulk (issue 11, "Accounts in bulk"): issuing from a CSV/XLSX list, A4 activation
letters with a QR code, the searchable list of IDs and moving a holder between villages."""
from .views import bp


def init_app(app):
    app.register_blueprint(bp)
