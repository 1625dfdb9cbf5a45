"""Door QR codes: the URL a label carries, and that URL as PNG or SVG.

Error correction Q (recovers about 25 % of the symbol): door labels live outdoors, get dirty,
scratched, faded and partly covered by tape or a door frame, so L and M (7 %, 15 %) are too little.
H (30 %) would push the URL from version 4-5 (33-37 modules) to version 6-7 (41-45 modules), so at
the same printed size each module is smaller and cheap phone cameras need to come closer; Q is the
compromise that keeps modules about 0.9 mm wide in the 40 mm square (quiet zone included) a label prints.

The URL is exactly ``<base>/d/<token>``: base is PUBLIC_BASE_URL from the configuration (the
address residents and phones reach, e.g. ``https://sanshi.example.gov.cn``) or, when unset, the
address of the request that prints the label.
"""
from __future__ import annotations

import io

import qrcode
from flask import current_app, request
from markupsafe import Markup, escape
from qrcode.image.pil import PilImage

ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_Q
QUIET_ZONE = 4  # modules of white around the code, as ISO/IEC 18004 requires


def base_url() -> str:
    """The public base URL without a trailing slash (see the module docstring)."""
    configured = current_app.config.get("PUBLIC_BASE_URL")
    return (configured or request.host_url).rstrip("/")


def door_url(token: str, base: str | None = None) -> str:
    return f"{base or base_url()}/d/{token}"


def _code(url: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=QUIET_ZONE, box_size=10)
    code.add_data(url)
    code.make(fit=True)
    return code


def png(url: str, box_size: int = 10) -> bytes:
    """The QR code as a black-on-white PNG, `box_size` pixels per module."""
    code = _code(url)
    code.box_size = box_size
    out = io.BytesIO()
    code.make_image(image_factory=PilImage).save(out, format="PNG")
    return out.getvalue()


def _path(matrix) -> str:
    # One rectangle per horizontal run of dark modules: about a third of the size of qrcode's own
    # one-square-per-module SVG path, which matters on a sheet of 120 labels.
    parts = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                parts.append(f"M{start} {y}h{x - start}v1h{start - x}z")
            else:
                x += 1
    return "".join(parts)


def svg(url: str, label: str | None = None) -> str:
    """The QR code as a standalone SVG document (module units, scaled by whoever shows it)."""
    # str() first: Markup + str would escape the XML declaration.
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + str(svg_element(url, label))


def svg_element(url: str, label: str | None = None, css_class: str = "qr") -> Markup:
    """The QR code as an inline <svg> element for HTML pages: crisp at any print resolution, and no
    style attribute (the CSP allows no inline styles; presentation attributes are not styles)."""
    matrix = _code(url).get_matrix()  # includes the quiet zone
    size = len(matrix)
    title = f"<title>{escape(label)}</title>" if label else ""
    role = f' role="img" aria-label="{escape(label)}"' if label else ' aria-hidden="true"'
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(css_class)}" viewBox="0 0 {size} {size}"'
        f' shape-rendering="crispEdges"{role}>{title}<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{_path(matrix)}"/></svg>')
