"""Door labels: QR images decode to exactly the door URL; retiring a code replaces it everywhere
(old token retired and hashed, new code to phones through a Change row, an audit event); label
sheets page through big villages and pick groups; everything scoped by village."""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from fieldapp import sync
from fieldapp.doors import codes, qr
from fieldapp.doors.views import LABELS_PER_A4, LABELS_PER_SHEET
from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Change, House, RetiredDoorCode
from fieldapp.rules.doorcode import format_door_code

from .builders import english, make_account, make_house, make_town


def decode_png(data: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))]


def render_svg(svg_text: str, scale: int = 8) -> Image.Image:
    """Rasterise our own QR SVG (a viewBox in modules, a white rect, one path of h/v runs): enough
    to prove the path draws exactly the modules qrcode computed; the browser test renders it too."""
    root = ET.fromstring(svg_text.split("?>", 1)[-1].strip())
    size = int(root.get("viewBox").split()[2])
    image = Image.new("L", (size * scale, size * scale), 255)
    path = next(el for el in root.iter() if el.tag.endswith("path")).get("d")
    for x, y, run in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", path):
        x, y, run = int(x), int(y), int(run)
        image.paste(0, (x * scale, y * scale, (x + run) * scale, (y + 1) * scale))
    return image


@pytest.fixture
def world(ctx):
    town, (east, west) = make_town()
    return {"town": town, "east": east, "west": west, "house": make_house(east, number="7", group="2"),
            "supervisor": make_account(town, "supervisor"), "head": make_account(town, "village_head", [east]),
            "west_head": make_account(town, "village_head", [west]), "admin": make_account(town, "admin")}


# --- QR images ------------------------------------------------------------------------------

@pytest.mark.parametrize("base", ["https://sanshi.example.gov.cn", "http://127.0.0.1:5000"])
def test_png_and_svg_decode_to_the_exact_url(base):
    url = f"{base}/d/Cdf_UyTXa1Fwe5PIC9gdkuskWto"
    assert decode_png(qr.png(url)) == [url]
    svg = qr.svg(url, "BM9T-62NC")
    buffer = io.BytesIO()
    render_svg(svg).save(buffer, format="PNG")
    assert decode_png(buffer.getvalue()) == [url]
    assert 'style=' not in svg  # the CSP allows no inline styles


def test_error_correction_survives_a_dirty_label():
    """Level Q: a smear over a block of the code (not the finder patterns) still decodes."""
    url = "https://sanshi.example.gov.cn/d/Cdf_UyTXa1Fwe5PIC9gdkuskWto"
    image = Image.open(io.BytesIO(qr.png(url, box_size=8))).convert("L")
    w, _h = image.size
    quiet = 4 * 8
    # A dark blot over about 12 % of the symbol, in its lower right data area.
    blot = int((w - 2 * quiet) * 0.35)
    image.paste(0, (w - quiet - blot - 8 * 8, w - quiet - blot, w - quiet - 8 * 8, w - quiet))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert decode_png(buffer.getvalue()) == [url]


def test_download_routes_encode_the_configured_public_url(make_app, ctx, login):
    town, (east, _west) = make_town()
    house = make_house(east)
    account = make_account(town, "supervisor")
    public = make_app(PUBLIC_BASE_URL="https://sanshi.example.gov.cn/")
    client = public.test_client()
    from .builders import sign_in
    sign_in(client, account.collection_id)
    png = client.get(f"/doors/houses/{house.id}/qr.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.headers["Cache-Control"] == "no-store"
    assert decode_png(png.data) == [f"https://sanshi.example.gov.cn/d/{house.door_token}"]
    svg = client.get(f"/doors/houses/{house.id}/qr.svg")
    assert svg.mimetype == "image/svg+xml"
    out = io.BytesIO()
    render_svg(svg.get_data(as_text=True)).save(out, format="PNG")
    assert decode_png(out.getvalue()) == [f"https://sanshi.example.gov.cn/d/{house.door_token}"]
    # Unset: the printing request's own address.
    default = login(account).get(f"/doors/houses/{house.id}/qr.png")
    assert decode_png(default.data) == [f"http://localhost/d/{house.door_token}"]


# --- label sheets --------------------------------------------------------------------------

def test_sheet_pages_groups_and_labels(world, login):
    east = world["east"]
    for n in range(1, LABELS_PER_SHEET + 6):  # one full sheet and a bit, in group 5
        make_house(east, number=str(n), group="5")
    make_house(east, number="1", group=None, road="人民路")
    client = english(login(world["head"]))
    first = client.get(f"/doors/villages/{east.id}/sheet?g=5&r=")
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert html.count('<figure class="door-label">') == LABELS_PER_SHEET
    assert html.count('<section class="a4"') == LABELS_PER_SHEET // LABELS_PER_A4
    assert "Sheet 1 of 2" in html and "人民路" not in html
    assert "5组1号" in html and "5组10号" in html
    second = client.get(f"/doors/villages/{east.id}/sheet?g=5&r=&page=2").get_data(as_text=True)
    assert second.count('<figure class="door-label">') == 5
    codes_on_sheet = re.findall(r'<span class="label-code">([0-9A-Z]{4}-[0-9A-Z]{4})</span>', html + second)
    houses = db.session.scalars(select(House).where(House.group_name == "5")).all()
    assert sorted(codes_on_sheet) == sorted(format_door_code(h.door_code) for h in houses)
    road = client.get(f"/doors/villages/{east.id}/sheet?g=&r=人民路").get_data(as_text=True)
    assert road.count('<figure class="door-label">') == 1 and "人民路1号" in road
    village = client.get(f"/doors/villages/{east.id}").get_data(as_text=True)
    assert "5组" in village and "人民路" in village and "2 sheets" in village
    one = client.get(f"/doors/villages/{east.id}/sheet?house={world['house'].id}").get_data(as_text=True)
    assert one.count('<figure class="door-label">') == 1


def test_sheets_are_scoped_by_village_and_permission(world, login):
    east, house = world["east"], world["house"]
    assert login(world["west_head"]).get(f"/doors/villages/{east.id}/sheet").status_code == 404
    assert login(world["west_head"]).get(f"/doors/houses/{house.id}").status_code == 404
    assert login(world["west_head"]).get(f"/doors/houses/{house.id}/qr.png").status_code == 404
    west_sheet = login(world["west_head"]).get(f"/doors/villages/{world['west'].id}/sheet?house={house.id}")
    assert west_sheet.status_code == 404  # a house of another village named in the query
    collector = login(make_account(world["town"], "collector", [east]))
    assert collector.get(f"/doors/villages/{east.id}/sheet").status_code == 403
    assert login(world["admin"]).get(f"/doors/villages/{east.id}/sheet").status_code == 200


def test_find_a_door_by_code_on_the_village_page(world, login):
    client = english(login(world["head"]))
    house = world["house"]
    response = client.get(f"/doors/villages/{world['east'].id}?code={format_door_code(house.door_code).lower()}")
    assert response.status_code == 302 and response.headers["Location"] == f"/doors/houses/{house.id}"
    miss = client.get(f"/doors/villages/{world['east'].id}?code=nonsense", follow_redirects=True)
    assert "That is not a door code" in miss.get_data(as_text=True)


# --- retire and replace --------------------------------------------------------------------

def test_retire_replaces_code_and_token_everywhere(world, login, client):
    house = world["house"]
    old_code, old_token, version = house.door_code, house.door_token, house.version
    manager = english(login(world["supervisor"]))
    response = manager.post(f"/doors/houses/{house.id}/retire", data={"code": old_code, "reason": "stolen"})
    assert response.status_code == 303
    db.session.expire_all()
    house = db.session.get(House, house.id)
    assert house.door_code != old_code and house.door_token != old_token and house.version == version + 1
    assert house.door_code_issued_at is not None
    retired = db.session.scalar(select(RetiredDoorCode).where(RetiredDoorCode.house_id == house.id))
    assert retired.door_code == old_code and retired.reason == "stolen"
    assert retired.token_hash == codes.hash_token(old_token) and old_token not in retired.token_hash
    assert retired.retired_by_id == world["supervisor"].id
    change = db.session.scalar(select(Change).where(Change.entity == "house", Change.entity_id == house.id,
                                                    Change.kind == "update"))
    assert change.fields == {"door_code": [old_code, house.door_code]}
    assert old_token not in str(change.fields) and house.door_token not in str(change.fields)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "door_code_retired"))
    assert event.target == f"house:{house.id}" and old_token not in event.detail
    # The old label answers "retired"; the new one opens the door page.
    assert client.get(f"/d/{old_token}").status_code == 410
    assert client.get(f"/d/{house.door_token}").status_code == 200
    # Phones learn the new code with their next delta (a Change row in the village).
    collector = make_account(world["town"], "collector", [world["east"]])
    package = sync.build_package(collector, cursor=change.id - 1)
    assert [h["door_code"] for h in package["houses"]] == [house.door_code]
    page = manager.get(f"/doors/houses/{house.id}").get_data(as_text=True)
    assert old_code in page and format_door_code(house.door_code) in page


def test_retiring_twice_from_the_same_page_does_it_once(world, login):
    house = world["house"]
    manager = english(login(world["supervisor"]))
    data = {"code": house.door_code, "reason": "damaged"}
    assert manager.post(f"/doors/houses/{house.id}/retire", data=data).status_code == 303
    again = manager.post(f"/doors/houses/{house.id}/retire", data=data, follow_redirects=True)
    assert "already replaced meanwhile" in again.get_data(as_text=True)
    assert len(db.session.scalars(select(RetiredDoorCode)).all()) == 1


def test_retire_needs_doors_manage_and_scope_and_a_reason(world, login):
    house = world["house"]
    data = {"code": house.door_code, "reason": "stolen"}
    assert login(world["head"]).post(f"/doors/houses/{house.id}/retire", data=data).status_code == 403
    manager = english(login(world["supervisor"]))
    missing = manager.post(f"/doors/houses/{house.id}/retire", data={"code": house.door_code, "reason": ""})
    assert missing.status_code == 422 and "Choose why the code is replaced" in missing.get_data(as_text=True)
    assert db.session.scalars(select(RetiredDoorCode)).all() == []
    assert manager.post("/doors/houses/999999/retire", data=data).status_code == 404


def test_a_retired_code_is_never_issued_again(world, monkeypatch):
    from fieldapp import records
    house = world["house"]
    first = house.door_code
    codes.retire_and_replace(None, house, "reprint")
    db.session.commit()
    drawn = iter([first, house.door_code, "ZZZZZZZ"])

    def scripted(rng=None):
        from fieldapp.rules.doorcode import check_character
        code = next(drawn)
        return code if len(code) == 8 else code + check_character(code)

    monkeypatch.setattr(records, "new_door_code", scripted)
    other = make_house(world["east"], number="8")
    assert other.door_code == "ZZZZZZZ" + other.door_code[-1]


def test_house_page_links_to_its_door_label_for_label_printers(world, login):
    house = world["house"]
    head = login(world["head"]).get(f"/houses/{house.id}").get_data(as_text=True)
    assert f'href="/doors/houses/{house.id}"' in head
    collector = login(make_account(world["town"], "collector", [world["east"]]))
    assert "/doors/houses/" not in collector.get(f"/houses/{house.id}").get_data(as_text=True)
