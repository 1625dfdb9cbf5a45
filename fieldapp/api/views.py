"""The API's routes (docs/sync-protocol.md): thin wrappers around fieldapp.sync. Every answer is JSON;
errors are {"error": code, "message": text}."""
from __future__ import annotations

from functools import wraps

from flask import current_app, g, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from .. import sync
from ..extensions import csrf, db
from ..models import Account
from . import bp
from .openapi import document


def error(status: int, code: str, message, **extra):
    response = jsonify({"error": code, "message": str(message), **extra})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="fieldapp"'
    return response


def device_required(view):
    """Bearer-token authentication: passes (account, device) to the view, or answers the fatal 401."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise sync.AuthError("unknown_device", "unknown_device")
            device = sync.authenticate_device(token.strip())
        except sync.AuthError as failure:
            return error(401, failure.code, failure.message)
        sync.touch_device(device)
        account = db.session.get(Account, device.account_id)
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
        return error(401, "not_signed_in", login_manager.login_message)
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()  # the blueprint is exempt; this one route rides on the session cookie
    body = request.get_json(silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict) or not isinstance(body.get("name", ""), str):
        return error(400, "bad_request", _message(400))
    if not sync.may_register_device(current_user):
        return error(403, "forbidden", _message(403))
    device, token = sync.register_device(current_user, body.get("name", ""))
    db.session.commit()
    return jsonify({"device_id": device.uid, "token": token, "account": sync.account_summary(current_user),
                    "pin_salt": sync.pin_salt(current_user)}), 201


@bp.delete("/devices/current")
@device_required
def sign_out_device(account, device):
    sync.revoke_device(device)
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
    cursor = _int_arg("cursor", 0, 0, 2**63 - 1)
    limit = _int_arg("limit", sync.PACKAGE_LIMIT, 1, sync.PACKAGE_MAX_LIMIT)
    if cursor is None or limit is None:
        return error(400, "bad_request", _message(400))
    body = sync.build_package(account, cursor, limit)
    if cursor == 0:
        sent = len(body["houses"]) + len(body["people"]) + len(body["organisations"])
        sync.note_full_package(account, device, sent)
    return jsonify(body)


@bp.post("/sync/push")
@device_required
def push(account, device):
    request.max_content_length = sync.MAX_PUSH_BYTES
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return error(400, "bad_request", _message(400))
    if len(body["items"]) > sync.MAX_ITEMS:
        return error(413, "too_many_items", _message(413), max_items=sync.MAX_ITEMS)
    return jsonify({"results": sync.push(account, device, body["items"], sent_at=body.get("sent_at"))})


@bp.put("/photos/<uid>")
@device_required
def upload_photo(account, device, uid):
    request.max_content_length = sync.PHOTO_MAX_BYTES
    try:
        answer = sync.upload_photo_chunk(account, uid, request.headers.get("Content-Range"),
                                         request.headers.get("X-Photo-Of"), request.get_data())
    except sync.PhotoError as failure:
        return _photo_error(failure)
    return jsonify(answer)


@bp.get("/photos/<uid>/status")
@device_required
def photo_status(account, device, uid):
    try:
        return jsonify(sync.photo_status(account, uid))
    except sync.PhotoError as failure:
        return _photo_error(failure)


def _photo_error(failure: sync.PhotoError):
    message = failure.message if failure.code in sync.PHOTO_MESSAGES else _message(failure.status)
    extra = {"received": failure.received} if failure.received is not None else {}
    return error(failure.status, failure.code, message, **extra)


def _message(status: int) -> str:
    from ..errors import MESSAGES
    _title, hint = MESSAGES.get(status, MESSAGES[500])
    return str(hint)


ERROR_CODES = {400: "bad_request", 401: "not_signed_in", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "too_large", 429: "too_many_requests",
               500: "server_error"}


def http_error(status: int):
    """The JSON answer for an HTTP error under /api/ (called by fieldapp.errors)."""
    return error(status, ERROR_CODES.get(status, "server_error"), _message(status))
