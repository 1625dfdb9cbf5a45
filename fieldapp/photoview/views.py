"""Photo views: thin. Who sees which photo is service.py, thumbnails thumbs.py.

Routes:
  /photos/<uid>           the kept photo (JPEG, long edge at most 1280 px, no metadata)
  /photos/<uid>/<size>    a thumbnail made on the server: 160 (lists, portraits) or 640 (enlarged)

The uid is the photo's random UUID: nothing personal is in the URL. A photo outside the viewer's
scope, or of no record, answers 404 like a missing one (service.seen_by).

Audit: each answer is a read of the record the photo shows (person:12, house:5, tip:3), logged as
`view_photo`. One page shows a photo at 160 px, the enlarged view at 640 px, and the browser asks
again whenever it shows it (below): logged once per viewer and record within PHOTO_AUDIT_MINUTES
(30, the idle limit of a session; FIELDAPP_PHOTO_AUDIT_MINUTES sets it, 0 to 60), so a resident asking "who looked at my photo" gets who and when,
without a row per thumbnail, reload or size. A new row is written after that, or for another record.

Caching: `private, no-cache` with an ETag. The browser may keep the bytes but must ask before each
use; the answer is 304 when unchanged, after the same scope check and audit. Signing out, losing a
village or a revoked ID therefore stop the photo at once, and the back button on a shared phone
brings nothing back (security.py keeps `no-store` for every other page of a signed-in user).
"""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, send_file
from flask_login import current_user
from sqlalchemy import select

from .. import scope
from ..audit import log_read
from ..extensions import db
from ..models import AuditEvent, utcnow
from ..photos import photo_path
from . import service, thumbs

bp = Blueprint("photoview", __name__)

PHOTO_AUDIT_MINUTES = 30
PHOTO_AUDIT_MINUTES_MAX = 60  # a longer window would hide a viewer's repeated looks from the log
AUDIT_ACTION = "view_photo"
KIND_DETAIL = {"portrait": "portrait", "house": "house photo", "tip": "tip photo",
               "move_request": "move request photo"}
CACHE_CONTROL = "private, no-cache"


@bp.app_context_processor
def _photo_helpers():
    return {"photos_of": service.photos_of, "portraits_of": service.portraits,
            "request_photos": service.request_photos, "tip_photo": service.tip_photo}


def _seen_or_404(uid: str):
    photo = service.photo_by_uid(uid)
    seen = service.seen_by(current_user, photo) if photo is not None else None
    if seen is None:
        abort(404)
    return photo, seen


def _audit_once(account_id: int, seen: service.Seen) -> None:
    """Log the read unless this viewer's read of the same record was logged within the window."""
    minutes = min(max(int(current_app.config.get("PHOTO_AUDIT_MINUTES", PHOTO_AUDIT_MINUTES)), 0),
                  PHOTO_AUDIT_MINUTES_MAX)
    since = utcnow() - timedelta(minutes=minutes)
    logged = db.session.scalar(select(AuditEvent.id).where(
        AuditEvent.account_id == account_id, AuditEvent.action == AUDIT_ACTION, AuditEvent.target == seen.target,
        AuditEvent.at >= since).limit(1))
    if logged is None:
        log_read(account_id, AUDIT_ACTION, seen.target, 1, KIND_DETAIL[seen.kind])
    else:
        db.session.commit()  # end the read transaction: nothing is held while the file is sent


def _send(path):
    response = send_file(path, mimetype="image/jpeg", conditional=True, etag=True, max_age=None)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


@bp.get("/photos/<uid>")
@scope.require("photos.view")
def photo(uid):
    found, seen = _seen_or_404(uid)
    path = photo_path(found.uid)
    if not path.exists():
        abort(404)
    _audit_once(current_user.id, seen)
    return _send(path)


@bp.get("/photos/<uid>/<int:size>")
@scope.require("photos.view")
def thumbnail(uid, size):
    if size not in thumbs.THUMB_SIZES:
        abort(404)
    found, seen = _seen_or_404(uid)
    account_id, photo_uid = current_user.id, found.uid
    db.session.commit()  # no transaction is open while the thumbnail is made (SQLite: see photos.py)
    try:
        path = thumbs.thumbnail(photo_uid, size)
    except thumbs.NoPhoto:
        abort(404)
    _audit_once(account_id, seen)
    return _send(path)


def init_app(app):
    app.register_blueprint(bp)
