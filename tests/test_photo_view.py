"""Photos in the web pages (fieldapp/photoview): server-made thumbnails, scope per role and place,
the audit rows a resident's "who looked at my photo" needs, caching, and the pages that show them."""
from __future__ import annotations

import io
import threading
from datetime import date, timedelta

import pytest
from PIL import Image
from sqlalchemy import select, update

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, MoveRequest, Photo, new_uid
from fieldapp.photos import photo_path
from fieldapp.photoview import thumbs

from .builders import make_account, make_house, make_other_town, make_person, make_town, resident_id, send, text_of
from .photo_builders import add_photo, jpeg
from .tips_builders import make_tip


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(PHOTO_DIR=str(tmp_path / "photos"))


@pytest.fixture
def world(ctx):
    town, (east, west) = make_town()
    town2, far = make_other_town()
    house, west_house, far_house = make_house(east), make_house(west), make_house(far)
    person = make_person(house, name="东村张三")
    west_person = make_person(west_house, name="西村李四")
    far_person = make_person(far_house, name="外镇王五")
    abroad = make_person(house, name="境外约翰", id_type="414", id_number=f"E{resident_id()[-8:]}", category="abroad", sex="1",
                         birth_date=date(1980, 5, 1),
                         nationality="USA", move_in_reason="work", ethnicity=None, hukou_type=None)
    accounts = {role: make_account(town, role, [] if role in ("admin", "supervisor") else [east])
                for role in ("admin", "supervisor", "village_head", "reviewer", "collector", "police", "informant")}
    accounts["west_collector"] = make_account(town, "collector", [west])
    accounts["far_supervisor"] = make_account(town2, "supervisor")
    photos = {
        "own": add_photo("person", person.uid), "west": add_photo("person", west_person.uid),
        "town2": add_photo("person", far_person.uid), "abroad": add_photo("person", abroad.uid),
        "house": add_photo("house", house.uid, size=(1200, 1600)),
    }
    return {"town": town, "east": east, "west": west, "house": house, "person": person, "west_person": west_person,
            "abroad": abroad, "accounts": accounts, "photos": photos}


def image_of(response) -> Image.Image:
    image = Image.open(io.BytesIO(response.data))
    image.load()
    return image


def view_rows(target: str | None = None) -> list[tuple]:
    db.session.rollback()
    query = select(AuditEvent.account_id, AuditEvent.target, AuditEvent.detail).where(AuditEvent.action == "view_photo")
    if target is not None:
        query = query.where(AuditEvent.target == target)
    return list(db.session.execute(query.order_by(AuditEvent.seq)).all())


# --- thumbnails -----------------------------------------------------------------------------------

def test_thumbnails_are_real_jpegs_of_the_right_size_without_metadata(world, login):
    client = login(world["accounts"]["collector"])
    photo = world["photos"]["own"]
    assert (photo.width, photo.height) == (1280, 960)
    for size, expected in ((160, (160, 120)), (640, (640, 480))):
        response = send(client, "GET", f"/photos/{photo.uid}/{size}")
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        image = image_of(response)
        assert image.format == "JPEG" and image.size == expected and image.mode == "RGB"
        assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
        assert response.data[:2] == b"\xff\xd8" and len(response.data) < {160: 12_000, 640: 80_000}[size]
        assert thumbs.thumbnail_path(photo.uid, size).read_bytes() == response.data  # cached on disk
    tall = world["photos"]["house"]
    assert image_of(send(client, "GET", f"/photos/{tall.uid}/160")).size == (120, 160)
    full = send(client, "GET", f"/photos/{photo.uid}")
    assert full.status_code == 200 and image_of(full).size == (1280, 960)
    assert full.data == photo_path(photo.uid).read_bytes()
    assert send(client, "GET", f"/photos/{photo.uid}/300").status_code == 404  # only the sizes offered
    assert send(client, "GET", f"/photos/{photo.uid}/0").status_code == 404


def test_a_small_photo_is_never_enlarged(world, login):
    small = add_photo("person", world["person"].uid, size=(100, 80))
    response = send(login(world["accounts"]["collector"]), "GET", f"/photos/{small.uid}/640")
    assert image_of(response).size == (100, 80)


def test_exif_orientation_is_applied_and_dropped():
    # A kept file written elsewhere (restored from a backup made by another tool) may carry EXIF:
    # orientation 6 = the camera was turned; the thumbnail is upright and carries nothing.
    data, width, height = thumbs.make_thumbnail(jpeg((1280, 960), exif_orientation=6), 160)
    image = Image.open(io.BytesIO(data))
    assert (width, height) == image.size == (120, 160)
    assert not image.getexif() and b"PhoneMaker" not in data
    # The dark quarter was top-left before turning 90 degrees clockwise: it is top-right now.
    assert image.getpixel((110, 10))[0] < 60 and image.getpixel((10, 10))[0] > 60


def test_a_broken_or_missing_file_answers_404(world, login):
    client = login(world["accounts"]["collector"])
    photo = world["photos"]["own"]
    photo_path(photo.uid).write_bytes(b"\xff\xd8 not a jpeg any more")
    assert send(client, "GET", f"/photos/{photo.uid}/160").status_code == 404
    photo_path(photo.uid).unlink()
    assert send(client, "GET", f"/photos/{photo.uid}/640").status_code == 404
    assert send(client, "GET", f"/photos/{photo.uid}").status_code == 404
    assert view_rows() == []  # nothing was shown, nothing is logged
    assert send(client, "GET", "/photos/not-a-uid/160").status_code == 404
    assert send(client, "GET", f"/photos/{new_uid()}").status_code == 404


def test_concurrent_thumbnail_creation_gives_one_valid_file(world, app):
    uid = world["photos"]["own"].uid
    db.session.rollback()  # the threads use sessions of their own
    results, errors = [], []
    start = threading.Barrier(8)

    def make():
        with app.app_context():
            try:
                start.wait()
                results.append(thumbs.thumbnail(uid, 640).read_bytes())
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

    workers = [threading.Thread(target=make) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == [] and len(results) == 8
    folder = thumbs.thumbnail_path(uid, 640).parent
    assert [p.name for p in folder.iterdir()] == [f"{uid}-640.jpg"]  # no temporary file left
    assert all(result == results[0] for result in results)
    assert Image.open(io.BytesIO(results[0])).size == (640, 480)


PROCESS = r"""
import sys, time
from pathlib import Path
from flask import Flask
from fieldapp.photoview import thumbs
app = Flask("worker")
app.config["PHOTO_DIR"] = sys.argv[1]
go = Path(sys.argv[1]) / "go"
while not go.exists():
    time.sleep(0.001)
with app.app_context():
    print(thumbs.thumbnail(sys.argv[2], 640).stat().st_size)
"""


def test_worker_processes_making_the_same_thumbnail_leave_one_whole_file(world, app):
    """As gunicorn's workers would: separate processes, started together, same thumbnail."""
    import subprocess
    import sys
    from pathlib import Path

    uid, folder = world["photos"]["own"].uid, app.config["PHOTO_DIR"]
    root = Path(__file__).resolve().parents[1]
    workers = [subprocess.Popen([sys.executable, "-c", PROCESS, folder, uid], cwd=root, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(4)]
    (Path(folder) / "go").touch()
    answers = [worker.communicate(timeout=60) for worker in workers]
    assert [worker.returncode for worker in workers] == [0] * 4, answers
    made = thumbs.thumbnail_path(uid, 640)
    assert [p.name for p in made.parent.iterdir()] == [made.name]  # no temporary file left
    assert {int(out) for out, _err in answers} == {made.stat().st_size}
    assert Image.open(made).size == (640, 480)


def test_concurrent_requests_from_several_clients_share_one_thumbnail(world, app):
    from .builders import sign_in

    uid, house_id = world["photos"]["house"].uid, world["house"].id
    clients = []
    for role in ("collector", "reviewer", "village_head", "police"):
        client = app.test_client()
        sign_in(client, world["accounts"][role].collection_id)
        clients.append(client)
    db.session.rollback()
    answers, start = [], threading.Barrier(len(clients))

    def fetch(client):
        start.wait()
        response = client.get(f"/photos/{uid}/160")
        answers.append((response.status_code, response.data))

    workers = [threading.Thread(target=fetch, args=(client,)) for client in clients]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [status for status, _data in answers] == [200] * len(clients)
    assert len({data for _status, data in answers}) == 1
    assert len(list(thumbs.thumbnail_path(uid, 160).parent.iterdir())) == 1
    assert len(view_rows(f"house:{house_id}")) == len(clients)  # one row per viewer


# --- scope --------------------------------------------------------------------------------------

SCOPE = {
    # viewer: (own, west, town2, abroad, house)
    "admin": (403, 403, 403, 403, 403),
    "supervisor": (200, 200, 404, 404, 200),
    "village_head": (200, 404, 404, 404, 200),
    "reviewer": (200, 404, 404, 404, 200),
    "collector": (200, 404, 404, 404, 200),
    "police": (200, 404, 404, 200, 200),
    "informant": (403, 403, 403, 403, 403),
    "west_collector": (404, 200, 404, 404, 404),
    "far_supervisor": (404, 404, 200, 404, 404),
}


@pytest.mark.parametrize("who", sorted(SCOPE))
def test_scope_per_role_and_place(world, login, who):
    client = login(world["accounts"][who])
    for key, expected in zip(("own", "west", "town2", "abroad", "house"), SCOPE[who]):
        uid = world["photos"][key].uid
        for url in (f"/photos/{uid}", f"/photos/{uid}/160", f"/photos/{uid}/640"):
            assert send(client, "GET", url).status_code == expected, (who, key, url)


def test_not_signed_in_and_signed_out_get_the_sign_in_page(world, login, app):
    uid = world["photos"]["own"].uid
    anonymous = send(app.test_client(), "GET", f"/photos/{uid}/160")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
    client = login(world["accounts"]["collector"])
    first = send(client, "GET", f"/photos/{uid}/160")
    assert first.status_code == 200
    assert send(client, "POST", "/logout").status_code in (302, 303)
    again = send(client, "GET", f"/photos/{uid}/160", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 302  # no 304 for a signed-out browser: the cached copy is not shown


def test_badge_portraits_and_photos_of_no_record_are_not_served_here(world, login):
    admin = world["accounts"]["admin"]
    badge = add_photo("account", str(admin.id))
    orphan = add_photo("person", new_uid())  # uploaded, its record never arrived
    for who in ("supervisor", "police"):
        client = login(world["accounts"][who])
        assert send(client, "GET", f"/photos/{badge.uid}/160").status_code == 404
        assert send(client, "GET", f"/photos/{orphan.uid}").status_code == 404


def test_a_tip_photo_follows_the_tip(world, login):
    tip = make_tip(world["east"], world["house"])
    photo = add_photo("tip", tip.uid)
    tip.photo_uid = photo.uid
    db.session.commit()
    assert send(login(world["accounts"]["collector"]), "GET", f"/photos/{photo.uid}/640").status_code == 200
    assert send(login(world["accounts"]["west_collector"]), "GET", f"/photos/{photo.uid}/640").status_code == 404
    assert send(login(world["accounts"]["informant"]), "GET", f"/photos/{photo.uid}/640").status_code == 403
    assert view_rows(f"tip:{tip.id}") == [(world["accounts"]["collector"].id, f"tip:{tip.id}", "tip photo")]
    page = send(login(world["accounts"]["collector"]), "GET", f"/tips/{tip.id}")
    assert f'src="/photos/{photo.uid}/160"' in page.get_data(as_text=True)


def test_a_move_requests_photo_is_seen_by_who_reviews_the_request(world, login, ctx):
    # A collector of 西村 registers, at a west house, the document of the person registered in 东村:
    # a move request holding what was typed, and the photo the phone took under the request's uid.
    person = world["person"]
    west_house = make_house(world["west"], number="9")
    request = MoveRequest(uid=new_uid(), person_id=person.id, from_village_id=person.village_id,
                          to_house_id=west_house.id, to_village_id=west_house.village_id,
                          data={"name": "张三", "id_type": person.id_type, "id_number": person.id_number},
                          requested_by_id=world["accounts"]["west_collector"].id)
    db.session.add(request)
    db.session.commit()
    typed = add_photo("person", request.uid, color=(200, 90, 40))
    west_reviewer = make_account(world["town"], "reviewer", [world["west"]])
    both = make_account(world["town"], "reviewer", [world["east"], world["west"]])
    # The receiving reviewer sees the request and its photo, not the register's portrait.
    client = login(west_reviewer)
    assert send(client, "GET", f"/photos/{typed.uid}/160").status_code == 200
    assert send(client, "GET", f"/photos/{world['photos']['own'].uid}/160").status_code == 404
    page = send(client, "GET", "/review/moves").get_data(as_text=True)
    assert f"/photos/{typed.uid}/160" in page and world["photos"]["own"].uid not in page
    # A reviewer of both villages sees both sides side by side.
    page = send(login(both), "GET", "/review/moves").get_data(as_text=True)
    assert f"/photos/{typed.uid}/160" in page and f"/photos/{world['photos']['own'].uid}/160" in page
    # Nobody else: the submitting collector does not review moves; 东村's collector neither.
    assert send(login(world["accounts"]["west_collector"]), "GET", f"/photos/{typed.uid}").status_code == 404
    assert send(login(world["accounts"]["collector"]), "GET", f"/photos/{typed.uid}").status_code == 404
    # The photo names the person the request is about, like every read of their data.
    assert {row[1:] for row in view_rows()} == {(f"person:{person.id}", "move request photo")}


# --- audit --------------------------------------------------------------------------------------

def test_each_viewer_and_record_is_logged_once_per_window(world, login, app):
    person, photo = world["person"], world["photos"]["own"]
    collector = login(world["accounts"]["collector"])
    for url in (f"/photos/{photo.uid}/160", f"/photos/{photo.uid}/640", f"/photos/{photo.uid}", f"/photos/{photo.uid}/160"):
        assert send(collector, "GET", url).status_code == 200
    assert view_rows() == [(world["accounts"]["collector"].id, f"person:{person.id}", "portrait")]
    # Another viewer, and another record, are rows of their own.
    assert send(login(world["accounts"]["reviewer"]), "GET", f"/photos/{photo.uid}/160").status_code == 200
    assert send(collector, "GET", f"/photos/{world['photos']['house'].uid}/160").status_code == 200
    assert [row[1] for row in view_rows()] == [f"person:{person.id}", f"person:{person.id}", f"house:{world['house'].id}"]
    # Refused and out-of-scope answers write nothing.
    assert send(collector, "GET", f"/photos/{world['photos']['west'].uid}/160").status_code == 404
    assert len(view_rows()) == 3
    # Past the window the next look is logged again (a window of 0 minutes: every look is past it).
    app.config["PHOTO_AUDIT_MINUTES"] = 0
    assert send(collector, "GET", f"/photos/{photo.uid}/640").status_code == 200
    assert len(view_rows(f"person:{person.id}")) == 3


def test_the_resident_sees_photo_views_under_who_has_looked(world, login):
    person, photo = world["person"], world["photos"]["own"]
    send(login(world["accounts"]["collector"]), "GET", f"/photos/{photo.uid}/160")
    page = send(login(world["accounts"]["supervisor"]), "GET", f"/audit?record=person:{person.id}&action=view_photo")
    assert page.status_code == 200
    text = text_of(page)
    assert world["accounts"]["collector"].collection_id in text and "查看照片" in text and f"person:{person.id}" in text


def test_photos_are_private_and_asked_for_again_before_each_use(world, login):
    client = login(world["accounts"]["collector"])
    uid = world["photos"]["own"].uid
    first = send(client, "GET", f"/photos/{uid}/160")
    assert first.headers["Cache-Control"] == "private, no-cache" and first.headers.get("ETag")
    assert uid in first.request.path and "东村" not in first.request.path
    again = send(client, "GET", f"/photos/{uid}/160", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    # Other pages of a signed-in user stay no-store.
    page = send(client, "GET", f"/people/{world['person'].id}")
    assert page.headers["Cache-Control"] == "no-store"


# --- pages --------------------------------------------------------------------------------------

def test_the_person_page_shows_the_portrait_and_earlier_photos(world, login):
    person, first = world["person"], world["photos"]["own"]
    newest = add_photo("person", person.uid, color=(30, 160, 60))
    db.session.execute(update(Photo).where(Photo.id == newest.id).values(created_at=first.created_at + timedelta(days=1)))
    db.session.commit()
    html = send(login(world["accounts"]["reviewer"]), "GET", f"/people/{person.id}").get_data(as_text=True)
    portrait = html[html.index('id="portrait"'):html.index("</figure>", html.index('id="portrait"'))]
    assert f'src="/photos/{newest.uid}/160"' in portrait and 'loading="lazy"' in portrait
    assert f'srcset="/photos/{newest.uid}/160 160w, /photos/{newest.uid}/640 640w"' in portrait
    assert 'alt="东村张三的照片"' in portrait and 'width="160" height="120"' in portrait
    assert f'href="/photos/{newest.uid}/640"' in portrait and f'data-full="/photos/{newest.uid}"' in portrait
    assert f"/photos/{first.uid}/160" in html  # the earlier one, under "earlier photos"
    assert 'id="photo-dialog"' in html and "/static/js/lightbox.js" in html
    assert view_rows() == []  # the page names the person in its own row; the photo is logged when fetched


def test_a_page_without_photos_has_no_photo_markup(world, login):
    html = send(login(world["accounts"]["reviewer"]), "GET", f"/people/{world['west_person'].id}")
    assert html.status_code == 404
    person = make_person(world["house"], name="没照片")
    html = send(login(world["accounts"]["reviewer"]), "GET", f"/people/{person.id}").get_data(as_text=True)
    assert 'id="portrait"' not in html and 'id="photo-dialog"' not in html


def test_the_house_page_shows_house_photos_and_small_portraits(world, login):
    house = world["house"]
    html = send(login(world["accounts"]["collector"]), "GET", f"/houses/{house.id}").get_data(as_text=True)
    house_photo = world["photos"]["house"].uid
    assert f'src="/photos/{house_photo}/160"' in html and 'id="house-photos"' in html
    listed = html[html.index('class="with-avatar"'):]
    assert f'src="/photos/{world["photos"]["own"].uid}/160"' in listed and 'class="avatar"' in listed
    assert world["photos"]["abroad"].uid not in html  # the police-only resident is not listed at all
    police = send(login(world["accounts"]["police"]), "GET", f"/houses/{house.id}").get_data(as_text=True)
    assert world["photos"]["abroad"].uid in police


def test_the_conflicts_page_shows_the_records_photos_with_the_submitters_marked(world, login):
    from fieldapp.models import Conflict

    person = world["person"]
    collector = world["accounts"]["collector"]
    taken = add_photo("person", person.uid, account_id=collector.id)
    db.session.add(Conflict(entity="person", entity_id=person.id, field="phone", base=None, current="13812345678",
                            submitted="13912345678", account_id=collector.id))
    db.session.commit()
    html = send(login(world["accounts"]["reviewer"]), "GET", "/review/conflicts").get_data(as_text=True)
    assert f"/photos/{taken.uid}/160" in html and f"/photos/{world['photos']['own'].uid}/160" in html
    assert "提交人拍摄" in html
