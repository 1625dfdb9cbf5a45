"""HTML to PDF with the system's Chromium (Debian package `chromium`): headless, one subprocess
per document, with a timeout. Nothing is fetched from the network: the document carries its CSS
inline and is read from a private temporary directory."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

DEFAULT_TIMEOUT_S = 300  # 637 houses (余坪村 of the demo) took about 2 minutes on 2 busy cores: bench/README.md


class PdfError(Exception):
    """Chromium is missing, failed, timed out, or wrote no PDF; the message says what to do."""


def find_chromium(configured: str | None = None) -> str:
    """The Chromium executable: `configured` (a path or a name on PATH), else chromium, else
    chromium-browser. PdfError when none is found."""
    for name in ([configured] if configured else ["chromium", "chromium-browser"]):
        found = shutil.which(name)
        if found:
            return found
    raise PdfError(f"Chromium was not found ({configured or 'chromium'}). Install it (Debian: apt install chromium) "
                   "or set FIELDAPP_PRINT_CHROMIUM to its path.")


def html_to_pdf(html: str, out: Path, chromium: str, timeout: float = DEFAULT_TIMEOUT_S) -> int:
    """Write `html` printed to PDF at `out` (the CSS @page size and margins apply); returns the
    PDF's size in bytes. The file is written next to `out` first and moved into place only when it
    is a PDF, so a failed run never leaves a broken archive file behind."""
    out = out.resolve()
    with tempfile.TemporaryDirectory(prefix="fieldapp-print-") as work:
        work_dir = Path(work)
        source = work_dir / "document.html"
        source.write_text(html, encoding="utf-8")
        target = work_dir / "document.pdf"
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                   "--no-first-run", "--disable-background-networking", "--disable-component-update",
                   "--disable-sync", "--no-pdf-header-footer", f"--user-data-dir={work_dir / 'profile'}",
                   f"--print-to-pdf={target}", source.as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not finish within {timeout:g} s: print a sub-area at a time, "
                           "or raise --timeout.") from None
        if done.returncode != 0 or not target.exists() or target.read_bytes()[:5] != b"%PDF-":
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise PdfError(f"Chromium could not print the document (exit {done.returncode}): " + " | ".join(tail))
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(target), out)
    return out.stat().st_size
