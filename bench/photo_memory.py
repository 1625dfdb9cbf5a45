"""Memory one photo costs a worker (issue 9: a 155 KB 6324 x 6324 RGBA PNG added 515 MB; target: one
maximum-size photo adds at most 100 MB). Each photo is processed by photos.process_photo in a fresh
Python process; the figure is the growth of its peak RSS while processing, and what
stays afterwards (VmHWM and VmRSS of /proc/self/status).

    .venv/bin/python bench/photo_memory.py
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import sys
from fieldapp import photos
data = open(sys.argv[1], "rb").read()
def status(name):  # MB; VmHWM is the peak since exec (ru_maxrss would carry the parent's over a fork)
    return int([l for l in open("/proc/self/status") if l.startswith(name + ":")][0].split()[1]) // 1024
def rss():
    return status("VmRSS")
start, before = rss(), status("VmHWM")
try:
    _jpeg, width, height = photos.process_photo(data)
    what = f"kept as {width} x {height} JPEG"
except photos.PhotoError as refused:
    what = f"refused: {refused.code}"
print(f"{len(data) / 1e6:.2f} MB, {what}; peak RSS +{status('VmHWM') - before} MB, after {rss() - start:+d} MB")
"""


def main() -> None:
    Image.MAX_IMAGE_PIXELS = None  # building the samples, not checking them
    with tempfile.TemporaryDirectory() as folder:
        samples = {
            "40 MP JPEG (a phone's largest)": ("p40.jpg", lambda: Image.radial_gradient("L").resize((7300, 5470))
                                               .convert("RGB"), {"quality": 90}),
            "2890 x 2890 RGBA PNG (largest accepted)": ("pmax.png", lambda: Image.new("RGBA", (2890, 2890),
                                                                                      (10, 20, 30, 255)), {}),
            "6324 x 6324 RGBA PNG (issue 9's)": ("pbig.png", lambda: Image.new("RGBA", (6324, 6324),
                                                                              (10, 20, 30, 255)), {}),
        }
        for label, (name, make, options) in samples.items():
            path = Path(folder) / name
            make().save(path, **options)
            done = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, capture_output=True,
                                  text=True, check=True)
            print(f"{label}: {done.stdout.strip()}")


if __name__ == "__main__":
    main()
