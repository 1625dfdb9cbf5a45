"""Door labels: QR codes and short codes on every door, the public page a label opens, printable
sheets, retiring and replacing codes, importing a house register (issue 4, "Door codes")."""
from .views import bp


def init_app(app):
    app.register_blueprint(bp)
