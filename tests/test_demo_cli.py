"""The commands and the Yuping 2016 demo, whose town totals are the seed's."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from fieldapp import accounts, records
from fieldapp.demo import ACCOUNTS, DEMO_PIN, quota_rows
from fieldapp.extensions import db
from fieldapp.models import Account, Change, Flag, House, MoveRequest, Organisation, Person, Village, VillageCounter
from fieldapp.rules.days import today as local_today
from fieldapp.rules.identifiers import validate_resident_id, validate_uscc

from .builders import make_town


def test_quota_table_sums_to_the_police_station_totals():
    villages, total = quota_rows()
    assert len(villages) == 28
    assert sum(v["population_quota"] for v in villages) == total["population_quota"] == 41115
    assert sum(v["housing_quota"] for v in villages) == total["housing_quota"] == 10831
    assert total["organization_quota"] == 400


def test_setup_loads_the_demo_once_with_the_seed_totals(app, runner, login):
    result = runner.invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    for cid, *_ in ACCOUNTS:
        assert cid in result.output
    assert DEMO_PIN in result.output

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Village)) == 28
        # The seed's 10,831 houses, plus one registered again at the same address the way a phone
        # offline would: flagged duplicate_house for the reviewer to merge (issue 12's demo queue).
        assert db.session.scalar(select(func.count()).select_from(House).where(House.address_identity.is_not(None))) == 10831
        assert db.session.scalar(select(func.count()).select_from(House)) == 10832
        assert db.session.scalar(select(func.count()).select_from(Flag).where(Flag.kind == "duplicate_house")) == 1
        maintained = {c.village_id: (c.people, c.houses, c.orgs) for c in db.session.scalars(select(VillageCounter))}
        assert records.recount() == maintained  # bulk-loaded data, counters from their one owner
        assert all(0 < people for people, _h, _o in maintained.values())
        for number in db.session.scalars(select(Person.id_number).where(Person.id_type == "111").limit(500)):
            validate_resident_id(number)
        for code in db.session.scalars(select(House.door_code).limit(500)):
            assert len(code) == 8
        every_person_has_history = db.session.scalar(
            select(func.count()).select_from(Person).where(~Person.id.in_(
                select(Change.entity_id).where(Change.entity == "person"))))
        assert every_person_has_history == 0
        codes = db.session.scalars(select(Organisation.uscc)).all()
        assert len(codes) >= 28 and all(validate_uscc(c) == c for c in codes)
        assert sum(c.startswith("N2") for c in codes) == 28  # one village collective each
        supervisor = db.session.scalar(select(Account).where(Account.collection_id == "YP-0002"))
        reviewer = db.session.scalar(select(Account).where(Account.collection_id == "YP-0020"))
        # The desk: history entered by the demo's reviewers (a few late), a recent slice waiting.
        states = dict(db.session.execute(select(Change.review_state, func.count()).group_by(Change.review_state)).all())
        assert "exempt" not in states and states["returned"] == 1 and states["pending"] >= 20
        late = db.session.scalar(select(func.count()).where(Change.review_state == "approved", Change.reviewed_late))
        assert 0 < late < states["approved"] * 0.1
        assert db.session.scalar(select(func.count()).where(
            Change.review_state == "pending", Change.review_due_on < local_today())) > 0
        assert db.session.scalar(select(func.count()).select_from(Flag)) >= 1
        assert db.session.scalar(select(func.count()).where(MoveRequest.status == "pending")) == 1

    queue = login(reviewer, pin=DEMO_PIN).get("/review/queue")
    assert queue.status_code == 200 and queue.text.count('id="entry-') >= 20

    page = login(supervisor, pin=DEMO_PIN).get("/progress")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    for figure in ("41,115", "10,831", "/ 400"):
        assert figure in text
    assert page.text.count("data-village=") == 28  # one row per village

    again = runner.invoke(args=["setup"])
    assert again.exit_code == 0 and "up to date" in again.output
    refused = runner.invoke(args=["demo"])
    assert refused.exit_code != 0 and "empty" in refused.output


def test_issue_and_revoke_commands(ctx, runner):
    make_town()
    missing = runner.invoke(args=["issue-id", "--name", "王芳", "--role", "collector"])
    assert missing.exit_code != 0 and "--village" in missing.output
    unknown = runner.invoke(args=["issue-id", "--name", "王芳", "--role", "collector", "--village", "北村"])
    assert unknown.exit_code != 0 and "北村" in unknown.output
    issued = runner.invoke(args=["issue-id", "--name", "王芳", "--role", "collector", "--village", "东村"])
    assert issued.exit_code == 0, issued.output
    cid, code = re.search(r"^(\S+)\s+activation code (\S+)", issued.output).groups()
    accounts.activate(cid, code, "583920")
    db.session.commit()
    revoked = runner.invoke(args=["revoke-id", cid.lower(), "--reason", "lost phone"])
    assert revoked.exit_code == 0, revoked.output
    db.session.expire_all()
    assert db.session.scalar(select(Account).where(Account.collection_id == cid)).revoked_at is not None
    twice = runner.invoke(args=["revoke-id", cid, "--reason", "again"])
    assert twice.exit_code != 0 and "already" in twice.output
    assert runner.invoke(args=["revoke-id", "NO-1", "--reason", "x"]).exit_code != 0


def test_recount_repairs_drifted_counters(ctx, runner):
    _town, (east, _west) = make_town()
    counter = db.session.get(VillageCounter, east.id)
    counter.people = 999
    db.session.commit()
    result = runner.invoke(args=["recount"])
    assert result.exit_code == 0 and "1 had drifted" in result.output
    db.session.expire_all()
    assert db.session.get(VillageCounter, east.id).people == 0
