"""Time and memory of the photos' server-side thumbnails (fieldapp/photoview/thumbs.py) for 12 MP
(4000 x 3000) phone photos.

Each phase runs in a fresh Python process over --count photos (made here: a gradient with noise,
saved as JPEG quality 90, 1.5-3 MB like a phone's) and prints per-photo time (median, max) and the
growth of the process's peak RSS (VmHWM) over the whole phase:

  upload     photos.process_photo: the 4000 x 3000 upload re-encoded as the kept 1280 x 960 JPEG
  thumb-160  thumbs.thumbnail(uid, 160) from the kept photo, not cached yet (the first view)
  thumb-640  the same at 640 px
  cached     thumbs.thumbnail(uid, 160) again: the file exists, nothing is decoded
  original   thumbs.make_thumbnail(original, 160/640) straight from the 4000 x 3000 file (a kept file
             that never went through the upload pipeline, e.g. restored from elsewhere)

    .venv/bin/python bench/photo_thumbs.py --count 40
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, statistics, sys, time
from pathlib import Path
from flask import Flask
from fieldapp import photos
from fieldapp.photoview import thumbs

phase, folder, originals = sys.argv[1], Path(sys.argv[2]), sorted(Path(sys.argv[3]).glob("*.jpg"))
app = Flask("bench")
app.config["PHOTO_DIR"] = str(folder)

def status(name):  # MB; VmHWM is the peak since exec
    return int([l for l in open("/proc/self/status") if l.startswith(name + ":")][0].split()[1]) / 1024

with app.app_context():
    inputs = []
    for index, path in enumerate(originals):
        uid = f"00000000-0000-4000-8000-{index:012d}"
        inputs.append((uid, path.read_bytes() if phase in ("upload", "original") else None))
    start_hwm, times, sizes = status("VmHWM"), [], []
    for uid, data in inputs:
        began = time.perf_counter()
        if phase == "upload":
            jpeg, width, height = photos.process_photo(data)
            photos.photo_path(uid).parent.mkdir(parents=True, exist_ok=True)
            photos.photo_path(uid).write_bytes(jpeg)
            sizes.append(len(jpeg))
        elif phase in ("thumb-160", "thumb-640"):
            sizes.append(thumbs.thumbnail(uid, int(phase[-3:])).stat().st_size)
        elif phase == "cached":
            sizes.append(thumbs.thumbnail(uid, 160).stat().st_size)
        else:
            for size in (160, 640):
                jpeg, _w, _h = thumbs.make_thumbnail(data, size)
            sizes.append(len(jpeg))
        times.append(time.perf_counter() - began)
    print(json.dumps({"median_ms": statistics.median(times) * 1000, "max_ms": max(times) * 1000,
                      "peak_rss_added_mb": status("VmHWM") - start_hwm, "bytes_median": statistics.median(sizes)}))
"""


def make_originals(folder: Path, count: int) -> list[int]:
    """`count` 4000 x 3000 JPEGs that compress like photos (smooth areas and grain), different each."""
    sizes = []
    base = Image.radial_gradient("L").resize((4000, 3000))
    for index in range(count):
        noise = Image.effect_noise((4000, 3000), 18 + index % 7)
        red = Image.blend(base, noise, 0.35)
        green = base.rotate(90 + index * 7, expand=False).resize((4000, 3000))
        image = Image.merge("RGB", (red, green, Image.blend(base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise, 0.2)))
        path = folder / f"p{index:03d}.jpg"
        image.save(path, quality=90)
        sizes.append(path.stat().st_size)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        originals, kept = Path(work) / "originals", Path(work) / "photos"
        originals.mkdir()
        sizes = make_originals(originals, args.count)
        print(f"{args.count} originals 4000 x 3000, {min(sizes) / 1e6:.2f}-{max(sizes) / 1e6:.2f} MB")
        print("| phase | per photo, median / max | peak RSS added | output, median |")
        print("|---|---|---|---|")
        for phase in ("upload", "thumb-160", "thumb-640", "cached", "original"):
            done = subprocess.run([sys.executable, "-c", CHILD, phase, str(kept), str(originals)], cwd=ROOT,
                                  capture_output=True, text=True)
            if done.returncode:
                sys.exit(done.stderr)
            figures = json.loads(done.stdout)
            print(f"| {phase} | {figures['median_ms']:.1f} ms / {figures['max_ms']:.1f} ms | "
                  f"{figures['peak_rss_added_mb']:.0f} MB | {figures['bytes_median'] / 1000:.1f} KB |")


if __name__ == "__main__":
    main()
