"""Page weight of the collector app: what a phone downloads to run /app/ (the shell HTML, the
stylesheet, our ES modules, the manifest and the service worker), gzip-compressed as a server
would send it. Target: HTML + CSS + our JS <= 60 KB gzipped (before any map library).

    .venv/bin/python bench/page_weight.py

No database is touched: the shell is static (an in-memory SQLite URL keeps create_app happy)."""
from __future__ import annotations

import gzip

from fieldapp import create_app
from fieldapp.pwa.shell import LAZY, MODULES

BUDGET = 60 * 1024


def main() -> None:
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    client = app.test_client()
    rows = []
    for url in ["/app/", "/static/css/app.css", *(f"/static/js/{m}" for m in MODULES)]:
        body = client.get(url).data
        rows.append((url, len(body), len(gzip.compress(body, 6))))
    # Not counted: the service worker and manifest, and what only the scan screen loads (on demand).
    extras = [(url, len(b := client.get(url).data), len(gzip.compress(b, 6)))
              for url in ("/manifest.webmanifest", "/sw.js", *(f"/static/{f}" for f in LAZY))]
    width = max(len(r[0]) for r in rows + extras)
    for url, raw, packed in rows:
        print(f"{url:<{width}}  {raw:>7,} B  {packed:>6,} B gzip")
    total_raw = sum(r[1] for r in rows)
    total = sum(r[2] for r in rows)
    print(f"{'HTML + CSS + JS':<{width}}  {total_raw:>7,} B  {total:>6,} B gzip  ({total / 1024:.1f} KB of {BUDGET // 1024} KB budget)")
    for url, raw, packed in extras:
        print(f"{url:<{width}}  {raw:>7,} B  {packed:>6,} B gzip  (not counted)")
    js = sum(r[2] for r in rows if r[0].endswith(".js"))
    print(f"of which our JS: {js:,} B gzip; every file gzipped on its own (as HTTP sends them)")
    raise SystemExit(0 if total <= BUDGET else 1)


if __name__ == "__main__":
    main()
