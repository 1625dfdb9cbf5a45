"""Collector badges (采集证): the printable badge per collection ID and its public verification page."""
from .views import bp, init_app

__all__ = ["bp", "init_app"]
