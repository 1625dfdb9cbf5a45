"""The map page and its two JSON endpoints, scoped like every registry view (out of scope = 404).

The points endpoint is the heavy one: it answers 304 when the viewer's copy is current (the page
sends back the ETag it holds; signed-in responses are no-store, so the browser cache never does),
and compresses large answers itself, since the app may run with no proxy in front. Each process
keeps the last few answers by their ETag, so a change makes one viewer pay for it, not every open
map of the same villages (the ETag changes with the data: data.fingerprint).
"""
from __future__ import annotations

import gzip
import json
import threading
from collections import OrderedDict

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_login import current_user

from .. import live, scope
from ..rules.map_state import STATES
from ..rules.permissions import can, is_town_wide
from . import data

bp = Blueprint("maps", __name__)

GZIP_MIN_BYTES = 1400  # below about one packet compression saves nothing
GZIP_LEVEL = 5  # level 6+ costs much more CPU for a few percent on this JSON
CACHE_ENTRIES = 8  # answers kept per process: the whole town, and a few single villages
_cache_lock = threading.Lock()


def _police() -> bool:
    return can(current_user.role, "registry.police_only")


@bp.get("/map")
@scope.require("dashboard.view")
def page():
    villages = scope.villages(current_user)
    # The dashboard's live stream, when this app has one: the map refetches the villages it names.
    # It starts from the feed's newest event now, so a change made while the page and its points
    # load is still announced (without `after` the stream would start from whenever it connects).
    events = (url_for("progress.events", after=live.latest_event_id())
              if "progress.events" in current_app.view_functions else "")
    return render_template("maps/map.html", villages=villages, progress=data.village_progress(villages),
                           states=STATES, tiles=tile_settings(current_app.config), events_url=events)


def tile_settings(config) -> dict:
    """The configured tile layer for the page (an empty url: points on a plain background)."""
    return {"url": config.get("MAP_TILE_URL") or "", "attribution": config.get("MAP_ATTRIBUTION") or "",
            "subdomains": str(config.get("MAP_TILE_SUBDOMAINS") or "abc")}


@bp.get("/map/points.json")
@scope.require("dashboard.view")
def points():
    village_id = request.args.get("village", type=int)
    if village_id is not None:
        villages = [scope.village_or_404(current_user, village_id)]
    elif "village" in request.args:
        abort(404)  # not an integer key
    else:
        villages = scope.villages(current_user)
    whole_town = village_id is None and is_town_wide(current_user.role)
    police = _police()
    tag = data.fingerprint(villages, police)
    if request.if_none_match.contains_weak(tag):
        response = Response(status=304)
    else:
        body = _cached(current_app, (tuple(sorted(v.id for v in villages)), police), tag,
                       lambda: _encode(data.points(villages, police, scan=whole_town)))
        response = _json_response(body)
    response.set_etag(tag, weak=True)
    return response


class _Body:
    """A JSON answer, and its gzip form once a client has asked for it."""

    def __init__(self, raw: bytes):
        self.raw, self._gzip, self._lock = raw, None, threading.Lock()

    def gzipped(self) -> bytes:
        with self._lock:
            if self._gzip is None:
                self._gzip = gzip.compress(self.raw, compresslevel=GZIP_LEVEL)
            return self._gzip


def _cached(app, key, tag: str, build) -> _Body:
    """The answer for `key` at version `tag`, built at most once per version and process (two
    requests at the same moment may both build it; the result is the same)."""
    cache = app.extensions.setdefault("fieldapp.map_points", OrderedDict())
    with _cache_lock:
        hit = cache.get(key)
        if hit is not None and hit[0] == tag:
            cache.move_to_end(key)
            return hit[1]
    body = _Body(build())
    with _cache_lock:
        cache[key] = (tag, body)
        cache.move_to_end(key)
        while len(cache) > CACHE_ENTRIES:
            cache.popitem(last=False)
    return body


@bp.get("/map/houses/<int:house_id>.json")
@scope.require("dashboard.view")
def house(house_id: int):
    record = scope.house_or_404(current_user, house_id)
    with_registry = can(current_user.role, "registry.read")
    payload = data.popup(record, with_registry, _police())
    if with_registry:
        payload["url"] = url_for("registry.house", house_id=record.id)
    return _json(payload)


def _encode(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _json(payload: dict) -> Response:
    return _json_response(_Body(_encode(payload)))


def _json_response(body: _Body) -> Response:
    response = Response(mimetype="application/json")
    response.vary.add("Accept-Encoding")
    if len(body.raw) >= GZIP_MIN_BYTES and "gzip" in request.accept_encodings:
        response.set_data(body.gzipped())
        response.headers["Content-Encoding"] = "gzip"
    else:
        response.set_data(body.raw)
    return response
