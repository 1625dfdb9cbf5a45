"""Campaigns and their phases as data an administrator edits (campaigns.manage)."""
from .views import bp


def init_app(app):
    app.register_blueprint(bp)
