"""Sign-in with collection ID + PIN, first-time activation, sign-out, language switch, home."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_url, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from . import accounts
from .extensions import db, login_manager
from .i18n import SESSION_KEY
from .rules.permissions import can
from .rules.redirects import safe_next

bp = Blueprint("auth", __name__)

ACCOUNT_MESSAGES = {
    "bad_login": _l("Collection ID or PIN is wrong. Check both and try again."),
    "locked": _l("Too many wrong attempts. Wait %(minutes)s minutes, or ask your office to check your ID."),
    "revoked": _l("This collection ID has been revoked. Contact the office that issued it."),
    "expired_id": _l("This collection ID has expired. Ask the office that issued it for a new one."),
    "bad_activation": _l("Collection ID or activation code is wrong. Check the slip you were given."),
    "activation_expired": _l("This activation code has expired. Ask the office that issued your ID for a new one."),
    "pin_short": _l("The PIN must have at least 6 characters."),
    "pin_long": _l("The PIN can have at most 64 characters."),
    "pin_repeated": _l("Do not use one digit repeated. Choose a PIN that is hard to guess."),
    "pin_sequence": _l("Do not use a run of digits like 123456. Choose a PIN that is hard to guess."),
    "pin_common": _l("This PIN is too common. Choose one that is hard to guess."),
}


def account_message(error: accounts.AccountError) -> str:
    return str(ACCOUNT_MESSAGES[error.code]) % error.params


class LoginForm(FlaskForm):
    collection_id = StringField(_l("Collection ID"), validators=[DataRequired(_l("Enter your collection ID, e.g. YP-0042."))],
                                render_kw={"autocomplete": "username", "autocapitalize": "characters"})
    pin = PasswordField(_l("PIN"), validators=[DataRequired(_l("Enter your PIN."))],
                        render_kw={"autocomplete": "current-password"})


class ActivateForm(FlaskForm):
    collection_id = StringField(_l("Collection ID"), validators=[DataRequired(_l("Enter your collection ID, e.g. YP-0042."))],
                                render_kw={"autocomplete": "username", "autocapitalize": "characters"})
    code = StringField(_l("Activation code"), validators=[DataRequired(_l("Enter the activation code from your slip."))],
                       render_kw={"autocomplete": "one-time-code", "autocapitalize": "characters"})
    pin = PasswordField(_l("New PIN"), validators=[DataRequired(_l("Choose a PIN.")), Length(max=64)],
                        render_kw={"autocomplete": "new-password"})
    pin2 = PasswordField(_l("New PIN again"), validators=[EqualTo("pin", _l("The two PINs differ. Type them again."))],
                         render_kw={"autocomplete": "new-password"})


@login_manager.user_loader
def _load(session_id: str):
    account, closed = accounts.load_session(session_id)
    g.session_closed = closed  # why the cookie's session no longer works, for the sign-in message
    return account


login_manager.login_view = "auth.login"
login_manager.login_message = _l("Sign in with your collection ID to continue.")
login_manager.login_message_category = "info"

SESSION_END_MESSAGES = {
    "idle": _l("You have been inactive for a long time. Please sign in again."),
    "absolute": _l("You signed in more than %(hours)s hours ago. Please sign in again."),
    "moved": _l("The office changed the villages you work in. Sign in again to continue."),
}


# Sec-Fetch-Dest values of requests that load part of a page, never a page to show.
SUBRESOURCE_DESTINATIONS = frozenset({"image", "script", "style", "font", "audio", "video", "track", "manifest"})


@login_manager.unauthorized_handler
def _unauthorized():
    """Flask-Login's redirect to the sign-in page, saying why when a session ran out. An image,
    script or style fetched without a session gets a bare 401: it cannot show a sign-in page, and
    following the redirect would start a session (and a CSRF token) under a sign-in form that is
    open in the same browser, which then fails to submit."""
    from flask import current_app
    if request.headers.get("Sec-Fetch-Dest") in SUBRESOURCE_DESTINATIONS:
        return current_app.response_class(status=401)
    closed = g.get("session_closed")
    message = SESSION_END_MESSAGES.get(closed, login_manager.login_message)
    flash(str(message) % {"hours": current_app.config["SESSION_ABSOLUTE_HOURS"]}
          if closed == "absolute" else str(message), "info")
    if closed is not None:
        logout_user()  # drop the dead session's secret from the cookie: the message is said once
    return redirect(login_url(login_manager.login_view, next_url=request.url))


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            account = accounts.authenticate(form.collection_id.data, form.pin.data, source=request.remote_addr)
        except accounts.AccountError as error:
            db.session.commit()  # keep the failure's audit line
            form.pin.errors = [account_message(error)]
            status = 429 if error.code == "locked" else 401
        else:
            accounts.start_session(account, request.user_agent.string)
            db.session.commit()
            lang = session.get(SESSION_KEY)
            session.clear()  # a fresh session at sign-in: nothing carried over from before
            if lang:
                session[SESSION_KEY] = lang
            login_user(account)
            return redirect(safe_next(request.args.get("next")) or url_for("auth.home"), 303)
    elif request.method == "POST":
        status = 422
    return render_template("auth/login.html", form=form), status


def expired_login_page():
    """The sign-in form again when it came back with a stale CSRF token (opened before its session
    ended, or a second tab signed in meanwhile): the collection ID typed is kept, the form carries
    a fresh token, and the page says to enter the PIN again. A bare error page would lose the ID
    and send a collector at the door back through the menu."""
    form = LoginForm()
    form.pin.data = None
    notice = _("The sign-in page had expired. Your collection ID is kept: enter your PIN again and sign in.")
    return render_template("auth/login.html", form=form, notice=notice), 400


@bp.route("/activate", methods=["GET", "POST"])
def activate():
    form = ActivateForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.activate(form.collection_id.data, form.code.data, form.pin.data, source=request.remote_addr)
        except accounts.AccountError as error:
            db.session.commit()
            field = form.pin if error.code.startswith("pin_") else form.code
            field.errors = [account_message(error)]
            status = 422 if error.code.startswith("pin_") else 429 if error.code == "locked" else 401
        else:
            db.session.commit()
            flash(_("Your PIN is set. Sign in with your collection ID and PIN."), "success")
            return redirect(url_for("auth.login"), 303)
    elif request.method == "POST":
        status = 422
    return render_template("auth/activate.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    accounts.sign_out(current_user)  # the cookie's session ends on the server, not just in this browser
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"), 303)


class EmptyForm(FlaskForm):
    """A form with only its CSRF token, for buttons that POST."""


@bp.post("/language/<code>")
def language(code):
    from flask import current_app
    form = EmptyForm()
    if form.validate_on_submit() and code in current_app.config["LANGUAGES"]:
        session[SESSION_KEY] = code
    return redirect(safe_next(request.form.get("next")) or url_for("auth.home"), 303)


@bp.get("/")
@login_required
def home():
    """Each role lands where its work is."""
    role = current_user.role
    if can(role, "registry.write") or role == "village_head":
        return redirect(url_for("registry.villages"))
    if can(role, "progress.view"):
        return redirect(url_for("progress.overview"))
    return render_template("auth/home.html")


def init_app(app):
    app.register_blueprint(bp)

    @app.context_processor
    def _forms():
        # formdata=None: this form only renders its token and never reads the request body, so
        # pages (error pages included) render even when parsing the body failed (413 too large).
        return {"csrf_form": EmptyForm(formdata=None)}
