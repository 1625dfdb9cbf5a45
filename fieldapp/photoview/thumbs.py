"""Server-made thumbnails of kept photos, cached on disk next to them (no HTTP, no database here).

Rules:
- A thumbnail is a JPEG whose long edge is the asked size (THUMB_SIZES: 160 px for lists and
  portraits, 640 px for the enlarged view on a phone), never larger than the kept photo: a photo
  smaller than the size is re-encoded at its own size, never enlarged.
- The EXIF orientation is applied and nothing but the pixels is written: no EXIF, GPS, ICC profile
  or comment, whatever the kept file holds (kept photos have none, photos.process_photo strips them;
  a file restored from elsewhere might).
- Thumbnails live in <photo dir>/thumbs/<uid>-<size>.jpg, made once, on the first request. Several
  worker processes (and threads) may make the same one at once: each writes a temporary file of its
  own and renames it into place (os.replace is atomic), so a reader sees either no file or a whole
  one, and the last rename wins with identical content. A process makes at most THUMB_CONCURRENCY
  at once; decoding a kept JPEG uses the decoder's reduced scale (draft), so a 1280 px photo costs
  a fraction of its full size in memory.
- A thumbnail goes with its photo: discard() removes them when a photo is deleted.
"""
from __future__ import annotations

import io
import math
import os
import secrets
import threading
import warnings
from pathlib import Path

from PIL import Image, ImageOps

from ..photos import photo_dir, photo_path

THUMB_SIZES = (160, 640)
THUMB_QUALITY = {160: 80, 640: 82}
THUMB_CONCURRENCY = 2

_making = threading.BoundedSemaphore(THUMB_CONCURRENCY)


class NoPhoto(Exception):
    """The kept photo's file is missing or is not a JPEG Pillow can read."""


def thumbnail_path(uid: str, size: int) -> Path:
    return photo_dir() / "thumbs" / f"{uid}-{size}.jpg"


def make_thumbnail(data: bytes, size: int) -> tuple[bytes, int, int]:
    """A JPEG of `data` (a JPEG) with its long edge at most `size`, upright, without metadata;
    returns (jpeg, width, height). Raises NoPhoto for what is not a readable JPEG."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=("JPEG",)) as image:
                orientation = image.getexif().get(0x0112, 1)
                width, height = image.size
                if orientation in (5, 6, 7, 8):  # turned a quarter: the long edge is the other one
                    width, height = height, width
                scale = min(1.0, size / max(width, height))
                wanted = (max(1, math.ceil(image.width * scale)), max(1, math.ceil(image.height * scale)))
                image.draft("RGB", wanted)  # decode at 1/2, 1/4 or 1/8 when that still gives `wanted`
                upright = ImageOps.exif_transpose(image)
                rgb = upright.convert("RGB")
                del upright
        except Exception:  # Pillow raises many kinds for broken files: all mean "no photo to show"
            raise NoPhoto() from None
    rgb.thumbnail((size, size), Image.Resampling.LANCZOS)  # keeps the aspect ratio, never enlarges
    clean = Image.new("RGB", rgb.size)  # a fresh image: the pixels only, no info carried over
    clean.paste(rgb)
    del rgb
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=THUMB_QUALITY.get(size, 80), optimize=True, progressive=size > 160)
    return out.getvalue(), clean.width, clean.height


def thumbnail(uid: str, size: int) -> Path:
    """The cached thumbnail of photo `uid` at `size`, made now if missing (see the module's rules).
    Raises NoPhoto when the kept photo is missing or unreadable; ValueError for a size not offered."""
    if size not in THUMB_SIZES:
        raise ValueError(f"thumbnail size {size} is not one of {THUMB_SIZES}")
    target = thumbnail_path(uid, size)
    if target.exists():
        return target
    with _making:
        if target.exists():  # another thread of this process made it while this one waited
            return target
        try:
            data = photo_path(uid).read_bytes()
        except FileNotFoundError:
            raise NoPhoto() from None
        jpeg, _width, _height = make_thumbnail(data, size)
        del data
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.{secrets.token_hex(4)}.tmp")
        try:
            with open(temporary, "wb") as handle:
                handle.write(jpeg)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
    return target


def discard(uid: str) -> None:
    """Remove the thumbnails of photo `uid` (its photo was deleted)."""
    for size in THUMB_SIZES:
        thumbnail_path(uid, size).unlink(missing_ok=True)
