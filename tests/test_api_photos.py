"""Photos: chunked, resumable uploads; re-encoded without metadata; bad images refused."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from fieldapp import photos

from .builders import make_account, make_house, make_person, make_town
from .sync_builders import bearer, device_token, new_uid


@pytest.fixture
def photo_app(make_app, tmp_path):
    app = make_app(PHOTO_DIR=str(tmp_path / "photos"))
    with app.app_context():
        yield app


def setup(app):
    town, (east, west) = make_town()
    house, elsewhere = make_house(east), make_house(west)
    token = device_token(make_account(town, "collector", [east]))
    return house, elsewhere, token


def jpeg_with_gps(size=(2000, 1500)) -> bytes:
    image = Image.new("RGB", size, (120, 80, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (30.0, 12.0, 5.0), "E", (110.0, 30.0, 1.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, quality=90)
    return out.getvalue()


def put(client, token, uid, chunk, start, total, of):
    return client.put(f"/api/photos/{uid}", data=chunk, headers={
        **bearer(token), "Content-Range": f"bytes {start}-{start + len(chunk) - 1}/{total}", "X-Photo-Of": of,
        "Content-Type": "image/jpeg"})


def test_resumable_upload_strips_exif_and_gps(photo_app, tmp_path):
    house, _elsewhere, token = setup(photo_app)
    client = photo_app.test_client()
    data = jpeg_with_gps()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the original has a position
    uid, of = new_uid(), f"house:{house.uid}"
    half = len(data) // 2
    first = put(client, token, uid, data[:half], 0, len(data), of)
    assert first.status_code == 200 and first.json == {"received": half, "complete": False}
    # The connection dropped: the phone asks where to resume.
    assert client.get(f"/api/photos/{uid}/status", headers=bearer(token)).json["received"] == half
    gap = put(client, token, uid, data[half + 10:], half + 10, len(data), of)
    assert gap.status_code == 416 and gap.json["received"] == half
    done = put(client, token, uid, data[half:], half, len(data), of)
    assert done.status_code == 200 and done.json["complete"] is True
    photo = done.json["photo"]
    assert (photo["width"], photo["height"]) == (1280, 960)
    stored = tmp_path / "photos" / f"{uid}.jpg"
    assert stored.stat().st_size == photo["bytes"]
    assert not list((tmp_path / "photos" / "partial").iterdir())
    image = Image.open(stored)
    assert image.format == "JPEG" and "exif" not in image.info and not image.getexif()
    assert b"PhoneMaker" not in stored.read_bytes()
    status = client.get(f"/api/photos/{uid}/status", headers=bearer(token)).json
    assert status["complete"] is True and status["received"] == len(data)
    # A repeat after completion answers the stored photo.
    assert put(client, token, uid, data[half:], half, len(data), of).json["photo"] == photo


def test_refuses_what_is_not_an_image(photo_app):
    house, _elsewhere, token = setup(photo_app)
    client = photo_app.test_client()
    junk = b"\xff\xd8\xff\xe0 this is not a jpeg" * 10
    response = put(client, token, new_uid(), junk, 0, len(junk), f"house:{house.uid}")
    assert response.status_code == 422 and response.json["error"] == "not_an_image"
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, format="GIF")
    response = put(client, token, new_uid(), gif.getvalue(), 0, len(gif.getvalue()), f"house:{house.uid}")
    assert response.json["error"] == "not_an_image"
    truncated = jpeg_with_gps((300, 200))[:-200]
    response = put(client, token, new_uid(), truncated, 0, len(truncated), f"house:{house.uid}")
    assert response.json["error"] == "not_an_image"


def test_refuses_over_5_mb(photo_app):
    house, _elsewhere, token = setup(photo_app)
    response = put(photo_app.test_client(), token, new_uid(), b"x" * 100, 0, photos.PHOTO_MAX_BYTES + 1,
                   f"house:{house.uid}")
    assert response.status_code == 422 and response.json["error"] == "too_large"


def test_refuses_too_many_pixels_and_decompression_bombs(photo_app):
    house, _elsewhere, token = setup(photo_app)
    client = photo_app.test_client()
    for size in ((8000, 6000), (20000, 20000)):  # 48 MP; 400 MP (a bomb: PNG compresses it to little)
        out = io.BytesIO()
        Image.new("1", size).save(out, format="PNG")
        data = out.getvalue()
        assert len(data) < photos.PHOTO_MAX_BYTES
        response = put(client, token, new_uid(), data, 0, len(data), f"house:{house.uid}")
        assert response.status_code == 422 and response.json["error"] == "too_many_pixels"
    with pytest.raises(photos.PhotoError) as refused:
        photos.process_photo(b"")
    assert refused.value.code == "not_an_image"


def test_an_upload_cut_off_while_processing_is_finished_by_the_phones_resume(photo_app, monkeypatch):
    """The server was killed after the last chunk was written and before the photo was kept: the
    status must leave the phone something to send, or it could never finish (found by the fault
    test: one phone sent 28,000 empty chunks)."""
    house, _elsewhere, token = setup(photo_app)
    client = photo_app.test_client()
    data, uid = jpeg_with_gps((400, 300)), new_uid()

    def killed(_data):
        raise SystemExit("kill -9")
    monkeypatch.setattr(photos, "process_photo", killed)
    with pytest.raises(SystemExit):
        put(client, token, uid, data, 0, len(data), f"house:{house.uid}")
    monkeypatch.undo()
    status = client.get(f"/api/photos/{uid}/status", headers=bearer(token)).json
    assert status == {"received": len(data) - 1, "complete": False}
    start = status["received"]
    done = put(client, token, uid, data[start:], start, len(data), f"house:{house.uid}")
    assert done.status_code == 200 and done.json["complete"] is True


def test_a_status_request_for_a_uid_that_is_not_one_answers_404(photo_app):
    _house, _elsewhere, token = setup(photo_app)
    client = photo_app.test_client()
    for uid in ("x" * 300, "..", "a" * 36, new_uid().upper() + "0"):
        response = client.get(f"/api/photos/{uid}/status", headers=bearer(token))
        assert response.status_code == 404 and response.json["error"] == "not_found", uid


def test_a_large_png_is_decoded_within_the_memory_bound(photo_app):
    """A 6324 x 6324 RGBA PNG (just under 40 MP, a few hundred KB) decoded in full is 160 MB of
    pixels and used to add 515 MB to a worker. It is refused by its decoded size before decoding,
    and a photo under the bound is reduced while it is read."""
    house, _elsewhere, token = setup(photo_app)
    client = photo_app.test_client()
    out = io.BytesIO()
    Image.new("RGBA", (6324, 6324), (10, 20, 30, 255)).save(out, format="PNG")
    data = out.getvalue()
    response = put(client, token, new_uid(), data, 0, len(data), f"house:{house.uid}")
    assert response.status_code == 422 and response.json["error"] == "too_many_pixels"
    out = io.BytesIO()
    Image.new("RGB", (4000, 3000), (10, 20, 30)).save(out, format="JPEG", quality=80)
    jpeg, _width, _height = photos.process_photo(out.getvalue())
    assert max(Image.open(io.BytesIO(jpeg)).size) == photos.PHOTO_LONG_EDGE


def test_photos_of_records_elsewhere_and_other_accounts_uploads(photo_app):
    house, elsewhere, token = setup(photo_app)
    client = photo_app.test_client()
    data = jpeg_with_gps((100, 100))
    response = put(client, token, new_uid(), data, 0, len(data), f"house:{elsewhere.uid}")
    assert response.status_code == 404 and response.json["error"] == "not_found"
    person = make_person(house)
    uid = new_uid()
    put(client, token, uid, data[:50], 0, len(data), f"person:{person.uid}")
    town = house.village.town
    other = device_token(make_account(town, "collector", [house.village]))
    assert client.get(f"/api/photos/{uid}/status", headers=bearer(other)).status_code == 404
    assert put(client, other, uid, data[50:], 50, len(data), f"person:{person.uid}").status_code == 404
    bad = client.put(f"/api/photos/{new_uid()}", data=b"x", headers={**bearer(token), "X-Photo-Of": "car:1"})
    assert bad.status_code == 400 and bad.json["error"] == "bad_request"
