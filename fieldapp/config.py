"""Configuration: defaults here; `instance/config.py` and FIELDAPP_* environment variables override.

Order (later wins): these defaults -> instance/config.py -> FIELDAPP_<NAME> environment variables
-> the mapping given to create_app() (tests). Environment values are parsed as JSON when they look
like JSON (numbers, true/false), so FIELDAPP_ACTIVATION_HOURS=48 becomes an int.
"""
from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

from .rules import days, workdays

ENV_PREFIX = "FIELDAPP_"
# Audit rows are kept at least six months (PIPL; Cybersecurity Law art. 21): a smaller
# AUDIT_RETENTION_DAYS is refused when the app starts.
MIN_AUDIT_RETENTION_DAYS = 183


class Defaults:
    # The embedded default: one SQLite file in the instance folder (filled in by create_app,
    # because the instance path is only known there).
    SQLALCHEMY_DATABASE_URI: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SQLITE_BUSY_TIMEOUT_MS = 60_000
    # Database connections per worker process (engine_options): a thread waits up to
    # DB_POOL_TIMEOUT seconds for one instead of failing. PostgreSQL's are server processes: size
    # DB_POOL_SIZE + DB_MAX_OVERFLOW so that servers x workers x (the two) stays under
    # max_connections (docs/deploy.md); more than a few per core buys nothing. SQLite's are cheap
    # to open but each keeps its own page cache (about 2 MB): SQLITE_MAX_OVERFLOW more, not one per
    # thread (500-phone burst: worker RSS 341 MB with one per thread, 250 MB with 20, same speed).
    DB_POOL_SIZE = 5
    DB_MAX_OVERFLOW = 5
    SQLITE_MAX_OVERFLOW = 15
    DB_POOL_TIMEOUT = 120
    STRICT_READ_REQUESTS = False  # tests: refuse writes in a read request's deferred transaction

    # Sessions: signed cookies, never readable by scripts, never sent to another site.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = 12 * 3600  # a working day; the phone app gets device credentials later
    # Server-side sessions (login_sessions.py): the cookie holds only a random secret. A session
    # ends after SESSION_IDLE_MINUTES without a request, and SESSION_ABSOLUTE_HOURS after sign-in
    # whatever happens (counted from the server's own sign-in time, so no request extends it). The
    # last activity is written at most once per SESSION_TOUCH_SECONDS (SQLite serialises writers),
    # so the idle limit is exact to within that. Ended sessions are kept SESSION_KEEP_DAYS for the
    # record, then `flask prune-sign-ins` deletes them.
    SESSION_IDLE_MINUTES = 30
    SESSION_ABSOLUTE_HOURS = 12
    SESSION_TOUCH_SECONDS = 60
    SESSION_KEEP_DAYS = 30

    # Forms: CSRF on every POST. Pages stay open a long time on a phone, so tokens live a day.
    WTF_CSRF_TIME_LIMIT = 24 * 3600

    # UI language: Chinese first, English switchable.
    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    LANGUAGES = ("zh_Hans_CN", "en")
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"  # also the zone of the town's calendar day (rules/days.py)
    # Public holidays and make-up working days (ISO dates) the chinesecalendar package does not know
    # yet: the State Council's notice for next year comes out in November or December, often before a
    # package release (1.11.0 covers 2004-2026). Days here win over the package (rules/workdays.py);
    # e.g. FIELDAPP_CALENDAR_HOLIDAYS='["2027-01-01"]'. Every 3- and 2-working-day deadline uses them.
    CALENDAR_HOLIDAYS: list = []
    CALENDAR_WORKDAYS: list = []

    # Collection IDs: a fresh activation code is valid this long, once (a slip lost in a pocket for
    # days should not still open the ID).
    ACTIVATION_HOURS = 24
    # Sign-in throttling (throttle.py, kept in the database so every worker and server sees it): at
    # most LOGIN_MAX_FAILURES PIN or activation-code checks per (typed ID, client address) in
    # LOGIN_LOCK_MINUTES, and LOGIN_ID_MAX_FAILURES per typed ID from all addresses together in
    # LOGIN_ID_WINDOW_MINUTES. The right PIN clears its own address's count. Unknown IDs count alike.
    LOGIN_MAX_FAILURES = 5
    LOGIN_LOCK_MINUTES = 15
    LOGIN_ID_MAX_FAILURES = 50
    LOGIN_ID_WINDOW_MINUTES = 60

    # How many reverse proxies (nginx, a load balancer) stand in front of the app and set
    # X-Forwarded-For/-Proto/-Host. 0: none, the headers are ignored (anyone could forge them). Behind
    # a proxy without this, every visitor has the proxy's address: the public tip form's per-sender
    # limit, and sign-in throttling per address, would then be shared by the whole town.
    PROXY_HOPS = 0

    # The town this deployment serves; the demo loads the Yuping 2016 preset.
    COLLECTION_ID_PREFIX = "YP"
    PAGE_SIZE = 50

    # The address residents and phones reach the app at, e.g. "https://sanshi.example.gov.cn": door
    # QR labels encode <PUBLIC_BASE_URL>/d/<token>. Unset: the address of the request that prints
    # them (fine when staff print from the public address; set it when they print from another).
    PUBLIC_BASE_URL: str | None = None
    # House register import from the web page (CSV / .xlsx): upload size and row limits. Each house
    # takes a few milliseconds to write, so 5,000 rows stay well inside a worker's request timeout;
    # bigger registers go through `flask --app fieldapp import-houses` (its own --max-rows).
    DOOR_IMPORT_MAX_BYTES = 5 * 1024 * 1024
    DOOR_IMPORT_MAX_ROWS = 5_000
    # People and organisation register imports from the web page (fieldapp/imports): new people are
    # written in batches (about 0.5 ms a row), so 20,000 rows stay inside a worker's request
    # timeout; bigger registers go through `flask --app fieldapp import-people` / `import-orgs`.
    REGISTER_IMPORT_MAX_BYTES = 10 * 1024 * 1024
    REGISTER_IMPORT_MAX_ROWS = 20_000
    # Where a check's downloadable report is kept for a day (masked; one file per check). Empty: the
    # instance folder's import_reports/. Several servers behind one address need a shared folder.
    REGISTER_IMPORT_REPORT_DIR = ""

    # The progress map's tile layer: a URL template ({z}/{x}/{y}, optional {s}) and its attribution
    # (HTML). Empty: points on a plain background, and the CSP names no outside host. Positions are
    # WGS-84 (GPS): use WGS-84 / CGCS2000 tiles (OpenStreetMap, Tianditu), not GCJ-02 ones.
    MAP_TILE_URL = ""
    MAP_ATTRIBUTION = ""
    MAP_TILE_SUBDOMAINS = "abc"  # what {s} stands for, one character each (Tianditu: "01234567")

    # The audit log (fieldapp/audit.py): `flask --app fieldapp audit prune` deletes rows older than
    # this many days; never fewer than MIN_AUDIT_RETENTION_DAYS.
    AUDIT_RETENTION_DAYS = MIN_AUDIT_RETENTION_DAYS

    # Fabrication flags (rules/fabrication.py, flags/detect.py): a flag asks a reviewer to look, it
    # never rejects a record, so the thresholds lean towards catching made-up work while leaving the
    # honest awkward cases alone (bench/fabrication.py measures the trade; bench/README.md).
    # A visit farther than this from the house's known position, after subtracting the accuracy the
    # phone reported: cheap phones indoors and in stairwells drift 30-80 m and say so in accuracy_m,
    # and a house's known position is itself a first fix within 50 m (rules/visits.GOOD_ACCURACY_M).
    FABRICATION_GPS_LIMIT_M = 100
    # Reported accuracy is capped at this before it is subtracted: a fix "accurate to 2 km" proves
    # nothing, and must not excuse a visit from the next village.
    FABRICATION_GPS_ACCURACY_CAP_M = 150
    # Faster than this between one collector's consecutive visits is not walking or a village
    # e-bike (brisk walking is 5-6 km/h, an e-bike in lanes 15-20 km/h); pairs closer than
    # FABRICATION_PACE_MIN_M are ignored (GPS drift between neighbouring doors looks like speed).
    FABRICATION_PACE_KMH = 25
    FABRICATION_PACE_MIN_M = 300
    # One document number submitted at two different addresses within this many days (a real move
    # is registered as a move, days or weeks apart, not as two fresh entries).
    FABRICATION_DOC_WINDOW_DAYS = 30
    # One phone number on at least this many people of different houses and surnames: families
    # share a phone (same house, or one surname across a family's houses), a made-up register
    # reuses the collector's own number.
    FABRICATION_PHONE_MANY = 4
    # This many records with identical values, or consecutive ID numbers, by one collector within
    # FABRICATION_BURST_MINUTES (a household of 3-5 is entered in 10-20 minutes; twins and siblings
    # give two or three near numbers, not five).
    FABRICATION_BURST_COUNT = 4
    FABRICATION_BURST_MINUTES = 30
    # A record made farther than this from the village's centre (villages here span 1-2 km).
    FABRICATION_VILLAGE_RADIUS_M = 3000
    # Records made between these local hours (start inclusive, end exclusive) are night work;
    # summer evenings until 22:00 are honest (people are home after work).
    FABRICATION_NIGHT_START_HOUR = 23
    FABRICATION_NIGHT_END_HOUR = 5
    # An informant with at least this many verified tips, all valid and all verified by one
    # collector (in a village with more than one), looks like a pair sharing rewards.
    FABRICATION_INFORMANT_MIN_TIPS = 5


def _parse_env(value: str):
    try:
        return json.loads(value)
    except ValueError:
        return value


def load_config(app, overrides: dict | None) -> None:
    """Fill app.config from the layered sources described in the module docstring."""
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    for key, value in os.environ.items():
        if key.startswith(ENV_PREFIX) and not key.startswith(ENV_PREFIX + "TEST_"):
            app.config[key[len(ENV_PREFIX):]] = _parse_env(value)
    if overrides:
        app.config.update(overrides)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + str(Path(app.instance_path) / "fieldapp.sqlite")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    check_audit_retention(app.config)
    # The town's calendar day (rules/days.py) is counted in the zone pages show times in.
    days.set_zone(app.config["BABEL_DEFAULT_TIMEZONE"])
    workdays.set_additions(app.config["CALENDAR_HOLIDAYS"], app.config["CALENDAR_WORKDAYS"])
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**engine_options(app.config), **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}


def check_audit_retention(config) -> int:
    """AUDIT_RETENTION_DAYS as an int; a value under MIN_AUDIT_RETENTION_DAYS (six months) is a
    configuration error, refused at start rather than discovered when logs are already gone."""
    value = config.get("AUDIT_RETENTION_DAYS", MIN_AUDIT_RETENTION_DAYS)
    try:
        days_kept = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"AUDIT_RETENTION_DAYS={value!r} is not a number of days") from None
    if days_kept < MIN_AUDIT_RETENTION_DAYS:
        raise ValueError(f"AUDIT_RETENTION_DAYS={days_kept}: audit rows must be kept at least "
                         f"{MIN_AUDIT_RETENTION_DAYS} days (six months)")
    config["AUDIT_RETENTION_DAYS"] = days_kept
    return days_kept


def engine_options(config) -> dict:
    """Pool settings by backend (see DB_POOL_SIZE); explicit SQLALCHEMY_ENGINE_OPTIONS win."""
    url = config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite") and ":memory:" not in url and url.rstrip("/") != "sqlite:":
        return {"pool_size": config["DB_POOL_SIZE"], "max_overflow": config["SQLITE_MAX_OVERFLOW"],
                "pool_timeout": config["DB_POOL_TIMEOUT"]}
    if url.startswith("postgresql"):
        # pre_ping: a connection the server dropped (restart, failover) is replaced, not answered 500.
        return {"pool_size": config["DB_POOL_SIZE"], "max_overflow": config["DB_MAX_OVERFLOW"],
                "pool_timeout": config["DB_POOL_TIMEOUT"], "pool_pre_ping": True}
    return {}


def _instance_secret(instance: Path) -> str:
    """Read instance/secret_key, creating it once with 256 random bits.

    Every worker process must sign sessions with the same key, so it lives in a file. O_EXCL makes
    the first writer win when several workers start at once; the others read what it wrote.
    """
    path = instance / "secret_key"
    instance.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the winner may not have written yet
            key = path.read_text(encoding="ascii").strip()
            if key:
                return key
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty; delete it and start again") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key)
    return key
