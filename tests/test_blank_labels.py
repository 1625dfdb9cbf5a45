"""Blank door labels (issue 12, "New houses can get door proof"): printing label stock, binding a
scanned label to a new house on push, the public page of an unbound label, the CLI, and two phones
binding one label at the same moment."""
from __future__ import annotations

import multiprocessing

from sqlalchemy import func, select

from fieldapp.doors import labels
from fieldapp.extensions import db
from fieldapp.models import AuditEvent, BlankLabel, Change, House, RetiredDoorCode, Visit
from fieldapp.rules.doorcode import format_door_code, is_valid_door_code

from .builders import make_account, make_house, make_town
from .labels_builders import house_new_with_label, make_labels
from .sync_builders import device_token, house_new, push_http
from .sync_visit_builders import visit_new
from .test_sync_push import setup_collector


# --- issuing ------------------------------------------------------------------------------------

def test_issued_labels_have_valid_unique_codes_tokens_like_houses_and_are_audited(ctx):
    _town, (east, _west) = make_town()
    house = make_house(east)
    batch, made = make_labels(east, 30)
    assert len(made) == 30 and {label.batch for label in made} == {batch}
    assert all(is_valid_door_code(label.door_code) for label in made)
    assert len({label.door_code for label in made}) == 30 and house.door_code not in {x.door_code for x in made}
    assert all(len(label.door_token) == len(house.door_token) for label in made)
    assert all(label.bound_house_id is None and label.village_id == east.id for label in made)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "blank_labels_printed"))
    assert event is not None and f"batch {batch}" in event.detail


def test_label_codes_avoid_house_retired_and_label_codes(ctx, monkeypatch):
    _town, (east, _west) = make_town()
    house = make_house(east)
    db.session.add(RetiredDoorCode(house_id=house.id, door_code="K7M3Q9PX", token_hash="x" * 64, reason="other"))
    _batch, [first] = make_labels(east, 1)
    draws = iter([house.door_code, "K7M3Q9PX", first.door_code, "0000000" + "0"])
    monkeypatch.setattr(labels, "new_door_code", lambda: next(draws))
    _batch, [label] = make_labels(east, 1)
    assert label.door_code == "00000000"


def test_new_houses_never_draw_a_blank_label_code(ctx, monkeypatch):
    from fieldapp import records
    _town, (east, _west) = make_town()
    _batch, [label] = make_labels(east, 1)
    draws = iter([label.door_code, "00000000"])
    monkeypatch.setattr(records, "new_door_code", lambda: next(draws))
    assert make_house(east).door_code == "00000000"


def test_a_batch_is_capped(ctx):
    _town, (east, _west) = make_town()
    for count in (0, labels.MAX_PER_BATCH + 1):
        try:
            labels.issue(None, east.id, count)
        except ValueError:
            continue
        raise AssertionError(f"{count} labels were issued")


# --- binding on push -------------------------------------------------------------------------------

def test_a_new_house_takes_its_scanned_label_and_its_scan_is_door_proof(ctx, client):
    _town, east, _west, account, token = setup_collector()
    _batch, [label] = make_labels(east, 1)
    code, label_token = label.door_code, label.door_token
    item = house_new_with_label(east.id, label_token)
    visit = {**visit_new(item["entity_uid"], "scan"), "label_token": label_token}
    person_visit = {"visit_uid": visit["uid"]}
    from .sync_builders import person_new
    results = push_http(client, token, [item, visit, {**person_new(item["entity_uid"]), **person_visit}])
    assert [r["status"] for r in results] == ["accepted"] * 3, results
    assert results[0]["label"]["status"] == "bound"
    db.session.rollback()
    house = db.session.scalar(select(House).where(House.uid == item["entity_uid"]))
    assert (house.door_code, house.door_token) == (code, label_token)
    saved = db.session.get(BlankLabel, label.id)
    assert (saved.bound_house_id, saved.bound_by_id) == (house.id, account.id) and saved.bound_at is not None
    assert db.session.scalar(select(Visit.method).where(Visit.uid == visit["uid"])) == "scan"
    changes = list(db.session.scalars(select(Change).where(Change.entity == "house", Change.entity_id == house.id)))
    assert changes and all(c.door_proof for c in changes if c.kind == "new")
    person_change = db.session.scalar(select(Change).where(Change.entity == "person"))
    assert person_change.door_proof
    # The public page of the label is now the house's.
    page = client.get(f"/d/{label_token}")
    assert page.status_code == 200 and format_door_code(code) in page.text


def _bind_fails(client, token, item_token, village_id):
    item = house_new_with_label(village_id, item_token)
    visit = {**visit_new(item["entity_uid"], "scan"), "label_token": item_token}
    results = push_http(client, token, [item, visit])
    assert [r["status"] for r in results] == ["accepted"] * 2, results
    db.session.rollback()
    house = db.session.scalar(select(House).where(House.uid == item["entity_uid"]))
    assert house.door_token != item_token and is_valid_door_code(house.door_code)
    assert db.session.scalar(select(Visit.method).where(Visit.uid == visit["uid"])) == "list"
    new = db.session.scalar(select(Change).where(Change.entity == "house", Change.entity_id == house.id))
    assert not new.door_proof
    return results[0]["label"]


def test_unknown_taken_and_other_village_labels_do_not_bind_and_say_why(ctx, client):
    town, east, west, account, token = setup_collector(villages=None)
    _batch, [mine, theirs] = make_labels(east, 2)
    _batch, [western] = make_labels(west, 1)
    other_token = device_token(make_account(town, "collector", [east]))
    first = push_http(client, other_token, [house_new_with_label(east.id, mine.door_token)])
    assert first[0]["label"]["status"] == "bound"
    unknown = _bind_fails(client, token, "A" * 27, east.id)
    assert unknown["status"] == "unknown" and unknown["reason"]
    assert _bind_fails(client, token, mine.door_token, east.id)["status"] == "taken"
    assert _bind_fails(client, token, western.door_token, east.id)["status"] == "other_village"
    db.session.rollback()
    assert db.session.get(BlankLabel, theirs.id).bound_house_id is None
    assert db.session.get(BlankLabel, western.id).bound_house_id is None


def test_a_refused_house_new_does_not_use_up_its_label(ctx, client):
    _town, east, _west, _account, token = setup_collector()
    _batch, [label] = make_labels(east, 1)
    bad = house_new_with_label(east.id, label.door_token, number=None)
    [result] = push_http(client, token, [bad])
    assert result["status"] == "rejected"
    db.session.rollback()
    assert db.session.get(BlankLabel, label.id).bound_at is None
    [again] = push_http(client, token, [house_new_with_label(east.id, label.door_token)])
    assert again["label"]["status"] == "bound"
    [wrong] = push_http(client, token, [{**house_new(east.id), "label_token": 5}])
    assert wrong["code"] == "bad_item" and "label_token" in wrong["errors"]


def test_many_new_houses_with_and_without_labels_in_one_push(ctx, client):
    # Plain house.new items take the bulk path; those with a label go item by item, in order.
    _town, east, _west, _account, token = setup_collector()
    _batch, made = make_labels(east, 3)
    items = []
    for n, label in enumerate(made):
        items += [house_new(east.id, number=f"{n}a"), house_new_with_label(east.id, label.door_token, number=f"{n}b")]
    results = push_http(client, token, items)
    assert [r["status"] for r in results] == ["accepted"] * 6
    assert [r["label"]["status"] for r in results[1::2]] == ["bound"] * 3
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(BlankLabel).where(BlankLabel.bound_house_id.isnot(None))) == 3


# --- two phones, one label ------------------------------------------------------------------------

WORKERS = 4


def _pusher(url: str, device: str, item: dict, queue) -> None:
    try:
        from fieldapp import create_app

        from .conftest import TEST_CONFIG, IsolatedClient
        app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
        app.test_client_class = IsolatedClient
        response = app.test_client().post("/api/sync/push", json={"items": [item]},
                                          headers={"Authorization": f"Bearer {device}"})
        queue.put(response.json["results"][0]["label"]["status"])
    except Exception as error:  # reported to the test, which fails with it
        queue.put(repr(error))


def test_several_phones_binding_one_label_at_once_exactly_one_wins(ctx, database_url):
    town, (east, _west) = make_town()
    _batch, [label] = make_labels(east, 1)
    args = [(database_url, device_token(make_account(town, "collector", [east])),
             house_new_with_label(east.id, label.door_token, number=str(n))) for n in range(WORKERS)]
    db.session.rollback()
    spawn = multiprocessing.get_context("spawn")  # separate interpreters, like gunicorn workers
    queue = spawn.Queue()
    procs = [spawn.Process(target=_pusher, args=(*a, queue)) for a in args]
    for p in procs:
        p.start()
    statuses = sorted(queue.get(timeout=180) for _ in procs)
    for p in procs:
        p.join(30)
    assert statuses == ["bound"] + ["taken"] * (WORKERS - 1), statuses
    db.session.expire_all()
    houses = list(db.session.scalars(select(House).where(House.village_id == east.id)))
    assert len(houses) == WORKERS
    assert sum(h.door_token == label.door_token for h in houses) == 1
    assert len({h.door_code for h in houses}) == WORKERS


# --- pages ------------------------------------------------------------------------------------------

def test_public_page_of_an_unbound_label_says_it_is_not_in_use(ctx, client):
    _town, (east, _west) = make_town()
    _batch, [label] = make_labels(east, 1)
    page = client.get(f"/d/{label.door_token}?public=1")
    assert page.status_code == 200
    assert 'id="label-not-bound"' in page.text
    assert format_door_code(label.door_code) not in page.text and east.name not in page.text
    assert page.headers["Cache-Control"] == "no-store"


def test_print_page_prints_a_batch_and_reprints_it(ctx, login):
    town, (east, west) = make_town()
    head = make_account(town, "village_head", [east])
    client = login(head)
    page = client.get(f"/doors/villages/{east.id}/blank")
    assert page.status_code == 200 and 'id="blank-cap"' in page.text and str(labels.MAX_PER_BATCH) in page.text
    too_many = client.post(f"/doors/villages/{east.id}/blank", data={"count": str(labels.MAX_PER_BATCH + 1)})
    assert too_many.status_code == 422 and 'aria-invalid="true"' in too_many.text
    assert f'value="{labels.MAX_PER_BATCH + 1}"' in too_many.text  # the input is kept
    done = client.post(f"/doors/villages/{east.id}/blank", data={"count": "13"})
    assert done.status_code == 303
    sheet = client.get(done.headers["Location"])
    assert sheet.status_code == 200
    assert sheet.text.count('class="door-label"') == 13 and sheet.text.count('class="a4 blank-labels"') == 2
    db.session.rollback()
    made = list(db.session.scalars(select(BlankLabel).where(BlankLabel.village_id == east.id)))
    assert len(made) == 13 and all(format_door_code(label.door_code) in sheet.text for label in made)
    assert client.get(f"/doors/villages/{east.id}/blank").text.count(made[0].batch) >= 1
    reprint = client.get(done.headers["Location"])
    assert reprint.text.count('class="door-label"') == 13
    reads = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "blank_labels"))
    assert reads == 2
    assert client.post(f"/doors/villages/{west.id}/blank", data={"count": "1"}).status_code == 404
    assert client.get(f"/doors/villages/{east.id}/blank/nope").status_code == 404


def test_cli_prints_blank_labels_to_a_file(ctx, app, tmp_path):
    _town, (east, _west) = make_town()
    db.session.commit()
    out = tmp_path / "labels.html"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["doors", "blank-labels", "--village", east.code, "--count", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "5 blank labels" in result.output
    text = out.read_text("utf-8")
    db.session.rollback()
    made = list(db.session.scalars(select(BlankLabel).where(BlankLabel.village_id == east.id)))
    assert len(made) == 5 and all(format_door_code(label.door_code) in text for label in made)
    assert text.count('class="door-label"') == 5 and "<style>" in text
    bad = runner.invoke(args=["doors", "blank-labels", "--village", east.code, "--count", "999"])
    assert bad.exit_code != 0 and "240" in bad.output
    unknown = runner.invoke(args=["doors", "blank-labels", "--village", "nope", "--count", "1"])
    assert unknown.exit_code != 0 and "No village" in unknown.output
