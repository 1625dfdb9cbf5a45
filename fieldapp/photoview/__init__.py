"""Photos shown in the web pages: the kept photo and server-made thumbnails, scoped and audited
(views.py), who may see which photo and what a page shows (service.py), thumbnails (thumbs.py)."""
from .views import bp, init_app

__all__ = ["bp", "init_app"]
