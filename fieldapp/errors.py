"""Error pages that say what happened and what to do next, with the right status code; under
/api/ the same as JSON ({"error": code, "message": text}), the shape every API answer uses."""
from __future__ import annotations

from flask import jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

MESSAGES = {
    400: (_l("The request could not be understood"), _l("Go back, check what you entered and try again.")),
    403: (_l("Your collection ID does not allow this"), _l("If you need it for your work, ask your office to change your role.")),
    404: (_l("Not found"), _l("The page or record does not exist, or it is outside your villages. Check the address or search again.")),
    405: (_l("Not allowed here"), _l("Use the buttons in the app instead of typing the address.")),
    409: (_l("Already done"), _l("This record changed state already. Open it again to see how it is now.")),
    413: (_l("Too large"), _l("What you sent is too large. Send a smaller file or fewer items at once.")),
    429: (_l("Too many requests"), _l("Wait a minute and try again.")),
    500: (_l("Something went wrong on the server"), _l("Your input was not saved. Try again in a moment; if it keeps happening, tell your office.")),
}


ERROR_CODES = {400: "bad_request", 401: "not_signed_in", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "too_large", 429: "too_many_requests",
               500: "server_error"}


def hint(status: int) -> str:
    """What to do next after an HTTP error `status`."""
    _title, text = MESSAGES.get(status, MESSAGES[500])
    return str(text)


def json_error(status: int, code: str | None = None, message=None, **extra):
    """An API error answer: {"error": code, "message": text, **extra} with the status; a 401 says
    which scheme to use."""
    response = jsonify({"error": code or ERROR_CODES.get(status, "server_error"),
                        "message": str(message if message is not None else hint(status)), **extra})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="fieldapp"'
    return response


def _page(code: int):
    title, hint = MESSAGES.get(code, MESSAGES[500])
    return render_template("errors/error.html", code=code, title=title, hint=hint), code


def init_app(app):
    @app.errorhandler(CSRFError)
    def _csrf(error):
        if request.path.startswith("/api/"):  # the phone's API answers JSON, never a page
            return json_error(400)
        if request.endpoint == "auth.login":  # sign-in: the form again, the ID kept (auth.py says why)
            from .auth import expired_login_page
            return expired_login_page()
        title = _l("This page has expired")
        hint = _l("Pages expire after a while for your safety. Go back, reload the page and submit again.")
        return render_template("errors/error.html", code=400, title=title, hint=hint), 400

    @app.errorhandler(HTTPException)
    def _http(error):
        if error.code is None or error.code < 400 or request.path.startswith("/static/"):
            return error
        if request.path.startswith("/api/"):  # the phone's API answers JSON, never a page
            return json_error(error.code)
        return _page(error.code)
