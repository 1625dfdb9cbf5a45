"""The audit log (fieldapp/audit.py, fieldapp/auditlog): every read of personal data is logged, the
rows form a hash chain that `flask audit verify` checks, the app's PostgreSQL role cannot change or
delete them, the audit page is scoped, and old rows are pruned without breaking the chain."""
from __future__ import annotations

import threading
from unittest import mock
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from fieldapp import audit, create_app
from fieldapp.extensions import db
from fieldapp.models import Account, AuditEvent, Conflict
from fieldapp.rules.identifiers import mask_phone

from .conftest import TEST_CONFIG
from .builders import make_account, make_house, make_other_town, make_person, make_town, send, sign_in
from .sync_builders import bearer, device_token
from .tips_builders import make_tip


def rows(**where) -> list[AuditEvent]:
    db.session.rollback()
    query = select(AuditEvent).order_by(AuditEvent.seq)
    for name, value in where.items():
        query = query.where(getattr(AuditEvent, name) == value)
    found = list(db.session.scalars(query))
    for row in found:  # plain values from now on: tampering with the table must not reload them
        db.session.expunge(row)
    return found


def no_personal_data(row: AuditEvent, *secrets: str) -> bool:
    text_of_row = f"{row.target} {row.detail}"
    return not any(s and s in text_of_row for s in secrets)


# --- 1. every read of personal data is logged ---------------------------------------------------

def test_person_and_house_pages_log_one_row_each_naming_the_record(ctx, login):
    town, (east, _west) = make_town()
    house = make_house(east, collected=True)
    person = make_person(house, name="张三", phone="13812345678")
    make_person(house, name="李四")
    collector = make_account(town, "collector", [east])
    ids = (house.id, person.id, collector.id, person.id_number)
    client = login(collector)
    assert send(client, "GET", f"/people/{ids[1]}").status_code == 200
    assert send(client, "GET", f"/houses/{ids[0]}").status_code == 200
    person_rows, house_rows = rows(action="view_person"), rows(action="view_house")
    assert [(r.account_id, r.target, r.records) for r in person_rows] == [(ids[2], f"person:{ids[1]}", 1)]
    assert [(r.account_id, r.target, r.records) for r in house_rows] == [(ids[2], f"house:{ids[0]}", 3)]
    for row in person_rows + house_rows:
        assert no_personal_data(row, "张三", "李四", "13812345678", ids[3])


def test_every_page_of_a_pull_is_logged_with_its_count_and_device(make_app):
    app = make_app(SYNC_CURSOR_OVERLAP_SECONDS=0)
    with app.app_context():
        town, (east, _west) = make_town()
        for number in range(3):
            house = make_house(east, number=str(number + 1), collected=True)
            make_person(house)
        collector = make_account(town, "collector", [east])
        token = device_token(collector)
        device_id = db.session.scalar(select(func.max(AuditEvent.target)).where(AuditEvent.action == "register_device"))
        client = app.test_client()
        sent, cursor, more = [], 0, True
        while more:
            body = client.get(f"/api/sync/package?cursor={cursor}&limit=2", headers=bearer(token)).json
            sent.append(len(body["houses"]) + len(body["people"]) + len(body["organisations"])
                        + len(body.get("tip_tasks", [])) + len(body.get("my_tips", [])))
            cursor, more = body["cursor"], body["more"]
        logged = rows(action="sync_package")
        # One row per page (cursor > 0 pages too), each with what that page sent, naming the device.
        assert len(sent) >= 3
        assert [r.records for r in logged] == sent
        assert {r.target for r in logged} == {device_id}
        assert logged[0].detail.startswith("full package") and logged[1].detail.startswith("delta from cursor")


def test_label_sheets_and_qr_images_are_logged(ctx, login):
    town, (east, _west) = make_town()
    houses = [make_house(east, number=str(n)) for n in range(1, 4)]
    head = make_account(town, "village_head", [east])
    village_id, house_id = east.id, houses[0].id
    client = login(head)
    assert send(client, "GET", f"/doors/villages/{village_id}/sheet").status_code == 200
    assert send(client, "GET", f"/doors/houses/{house_id}/qr.png").status_code == 200
    logged = rows(action="door_labels")
    assert [(r.target, r.records) for r in logged] == [(f"village:{village_id}", 3), (f"house:{house_id}", 1)]


def test_a_public_tips_phone_shown_to_its_assignee_is_logged(ctx, login):
    town, (east, _west) = make_town()
    house = make_house(east, collected=True)
    collector = make_account(town, "collector", [east])
    other = make_account(town, "collector", [east])
    tip = make_tip(east, house, state="assigned", assigned_to=collector)
    tip_id, phone = tip.id, tip.contact_phone
    page = send(login(other), "GET", f"/tips/{tip_id}")
    assert page.status_code == 200 and phone not in page.get_data(as_text=True)
    assert rows(action="view_tip_contact") == []  # masked: the phone was not read...
    assert [(r.target, r.records) for r in rows(action="view_tip")] == [(f"tip:{tip_id}", 1)]  # ...the tip was
    page = send(login(collector), "GET", f"/tips/{tip_id}")
    assert phone in page.get_data(as_text=True) and mask_phone(phone) != phone
    logged = rows(action="view_tip_contact")
    assert [(r.target, r.records) for r in logged] == [(f"tip:{tip_id}", 1)]
    assert no_personal_data(logged[0], phone)


def test_the_reviewers_conflict_list_is_logged(ctx, login):
    town, (east, _west) = make_town()
    person = make_person(make_house(east, collected=True), phone="13812345678")
    db.session.add(Conflict(entity="person", entity_id=person.id, field="phone", base=None,
                            current="13812345678", submitted="13912345678"))
    db.session.commit()
    reviewer = make_account(town, "reviewer", [east])
    assert send(login(reviewer), "GET", "/review/conflicts").status_code == 200
    assert [r.records for r in rows(action="view_conflicts")] == [1]


# --- 2. the hash chain --------------------------------------------------------------------------

def tamper(sql: str, **params):
    """Raw SQL straight at the table, as someone with database access would, committed at once."""
    result = db.session.execute(text(sql), params)
    db.session.commit()
    return result


def write_rows(n: int, action: str = "test") -> None:
    for i in range(n):
        audit.audit(None, action, f"house:{i + 1}", f"row {i}")
    db.session.commit()


def verify_cli(runner) -> tuple[int, str]:
    result = runner.invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def test_verify_ok_then_names_a_changed_row(ctx, runner):
    write_rows(5)
    code, out = verify_cli(runner)
    assert code == 0 and "OK: 5 rows" in out
    victim = rows()[2]
    tamper("UPDATE audit_events SET detail = 'nothing to see' WHERE id = :id", id=victim.id)
    code, out = verify_cli(runner)
    assert code == 1
    assert f"seq {victim.seq} (id {victim.id})" in out and "changed" in out


def test_verify_names_the_row_after_a_deleted_one(ctx, runner):
    write_rows(5)
    victim, follower = rows()[1], rows()[2]
    tamper("DELETE FROM audit_events WHERE id = :id", id=victim.id)
    code, out = verify_cli(runner)
    assert code == 1
    assert f"seq {follower.seq} (id {follower.id})" in out and f"row {victim.seq} before it are missing" in out


def test_verify_names_a_row_inserted_out_of_order(ctx, runner):
    write_rows(3)
    head = rows()[-1]
    tamper("INSERT INTO audit_events (seq, at, action, target, prev_hash, row_hash) "
           "VALUES (:seq, :at, 'login', NULL, :prev, :hash)",
           seq=head.seq + 1, at=datetime(2020, 1, 1), prev="f" * 64, hash="e" * 64)
    forged = db.session.scalar(text("SELECT id FROM audit_events WHERE seq = :seq"), {"seq": head.seq + 1})
    code, out = verify_cli(runner)
    assert code == 1
    assert f"seq {head.seq + 1} (id {forged})" in out and "inserted out of order" in out


def test_deleting_the_newest_rows_is_caught_with_the_head_written_down(ctx, runner):
    write_rows(3)
    head = rows()[-1]
    expect = f"{head.seq}:{head.row_hash}"
    assert runner.invoke(args=["audit", "verify", "--expect-head", expect]).exit_code == 0
    tamper("DELETE FROM audit_events WHERE seq = :seq", seq=head.seq)
    result = runner.invoke(args=["audit", "verify", "--expect-head", expect])
    assert result.exit_code == 1 and f"seq {head.seq}" in result.output


def test_a_rolled_back_savepoint_takes_its_row_along(ctx):
    audit.audit(None, "kept")
    with db.session.begin_nested() as savepoint:
        audit.audit(None, "dropped")
        savepoint.rollback()
    db.session.commit()
    assert [r.action for r in rows()] == ["kept"]
    assert audit.verify().ok


def test_rows_cannot_be_added_to_the_session_directly(ctx):
    db.session.add(AuditEvent(action="sneaky", seq=99, prev_hash="0" * 64, row_hash="0" * 64))
    with pytest.raises(RuntimeError, match="audit.audit"):
        db.session.flush()
    db.session.rollback()


def test_many_concurrent_writers_leave_one_unbroken_chain(app):
    """Threads with sessions and connections of their own commit audit rows at once (on PostgreSQL
    truly in parallel): afterwards seq runs 1..N without a gap or a fork and the chain verifies."""
    writers, each = 8, 25
    start = threading.Barrier(writers)
    errors = []

    def writer(n: int) -> None:
        try:
            with app.app_context():
                start.wait()
                for i in range(each):
                    audit.audit(None, "concurrent", f"device:{n}", f"row {i}")
                    if i % 5 == 0:  # some transactions carry two rows
                        audit.audit(None, "concurrent", f"device:{n}", f"row {i} bis")
                    db.session.commit()
                db.session.remove()
        except Exception as error:  # reported to the test below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context():
        expected = writers * (each + each // 5)
        assert db.session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all() == list(range(1, expected + 1))
        verdict = audit.verify()
        assert verdict.ok and verdict.rows == expected, verdict.message()


# --- 3. PostgreSQL: the app's role may insert but never change or delete ------------------------

ROLE = "fa_audit_test_app"


def test_the_app_role_cannot_update_or_delete_audit_rows(ctx, backend, database_url, runner):
    if backend != "postgresql":
        pytest.skip("database roles and grants are PostgreSQL's")
    write_rows(2)
    with db.engine.begin() as conn:
        conn.execute(text(f"DROP OWNED BY {ROLE}") if conn.scalar(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": ROLE}) else text("SELECT 1"))
        conn.execute(text(f"DROP ROLE IF EXISTS {ROLE}"))
        conn.execute(text(f"CREATE ROLE {ROLE} LOGIN"))
    result = runner.invoke(args=["audit", "grants", "--role", ROLE, "--apply"])
    assert result.exit_code == 0, result.output
    as_app = create_engine(make_url(database_url).set(username=ROLE, password=None))
    try:
        with as_app.connect() as conn:
            assert conn.scalar(text("SELECT current_user")) == ROLE
            for statement in ("UPDATE audit_events SET detail = 'x'", "DELETE FROM audit_events",
                              "TRUNCATE audit_events"):
                with pytest.raises(Exception, match="permission denied"):
                    conn.execute(text(statement))
                conn.rollback()
        # The app itself, connected as that role, still writes chained rows and reads the registry.
        role_app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": str(make_url(database_url).set(username=ROLE))})
        with role_app.app_context():
            audit.audit(None, "as_app_role")
            db.session.commit()
            assert db.session.scalar(select(func.count()).select_from(Account)) >= 0
            db.engine.dispose()
        assert audit.verify().ok
        assert [r.action for r in rows()][-1] == "as_app_role"
    finally:
        as_app.dispose()
        with db.engine.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {ROLE}"))
            conn.execute(text(f"DROP ROLE {ROLE}"))


def test_grants_are_printed_for_review(runner):
    result = runner.invoke(args=["audit", "grants", "--role", "fieldapp_web"])
    assert result.exit_code == 0
    assert 'REVOKE UPDATE, DELETE, TRUNCATE ON "public".audit_events FROM "fieldapp_web";' in result.output


# --- 4. the audit page --------------------------------------------------------------------------

def test_who_has_looked_at_this_person_scoped_and_exported(ctx, login):
    town, (east, west) = make_town()
    town2, _far = make_other_town()
    house = make_house(east, collected=True)
    person = make_person(house, name="张三")
    other = make_person(make_house(west, collected=True), name="李四")
    collector = make_account(town, "collector", [east])
    supervisor = make_account(town, "supervisor")
    far_supervisor = make_account(town2, "supervisor")
    admin = make_account(town, "admin")
    ids = {"person": person.id, "house": house.id, "other": other.id, "collector": collector.collection_id}
    reader = login(collector)
    send(reader, "GET", f"/people/{ids['person']}")
    send(reader, "GET", f"/houses/{ids['house']}")
    send(login(supervisor), "GET", f"/people/{ids['other']}")

    sup = login(supervisor)
    page = send(sup, "GET", f"/people/{ids['person']}").get_data(as_text=True)
    assert f"/audit?record=person:{ids['person']}" in page  # the link for audit.view roles
    page = send(sup, "GET", f"/audit?record=person:{ids['person']}").get_data(as_text=True)
    assert ids["collector"] in page
    assert f">house:{ids['house']}<" in page and f">person:{ids['other']}<" not in page
    assert "张三" not in page
    # Filter by account and by kind.
    page = send(sup, "GET", f"/audit?account={ids['collector']}&action=view_house").get_data(as_text=True)
    assert f">house:{ids['house']}<" in page and f">person:{ids['person']}<" not in page
    # CSV: UTF-8 with a BOM, one line per row.
    export = send(sup, "GET", f"/audit.csv?record=person:{ids['person']}")
    assert export.status_code == 200 and export.data.startswith("\ufeff".encode("utf-8"))
    lines = export.data.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("seq,time,collection_id,action") and len(lines) == 1 + 4
    # The collector's person and house pages, the supervisor's own look, and their audit query about her.
    assert sorted(line.split(",")[3] for line in lines[1:]) == ["audit_view", "view_house", "view_person", "view_person"]
    # Another town's supervisor sees none of this town's rows; a collector has no audit page.
    far = login(far_supervisor)
    assert ids["collector"] not in send(far, "GET", "/audit").get_data(as_text=True)
    assert send(far, "GET", f"/audit?record=person:{ids['person']}").status_code == 404
    assert send(reader, "GET", "/audit").status_code == 403
    assert ids["collector"] in send(login(admin), "GET", "/audit").get_data(as_text=True)
    # An admin is of one town too: another town's admin sees none of these rows.
    far_admin = login(make_account(town2, "admin"))
    assert ids["collector"] not in send(far_admin, "GET", "/audit").get_data(as_text=True)
    page = send(far_admin, "GET", f"/audit?account={ids['collector']}").get_data(as_text=True)
    assert f">house:{ids['house']}<" not in page and f">person:{ids['person']}<" not in page


def test_the_audit_page_pages_and_filters_by_date(make_app):
    app = make_app(PAGE_SIZE=5)
    with app.app_context():
        town, _villages = make_town()
        admin = make_account(town, "admin")
        write_rows(12)
        client = app.test_client()
        sign_in(client, admin.collection_id)
        first = send(client, "GET", "/audit?action=test").get_data(as_text=True)
        assert "page=2" in first and first.count("<li><strong>") == 5
        third = send(client, "GET", "/audit?action=test&page=3").get_data(as_text=True)
        assert third.count("<li><strong>") == 2
        tomorrow = (datetime.utcnow() + timedelta(days=2)).date().isoformat()
        later = send(client, "GET", f"/audit?action=test&since={tomorrow}").get_data(as_text=True)
        assert "<li><strong>" not in later


# --- 5. retention -------------------------------------------------------------------------------

def test_retention_under_six_months_is_refused(make_app):
    with pytest.raises(ValueError, match="183"):
        make_app(AUDIT_RETENTION_DAYS=182)
    assert make_app(AUDIT_RETENTION_DAYS=400).config["AUDIT_RETENTION_DAYS"] == 400


def test_prune_deletes_only_old_rows_keeps_the_chain_and_logs_itself(ctx, runner):
    long_ago = datetime.utcnow() - timedelta(days=200)
    with mock.patch("fieldapp.audit.utcnow", return_value=long_ago):  # rows written 200 days ago
        write_rows(4, "old")
    write_rows(2, "recent")
    result = runner.invoke(args=["audit", "prune"])
    assert result.exit_code == 0 and "Deleted 4" in result.output
    left = rows()
    assert [r.action for r in left] == ["recent", "recent", "audit_prune"]
    assert left[-1].records == 4 and left[-1].target == "audit_event:4"
    verdict = audit.verify()
    assert verdict.ok and verdict.rows == 3, verdict.message()
    # The anchor row is what lets the chain start at seq 5: deleting it is caught, naming seq 5.
    first = left[0]
    tamper("DELETE FROM audit_events WHERE action = 'audit_prune'")
    verdict = audit.verify()
    assert not verdict.ok and (verdict.seq, verdict.row_id) == (first.seq, first.id)
    assert "rows 1 to 4 were removed" in verdict.problem


def test_prune_of_nothing_but_old_rows_keeps_the_newest_so_the_chain_goes_on(ctx):
    with mock.patch("fieldapp.audit.utcnow", return_value=datetime.utcnow() - timedelta(days=400)):
        write_rows(3, "old")
    assert audit.prune(183) == 2
    db.session.commit()
    assert [(r.seq, r.action) for r in rows()] == [(3, "old"), (4, "audit_prune")]
    assert audit.verify().ok


def test_prune_refuses_a_short_retention(ctx):
    with pytest.raises(ValueError):
        audit.prune(30)


def test_migration_chains_existing_rows(ctx):
    """The migration's frozen copy of the hash gives the same hashes as the app's."""
    import importlib.util
    from pathlib import Path

    from fieldapp import MIGRATIONS
    path = next(Path(MIGRATIONS, "versions").glob("c66ad3e7fa40_*.py"))
    spec = importlib.util.spec_from_file_location("chain_migration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    row = {"seq": 1, "at": datetime(2016, 5, 1, 8, 30, 0, 123), "account_id": 3, "action": "login",
           "target": "person:1", "records": None, "detail": "编辑"}
    assert module._row_hash(row, module.GENESIS_HASH) == audit.row_hash(row, audit.GENESIS_HASH)


def test_a_form_posted_back_with_an_error_logs_the_numbers_it_shows_again(ctx, login, app):
    """An edit form posted back with one bad field shows the record's full numbers again: logged
    like opening it. (And a form posted without its version is refused, not a 500.)"""
    town, (east, _west) = make_town()
    person = make_person(make_house(east, collected=True), phone="13812345678")
    person_id, number, version = person.id, person.id_number, str(person.version)
    client = login(make_account(town, "collector", [east]))
    response = send(client, "POST", f"/people/{person_id}/edit", {"version": version, "phone": "abc"})
    assert response.status_code == 422 and number in response.get_data(as_text=True)
    assert [(r.target, r.detail) for r in rows(action="reveal_identifier")] == [(f"person:{person_id}", "edit form")]
    assert send(client, "POST", f"/people/{person_id}/edit", {"phone": "13812345678"}).status_code == 422


def test_a_tip_shown_again_after_a_refused_action_is_logged(ctx, login):
    town, (east, _west) = make_town()
    house = make_house(east, collected=True)
    collector = make_account(town, "collector", [east])
    tip_id = make_tip(east, house, state="new").id
    response = send(login(collector), "POST", f"/tips/{tip_id}/verify", {})
    assert response.status_code in (409, 422)
    assert [r.target for r in rows(action="view_tip")] == [f"tip:{tip_id}"]


def test_rows_naming_a_person_from_abroad_are_not_shown_to_non_police(ctx, login):
    town, (east, _west) = make_town()
    house = make_house(east, collected=True)
    hidden = make_person(house, name="境外约翰", id_type="414", id_number="E7654321", sex="1",
                         category="abroad", nationality="USA", move_in_reason="work", ethnicity=None, hukou_type=None)
    hidden_id = hidden.id
    police = make_account(town, "police", [east])
    send(login(police), "GET", f"/people/{hidden_id}")
    assert [r.target for r in rows(action="view_person")] == [f"person:{hidden_id}"]
    page = send(login(make_account(town, "supervisor")), "GET", "/audit?action=view_person").get_data(as_text=True)
    assert f">person:{hidden_id}<" not in page and "view_person" in page
