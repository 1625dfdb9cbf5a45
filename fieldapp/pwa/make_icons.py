"""Draws the app icons (fieldapp/static/icons/icon-192.png, icon-512.png): a white house with a tick
on the brand blue. Maskable: the drawing stays inside the central 80% safe zone.

Run with any Python that has Pillow:  python3 fieldapp/pwa/make_icons.py
The PNGs are committed; the app never runs this."""
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "static" / "icons"
BRAND = (11, 92, 173)


def draw(size: int) -> Image.Image:
    scale = 4  # draw large, then downsample: smooth edges without antialiasing support
    s = size * scale
    img = Image.new("RGB", (s, s), BRAND)
    d = ImageDraw.Draw(img)
    u = s / 100
    d.polygon([(50 * u, 22 * u), (78 * u, 46 * u), (22 * u, 46 * u)], fill="white")       # roof
    d.rectangle([30 * u, 44 * u, 70 * u, 76 * u], fill="white")                          # walls
    d.line([(39 * u, 61 * u), (47 * u, 69 * u), (62 * u, 52 * u)], fill=BRAND, width=int(5 * u), joint="curve")
    return img.resize((size, size), Image.LANCZOS)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        draw(size).save(OUT / f"icon-{size}.png", optimize=True)
