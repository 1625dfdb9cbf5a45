"""The API's routes (docs/sync-protocol.md): thin wrappers around fieldapp.sync. Every answer is JSON;
errors are {"error": code, "message": text}."""
from __future__ import annotations

from functools import wraps

from flask import current_app, g, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from .. import devices, photos, sync
from ..database import read_transaction
from ..errors import hint, json_error
from ..extensions import csrf, db
from ..models import Account
from ..tips import service as tips
from . import bp
from .openapi import document


def device_required(view):
    """Bearer-token authentication: passes (account, device) to the view, or answers the fatal 401."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        # Checked in a read transaction of its own: on SQLite a push's write lock is taken only once
        # the push itself starts, not for the token check.
        with read_transaction():
            try:
                if scheme.lower() != "bearer" or not token.strip():
                    raise devices.AuthError("unknown_device", "unknown_device")
                device = devices.authenticate_device(token.strip())
            except devices.AuthError as failure:
                return json_error(401, failure.code, failure.message)
            devices.touch_device(device)
            account = db.session.get(Account, device.account_id)  # (re)loads the device too, if touched
        g.device = device
        return view(account, device, *args, **kwargs)
    return wrapped


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"  # personal data: never cached by browser or proxy
    return response


@bp.get("/ping")
def ping():
    return "", 204


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())


@bp.get("/session")
def session_state():
    if not current_user.is_authenticated:
        return jsonify({"signed_in": False})
    return jsonify({"signed_in": True, "collection_id": current_user.collection_id, "name": current_user.name,
                    "role": current_user.role, "csrf_token": generate_csrf()})


@bp.post("/devices")
def register_device():
    from ..auth import login_manager
    if not current_user.is_authenticated:
        return json_error(401, "not_signed_in", login_manager.login_message)
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()  # the blueprint is exempt; this one route rides on the session cookie
    body = request.get_json(silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict) or not isinstance(body.get("name", ""), str):
        return json_error(400, "bad_request", hint(400))
    if not devices.may_register_device(current_user):
        return json_error(403, "forbidden", hint(403))
    device, token = devices.register_device(current_user, body.get("name", ""))
    db.session.commit()
    return jsonify({"device_id": device.uid, "token": token, "account": devices.account_summary(current_user),
                    "pin_salt": devices.pin_salt(current_user)}), 201


@bp.delete("/devices/current")
@device_required
def sign_out_device(account, device):
    devices.revoke_device(device)
    db.session.commit()
    return "", 204


def _int_arg(name: str, default: int, low: int, high: int) -> int | None:
    text = request.args.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        return None
    return int(text)


@bp.get("/sync/package")
@device_required
def package(account, device):
    cursor = _int_arg("cursor", 0, 0, sync.MAX_CURSOR)
    limit = _int_arg("limit", sync.PACKAGE_LIMIT, 1, sync.PACKAGE_MAX_LIMIT)
    if cursor is None or limit is None:
        return json_error(400, "bad_request", hint(400))
    body = sync.build_package(account, cursor, limit)
    sync.note_package_page(account, device, cursor, body)
    return jsonify(body)


@bp.post("/sync/push")
@device_required
def push(account, device):
    request.max_content_length = sync.MAX_PUSH_BYTES
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return json_error(400, "bad_request", hint(400))
    if len(body["items"]) > sync.MAX_ITEMS:
        return json_error(413, "too_many_items", hint(413), max_items=sync.MAX_ITEMS)
    return jsonify({"results": sync.push(account, device, body["items"], sent_at=body.get("sent_at"))})


@bp.put("/photos/<uid>")
@device_required
def upload_photo(account, device, uid):
    request.max_content_length = photos.PHOTO_MAX_BYTES
    try:
        answer = photos.upload_photo_chunk(account, uid, request.headers.get("Content-Range"),
                                           request.headers.get("X-Photo-Of"), request.get_data(), tips=tips)
    except photos.PhotoError as failure:
        return _photo_error(failure)
    return jsonify(answer)


@bp.get("/photos/<uid>/status")
@device_required
def photo_status(account, device, uid):
    try:
        return jsonify(photos.photo_status(account, uid))
    except photos.PhotoError as failure:
        return _photo_error(failure)


def _photo_error(failure: photos.PhotoError):
    message = failure.message or hint(failure.status)
    extra = {"received": failure.received} if failure.received is not None else {}
    return json_error(failure.status, failure.code, message, **extra)


