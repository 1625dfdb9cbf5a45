"""Photos (docs/sync-protocol.md): resumable chunked uploads from the phone, and the one pipeline
every photo goes through (phone uploads, tip photos, badge photos).

Rules:
- An upload arrives in chunks (Content-Range) in instance/photos/partial/, resumable from the bytes
  received. Only the account that began an upload may continue it or ask how far it got; a photo
  of a record outside the account's villages answers 404, as a missing one.
- When complete the image is checked (an image Pillow reads as JPEG, PNG or WebP, at most
  PHOTO_MAX_BYTES and PHOTO_MAX_PIXELS, decompression bombs refused) and re-encoded as a JPEG
  with the long edge at most PHOTO_LONG_EDGE and no metadata at all (EXIF, GPS, ICC, comments).
- Memory is bounded: the image is decoded at the smallest size that still gives PHOTO_LONG_EDGE
  (JPEG's draft mode decodes at 1/2, 1/4 or 1/8 scale; others are reduced while decoding), a
  decoded image may not exceed PHOTO_MAX_DECODED_BYTES, and a process works on at most
  PHOTO_CONCURRENCY photos at once (others wait their turn).
- No database transaction is open while a photo is processed: the checks read in one
  transaction, the row is written in a short one after (on SQLite a write transaction holds the
  database's one write lock, and nobody should wait on it for Pillow).
"""
from __future__ import annotations

import fcntl
import io
import json
import os
import re
import threading
import uuid
import warnings
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps
from sqlalchemy import select

from . import records, scope
from .extensions import db
from .models import Account, Photo
from .rules.permissions import can

PHOTO_MAX_BYTES = 5 * 1024 * 1024
PHOTO_MAX_PIXELS = 40_000_000
PHOTO_LONG_EDGE = 1280
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")
# A decoded image at PHOTO_LONG_EDGE is about 5 MB (RGB); reduced decoding keeps any photo within
# a few times that. Past this the photo is refused rather than risk a worker's memory.
PHOTO_MAX_DECODED_BYTES = 32 * 1024 * 1024
PHOTO_CONCURRENCY = 2

# Pillow refuses images over twice this with DecompressionBombError and warns over it; the warning
# is turned into an error where photos are opened.
Image.MAX_IMAGE_PIXELS = PHOTO_MAX_PIXELS

PHOTO_MESSAGES = {
    "not_an_image": _l("This is not a photo the app can read. Take it again."),
    "too_large": _l("The photo is larger than 5 MB. Take it again at a lower resolution."),
    "too_many_pixels": _l("The photo has too many pixels. Take it again at a lower resolution."),
    "bad_range": _l("The upload is out of step. Ask how much has arrived and resume from there."),
}

_processing = threading.BoundedSemaphore(PHOTO_CONCURRENCY)


class PhotoError(Exception):
    """A refused upload: `code` for the protocol, `status` the HTTP status, `received` for bad_range."""

    def __init__(self, code: str, status: int = 422, received: int | None = None):
        super().__init__(code)
        self.code = code
        self.status = status
        self.received = received

    @property
    def message(self) -> str | None:
        """The user's message for the photo's own refusals; None for plain HTTP errors (the API
        answers those with the status's message)."""
        text = PHOTO_MESSAGES.get(self.code)
        return str(text) if text is not None else None


CONTENT_RANGE = re.compile(r"^bytes (\d{1,12})-(\d{1,12})/(\d{1,12})$")
PHOTO_OF = re.compile(r"^(person|house|tip):([0-9a-fA-F-]{36})$")


def is_photo_uid(value) -> bool:
    """A photo's uid is a UUID in its 36-character text form (it names files on disk)."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def photo_dir() -> Path:
    """instance/photos (PHOTO_DIR overrides it, e.g. in tests); partial uploads in its partial/."""
    return Path(current_app.config.get("PHOTO_DIR") or Path(current_app.instance_path) / "photos")


def photo_path(uid: str) -> Path:
    """Where the kept (re-encoded) photo `uid` is."""
    return photo_dir() / f"{uid}.jpg"


def keep_photo(uid: str, jpeg: bytes, width: int, height: int, *, of_entity: str, of_uid: str,
               account_id: int | None, original_bytes: int) -> Photo:
    """Keep a photo process_photo() made: its file (written whole, then renamed, so that no reader
    ever sees half of it) and its Photo row (added, not committed)."""
    target = photo_path(uid)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_bytes(jpeg)
    os.replace(temporary, target)
    photo = Photo(uid=uid, of_entity=of_entity, of_uid=of_uid, account_id=account_id, bytes=len(jpeg),
                  original_bytes=original_bytes, width=width, height=height)
    db.session.add(photo)
    return photo


def _partial_paths(uid: str) -> tuple[Path, Path]:
    partial = photo_dir() / "partial"
    return partial / f"{uid}.part", partial / f"{uid}.json"


def photo_json(photo: Photo) -> dict:
    return {"uid": photo.uid, "width": photo.width, "height": photo.height, "bytes": photo.bytes}


def _kept_answer(account: Account, uid: str) -> dict | None:
    """The answer for a photo kept already (complete), None when it is not; another account's
    photo answers 404 like a missing one."""
    photo = db.session.scalar(select(Photo).where(Photo.uid == uid))
    if photo is None:
        return None
    if photo.account_id != account.id:
        raise PhotoError("not_found", 404)
    return {"received": photo.original_bytes, "complete": True, "photo": photo_json(photo)}


def photo_status(account: Account, uid: str) -> dict:
    """How much of upload `uid` has arrived: {"received": n}, with the photo once complete. A uid
    that is not a photo uid, or another account's upload, answers 404 like a missing one."""
    if not is_photo_uid(uid):
        raise PhotoError("not_found", 404)
    kept = _kept_answer(account, uid)
    if kept is not None:
        return kept
    part, meta = _partial_paths(uid)
    info = _read_meta(meta)
    if info is not None and info.get("account_id") != account.id:
        raise PhotoError("not_found", 404)
    try:
        received = part.stat().st_size
    except FileNotFoundError:
        received = 0
    if info and received >= info.get("total", received + 1) > 0:
        # Every byte arrived but the photo was never kept (the server was killed while processing
        # it): a phone resumes from `received` and would have nothing left to send. One byte less
        # makes it send the last byte again, which finishes the upload.
        received = info["total"] - 1
    return {"received": received, "complete": False}


def _read_meta(meta: Path) -> dict | None:
    try:
        return json.loads(meta.read_text())
    except FileNotFoundError:
        return None
    except ValueError:  # half-written by a process killed mid-write: the upload starts again
        return {}


def parse_photo_of(value: str | None) -> tuple[str, str]:
    match = PHOTO_OF.match(value or "")
    if not match or not is_photo_uid(match.group(2)):
        raise PhotoError("bad_request", 400)
    return match.group(1), match.group(2)


def upload_photo_chunk(account: Account, uid: str, content_range: str | None, photo_of: str | None,
                       chunk: bytes, tips=None) -> dict:
    """Store one chunk of photo `uid` (Content-Range `bytes start-end/total`). A chunk must start at or
    before the bytes received so far (a repeat overwrites, a gap is refused with 416 bad_range and the
    count received); when all `total` bytes are in, the photo is checked and re-encoded (process_photo)
    and the partial upload removed. Only the account that began an upload may continue it; a photo of
    a record in another village answers 404. A repeat after completion answers the stored photo.

    A tip's photo ("tip:<uid>") is the informant's own: it needs tips.submit instead of registry.write,
    the tip must be theirs or not arrived yet (tips.service.may_attach_photo), and the finished photo
    is attached to the tip when the tip is already here (else tip.new picks it up on arrival). Those
    two rules are the tips' own: `tips` is fieldapp.tips.service, passed in by the caller (the tips
    keep their photos with this module, so it may not import them).

    The checks read in the request's transaction, which ends before the image is processed; the
    Photo row is written in a transaction of its own afterwards (see the module docstring)."""
    if not is_photo_uid(uid):
        raise PhotoError("not_found", 404)
    of_entity, of_uid = parse_photo_of(photo_of)
    if of_entity == "tip":
        if not can(account.role, "tips.submit"):
            raise PhotoError("forbidden", 403)
        if tips is None or not tips.may_attach_photo(account, of_uid):
            raise PhotoError("not_found", 404)
    elif not can(account.role, "registry.write"):
        raise PhotoError("forbidden", 403)
    match = CONTENT_RANGE.match(content_range or "")
    if not match:
        raise PhotoError("bad_request", 400)
    start, end, total = (int(g) for g in match.groups())
    if total > PHOTO_MAX_BYTES:
        raise PhotoError("too_large")
    if not (start <= end < total and end - start + 1 == len(chunk)):
        raise PhotoError("bad_request", 400)
    kept = _kept_answer(account, uid)
    if kept is not None:
        return kept
    record = records.find_record(of_entity, of_uid) if of_entity != "tip" else None
    if record is not None:
        villages = {v.id for v in scope.villages(account)}
        if record.village_id not in villages or (of_entity == "person" and not scope.may_see_person(account, record)):
            raise PhotoError("not_found", 404)
    account_id = account.id
    db.session.commit()  # end the reads' transaction: nothing is held while the file is handled
    part, meta = _partial_paths(uid)
    part.parent.mkdir(parents=True, exist_ok=True)
    with open(part, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # one writer per upload, across worker processes
        info = _read_meta(meta)
        if info:
            if info.get("account_id") != account_id:
                raise PhotoError("not_found", 404)
            if info.get("total") != total or info.get("of") != photo_of:
                raise PhotoError("bad_range", 416, received=os.fstat(handle.fileno()).st_size)
        else:
            meta.write_text(json.dumps({"account_id": account_id, "total": total, "of": photo_of}))
        received = os.fstat(handle.fileno()).st_size
        if start > received:
            raise PhotoError("bad_range", 416, received=received)
        handle.seek(start)
        handle.write(chunk)
        handle.truncate(start + len(chunk))
        handle.flush()
        received = start + len(chunk)
        if received < total:
            return {"received": received, "complete": False}
        handle.seek(0)
        data = handle.read()
    try:
        jpeg, width, height = process_photo(data)
    except PhotoError:
        _discard(part, meta)
        raise
    del data
    photo = keep_photo(uid, jpeg, width, height, of_entity=of_entity, of_uid=of_uid, account_id=account_id,
                       original_bytes=total)
    try:
        if of_entity == "tip":
            db.session.flush()
            tips.attach_photo(account, of_uid, uid)
        db.session.commit()
    except Exception:
        db.session.rollback()
        # Two finishing requests of one upload at once: the other kept it first.
        photo = db.session.scalar(select(Photo).where(Photo.uid == uid))
        if photo is None or photo.account_id != account_id:
            raise
    _discard(part, meta)
    return {"received": total, "complete": True, "photo": photo_json(photo)}


def _discard(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def process_photo(data: bytes) -> tuple[bytes, int, int]:
    """Check an uploaded image and re-encode it: JPEG, long edge at most PHOTO_LONG_EDGE, orientation
    applied, and no metadata carried over (a fresh image receives the pixels only). Refuses with
    PhotoError: too_large (over PHOTO_MAX_BYTES), not_an_image (unreadable, truncated, or not JPEG/PNG/
    WebP), too_many_pixels (over PHOTO_MAX_PIXELS, decompression bombs included, or more decoded
    bytes than PHOTO_MAX_DECODED_BYTES). At most PHOTO_CONCURRENCY run at once in a process."""
    if len(data) > PHOTO_MAX_BYTES:
        raise PhotoError("too_large")
    with _processing:
        return _process(data)


def _process(data: bytes) -> tuple[bytes, int, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=PHOTO_FORMATS) as probe:
                if probe.width * probe.height > PHOTO_MAX_PIXELS:
                    raise PhotoError("too_many_pixels")
                probe.verify()
            with Image.open(io.BytesIO(data), formats=PHOTO_FORMATS) as image:
                if image.width * image.height > PHOTO_MAX_PIXELS:
                    raise PhotoError("too_many_pixels")
                small = _decode_reduced(image)
                upright = ImageOps.exif_transpose(small)
                rgb = upright.convert("RGB")
                del small, upright
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PhotoError("too_many_pixels") from None
        except PhotoError:
            raise
        except Exception:  # Pillow raises many kinds for broken input: all mean "not an image"
            raise PhotoError("not_an_image") from None
    rgb.thumbnail((PHOTO_LONG_EDGE, PHOTO_LONG_EDGE), Image.Resampling.LANCZOS)
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    del rgb
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue(), clean.width, clean.height


def _decode_reduced(image: Image.Image) -> Image.Image:
    """Decode `image` at the smallest scale whose long edge is still at least PHOTO_LONG_EDGE. A JPEG
    is scaled by the decoder itself (draft mode: 1/2, 1/4 or 1/8), so a 40-megapixel photo never
    exists in memory at full size; PNG and WebP decode at full size and are reduced right after.
    Refuses (too_many_pixels) an image whose decoded pixels would exceed PHOTO_MAX_DECODED_BYTES:
    phones send JPEG, so only a very large PNG or WebP meets this."""
    factor = max(1, max(image.width, image.height) // PHOTO_LONG_EDGE)
    if image.format == "JPEG" and factor > 1:
        image.draft("RGB", (image.width // factor, image.height // factor))
    if image.width * image.height * max(len(image.getbands()), 3) > PHOTO_MAX_DECODED_BYTES:
        raise PhotoError("too_many_pixels")
    image.load()
    remaining = max(1, max(image.width, image.height) // PHOTO_LONG_EDGE)
    if remaining == 1:
        return image
    if image.mode not in ("RGB", "RGBA", "L", "LA"):  # reduce() takes plain modes only (not P, CMYK)
        image = image.convert("RGBA" if "transparency" in image.info or image.mode == "PA" else "RGB")
    return image.reduce(remaining)
