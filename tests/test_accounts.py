"""Collection IDs: issuing, activation codes, PIN rules, sign-in throttling, revocation."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from fieldapp import accounts
from fieldapp.extensions import db
from fieldapp.models import Account, AuditEvent, LoginThrottle, utcnow
from fieldapp.rules.pin import pin_problem

from .builders import PIN, make_account, make_town


@pytest.mark.parametrize("pin,problem", [
    ("12345", "short"), ("x" * 65, "long"), ("000000", "repeated"), ("123456", "sequence"),
    ("987654", "sequence"), ("890123", "sequence"), ("123123", "common"), ("Password", "common"),
    ("583920", None), ("collect-2016", None), ("135790", None),
])
def test_pin_rules(pin, problem):
    assert pin_problem(pin) == problem


def test_issue_gives_next_serial_and_a_working_one_time_code(ctx):
    town, (east, _west) = make_town()
    make_account(town, "admin", collection_id="YP-0041")
    account, code = accounts.issue(town.id, "王芳", "collector", [east.id], issued_by=None)
    db.session.commit()
    assert account.collection_id == "YP-0042"
    assert [v.name for v in account.villages] == ["东村"]
    assert len(code) == 8 and code not in account.activation_hash  # stored only as a hash
    accounts.activate("yp-0042", code.lower(), "583920")  # typed in lower case: still fine
    db.session.commit()
    assert accounts.authenticate("YP-0042", "583920").id == account.id
    with pytest.raises(accounts.AccountError) as used:
        accounts.activate("YP-0042", code, "another-pin")
    assert used.value.code == "bad_activation"


def test_expired_activation_code_is_refused(ctx):
    town, (east, _west) = make_town()
    account, code = accounts.issue(town.id, "李", "collector", [east.id], None)
    account.activation_expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    with pytest.raises(accounts.AccountError) as error:
        accounts.activate(account.collection_id, code, "583920")
    assert error.value.code == "activation_expired"
    assert account.password_hash is None


def test_weak_pin_refused_at_activation_and_code_still_usable(ctx):
    town, (east, _west) = make_town()
    account, code = accounts.issue(town.id, "李", "collector", [east.id], None)
    with pytest.raises(accounts.AccountError) as error:
        accounts.activate(account.collection_id, code, "111111")
    assert error.value.code == "pin_repeated"
    accounts.activate(account.collection_id, code, "583920")
    assert account.password_hash is not None


def test_reissued_activation_voids_the_old_code(ctx):
    town, (east, _west) = make_town()
    account, old = accounts.issue(town.id, "李", "collector", [east.id], None)
    new = accounts.reset_activation(account)
    with pytest.raises(accounts.AccountError):
        accounts.activate(account.collection_id, old, "583920")
    accounts.activate(account.collection_id, new, "583920")


def test_wrong_id_and_wrong_pin_answer_alike_and_lock_after_five(ctx):
    town, (east, _west) = make_town()
    account = make_account(town, "collector", [east])
    with pytest.raises(accounts.AccountError) as unknown:
        accounts.authenticate("NO-9999", PIN)
    assert unknown.value.code == "bad_login"
    for _ in range(5):
        with pytest.raises(accounts.AccountError) as wrong:
            accounts.authenticate(account.collection_id, "wrong-pin")
        assert wrong.value.code == "bad_login"
    with pytest.raises(accounts.AccountError) as locked:
        accounts.authenticate(account.collection_id, PIN)  # even the right PIN waits out the lock
    assert locked.value.code == "locked" and locked.value.params["minutes"] >= 14
    # The window ends (a forged clock: every counter's window began 15 minutes ago).
    db.session.execute(update(LoginThrottle).values(window_started_at=utcnow() - timedelta(minutes=15)))
    assert accounts.authenticate(account.collection_id, PIN).id == account.id
    db.session.commit()  # audit rows are written, and chained, when their transaction commits
    failures = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed")).all()
    assert len(failures) == 5


def test_revoked_and_expired_ids_cannot_sign_in(ctx):
    town, (east, _west) = make_town()
    revoked = make_account(town, "collector", [east])
    accounts.revoke(revoked, None, "lost phone")
    expired = make_account(town, "collector", [east])
    expired.valid_until = date.today() - timedelta(days=1)
    db.session.commit()
    for account, code in ((revoked, "revoked"), (expired, "expired_id")):
        with pytest.raises(accounts.AccountError) as error:
            accounts.authenticate(account.collection_id, PIN)
        assert error.value.code == code


def test_default_password_hash_is_slow(make_app):
    app = make_app(PASSWORD_HASH_METHOD="scrypt")
    with app.app_context():
        town, _ = make_town()
        account, code = accounts.issue(town.id, "李", "admin", [], None)
        accounts.activate(account.collection_id, code, "583920")
        assert account.password_hash.startswith("scrypt:")
    from fieldapp.config import Defaults
    assert not hasattr(Defaults, "PASSWORD_HASH_METHOD")  # production uses werkzeug's default: scrypt


# HTTP -------------------------------------------------------------------------------------------

def test_login_page_and_bad_pin_status(client, ctx):
    town, (east, _west) = make_town()
    account = make_account(town, "collector", [east])
    assert client.get("/login").status_code == 200
    response = client.post("/login", data={"collection_id": account.collection_id, "pin": "nope-nope"})
    assert response.status_code == 401
    assert f'value="{account.collection_id}"' in response.text  # the typed ID is kept
    assert client.post("/login", data={}).status_code == 422
    ok = client.post("/login?next=/progress", data={"collection_id": account.collection_id, "pin": PIN})
    assert ok.status_code == 303 and ok.location == "/progress"


def test_login_never_redirects_off_site(client, ctx):
    town, (east, _west) = make_town()
    account = make_account(town, "collector", [east])
    response = client.post("/login?next=//evil.example/x", data={"collection_id": account.collection_id, "pin": PIN})
    assert response.location == "/"


def test_activation_over_http(client, ctx):
    town, (east, _west) = make_town()
    account, code = accounts.issue(town.id, "王芳", "collector", [east.id], None)
    db.session.commit()
    form = {"collection_id": account.collection_id, "code": code, "pin": "583920", "pin2": "583921"}
    mismatch = client.post("/activate", data=form)
    assert mismatch.status_code == 422 and account.password_hash is None
    bad = client.post("/activate", data={**form, "code": "WRONGCDE", "pin2": "583920"})
    assert bad.status_code == 401
    ok = client.post("/activate", data={**form, "pin2": "583920"})
    assert ok.status_code == 303 and ok.location == "/login"
    assert client.post("/login", data={"collection_id": account.collection_id, "pin": "583920"}).status_code == 303


def test_revocation_ends_an_open_session_on_the_next_request(ctx, login):
    town, (east, _west) = make_town()
    admin = make_account(town, "admin")
    collector = make_account(town, "collector", [east])
    phone = login(collector)
    assert phone.get("/villages").status_code in (200, 302)
    office = login(admin)
    response = office.post(f"/admin/accounts/{collector.id}/revoke", data={"reason": "lost phone"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Account, collector.id).revoked_at is not None
    after = phone.get("/villages")
    assert after.status_code == 302 and after.location.startswith("/login")


def test_admin_issues_an_id_and_sees_the_code_once(ctx, login):
    town, (east, west) = make_town()
    admin = make_account(town, "admin")
    office = login(admin)
    missing = office.post("/admin/accounts/new", data={"name": "赵六", "role": "collector"})
    assert missing.status_code == 422  # a collector needs a village
    response = office.post("/admin/accounts/new", data={"name": "赵六", "role": "collector", "villages": [west.id]})
    assert response.status_code == 200
    account = db.session.scalar(select(Account).where(Account.name == "赵六"))
    assert account.villages == [west]
    code = re.search(r'class="card big code"[^>]*>([A-Z0-9]{8})<', response.text).group(1)
    assert code not in (account.activation_hash or "")
    accounts.activate(account.collection_id, code, "583920")  # the shown code is the real one
    db.session.commit()
    listing = office.get("/admin/accounts")
    assert code not in listing.text
    assert account.collection_id in listing.text


def test_admin_cannot_revoke_self_and_others_town_is_404(ctx, login):
    town, _ = make_town()
    admin = make_account(town, "admin")
    office = login(admin)
    office.post(f"/admin/accounts/{admin.id}/revoke", data={"reason": "oops"})
    db.session.expire_all()
    assert db.session.get(Account, admin.id).revoked_at is None
    assert office.post("/admin/accounts/99999/revoke", data={"reason": "x"}).status_code == 404
