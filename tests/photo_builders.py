"""Builders for photo tests (test_photo_view, the permission matrix, the browser test): kept photos
made the way uploads make them (photos.process_photo, photos.keep_photo)."""
from __future__ import annotations

import atexit
import io
import shutil
import tempfile

from flask import current_app
from PIL import Image

from fieldapp.extensions import db
from fieldapp.models import Photo, new_uid
from fieldapp.photos import keep_photo, process_photo


def jpeg(size=(1600, 1200), color=(90, 140, 200), exif_orientation: int | None = None) -> bytes:
    """A JPEG of one colour with a darker top-left quarter (so orientation shows in the pixels)."""
    image = Image.new("RGB", size, color)
    image.paste((10, 10, 10), (0, 0, size[0] // 2, size[1] // 2))
    out = io.BytesIO()
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        exif[0x010F] = "PhoneMaker"
        image.save(out, format="JPEG", exif=exif, quality=90)
    else:
        image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def add_photo(of_entity: str, of_uid: str, size=(1600, 1200), account_id: int | None = None,
              color=(90, 140, 200)) -> Photo:
    """A kept photo of `of_entity:of_uid`, as an upload leaves it (re-encoded, long edge 1280)."""
    data = jpeg(size, color)
    encoded, width, height = process_photo(data)
    photo = keep_photo(new_uid(), encoded, width, height, of_entity=of_entity, of_uid=of_uid,
                       account_id=account_id, original_bytes=len(data))
    db.session.commit()
    return photo


def ensure_photo_dir() -> None:
    """Tests that build photos without a PHOTO_DIR of their own get a temporary one (never the
    instance folder), removed when the test process ends."""
    if not current_app.config.get("PHOTO_DIR"):
        path = tempfile.mkdtemp(prefix="fieldapp-photos-")
        atexit.register(shutil.rmtree, path, True)
        current_app.config["PHOTO_DIR"] = path


def add_photo_targets(world) -> None:
    """The permission matrix: a portrait of each target's person (photoview.photo) and of its
    leaver (photoview.thumbnail: another record, so its read is logged anew)."""
    from fieldapp.models import Person

    ensure_photo_dir()
    for key in ("own", "west", "town2", "abroad"):
        target = world.targets[key]
        person, leaver = db.session.get(Person, target.person), db.session.get(Person, target.leaver)
        target.photo = add_photo("person", person.uid, size=(64, 48)).uid
        target.leaver_photo = add_photo("person", leaver.uid, size=(64, 48)).uid
    db.session.commit()


def matrix_url_args(endpoint: str, target) -> dict | None:
    args = {"photoview.photo": {"uid": target.photo},
            "photoview.thumbnail": {"uid": target.leaver_photo, "size": 160}}
    return args.get(endpoint)
