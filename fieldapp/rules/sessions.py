"""How long a web sign-in lasts, and how long a throttled sign-in waits. Pure: no Flask here.

Rules:
- A session ends after `idle` without a request ("idle") and, whatever happens, `absolute` after
  sign-in ("absolute"). Both count from the server's own timestamps (created_at, last_seen_at),
  never from anything in the cookie, so no request can move the sign-in time.
- last_seen_at is written only when it is older than `touch_every`: a page view does not write
  the database every time (SQLite serialises writers). The idle limit is therefore exact to within
  `touch_every`.
- A throttled sign-in waits until its counting window ends, shown in whole minutes, rounded up.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta

IDLE = "idle"
ABSOLUTE = "absolute"


def end_reason(created_at: datetime, last_seen_at: datetime, now: datetime,
               idle: timedelta, absolute: timedelta) -> str | None:
    """None while the session may go on, else why it ended: ABSOLUTE (checked first) or IDLE."""
    if now - created_at >= absolute:
        return ABSOLUTE
    if now - last_seen_at >= idle:
        return IDLE
    return None


def needs_touch(last_seen_at: datetime, now: datetime, touch_every: timedelta) -> bool:
    """Whether this request should record itself as the session's latest activity."""
    return now - last_seen_at >= touch_every


def wait_minutes(window_started_at: datetime, window: timedelta, now: datetime) -> int:
    """Whole minutes (at least 1) until a counting window that started at `window_started_at` ends."""
    seconds = (window_started_at + window - now).total_seconds()
    return max(1, math.ceil(seconds / 60))


# Browser and system families, most specific first: enough to tell "Chrome on Android" from
# "WeChat on iPhone" in a list of open sessions, without keeping the full (fingerprintable) string.
_BROWSERS = (("MicroMessenger", "WeChat"), ("Edg", "Edge"), ("OPR", "Opera"), ("Firefox", "Firefox"),
             ("Chrome", "Chrome"), ("Chromium", "Chromium"), ("Safari", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def user_agent_family(user_agent: str | None) -> str:
    """'<browser> on <system>' from a User-Agent header, each part 'other' when not recognised."""
    text = user_agent or ""
    browser = next((name for token, name in _BROWSERS if token in text), "other")
    system = next((name for token, name in _SYSTEMS if token in text), "other")
    return f"{browser} on {system}"
