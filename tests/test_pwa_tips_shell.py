"""The phone app's shell carries the informant's tip form and its strings (static: no user in it),
and the service worker precaches the tip screens (static/js/tips.js) for offline use."""
from __future__ import annotations

import json
import re

from fieldapp.rules import tips as rules


def test_the_shell_has_the_tip_form_and_its_strings(client):
    html = client.get("/app/").get_data(as_text=True)
    form = re.search(r'<template id="form-tip">(.*?)</template>', html, re.S).group(1)
    for name in ("door_token", "door_code", "village", "group", "number", "address_text", "kind", "happened_on", "details"):
        assert f'name="{name}"' in form, name
    assert re.findall(r'<option value="(\w+)">', form) == list(rules.KINDS)
    assert f'maxlength="{rules.DETAILS_MAX}"' in form
    assert 'id="photo"' in form and 'name="photo"' not in form  # the photo goes to the upload, not the item
    strings = json.loads(re.search(r'<script type="application/json" id="i18n">(.*?)</script>', html, re.S).group(1))
    assert strings["tips_title"] == "我提供的信息" and strings["tip:kind"] == "请选择变动情况。"


def test_the_service_worker_precaches_the_tip_screens(client):
    assert "/static/js/tips.js" in client.get("/sw.js").get_data(as_text=True)
