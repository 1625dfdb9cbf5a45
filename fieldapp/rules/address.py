"""House addresses: how parts are shown and how search text is matched."""
from __future__ import annotations

import re
import unicodedata

ADDRESS_PARTS = ("road", "lane", "number", "building", "room", "group_name")


def format_address(parts: dict, village_name: str | None = None) -> str:
    """Chinese address order, largest to smallest: village, group (组), road, lane (弄), number (号),
    building (栋), room (室). Parts are stored without their suffix and shown with it unless the
    user already typed one (so '3组' and '3' both show as 3组)."""
    out = [village_name or ""]
    for key, suffix in (("group_name", "组"), ("road", ""), ("lane", "弄"), ("number", "号"),
                        ("building", "栋"), ("room", "室")):
        value = (parts.get(key) or "").strip()
        if value:
            out.append(value if not suffix or value.endswith(suffix) else value + suffix)
    return "".join(out)


def address_key(parts: dict, village_name: str | None = None) -> str:
    """The text address search matches: the formatted address, lower-cased, without spaces."""
    return normalise_query(format_address(parts, village_name))


def normalise_query(text: str) -> str:
    """Search input and keys are compared lower-cased without white space or hyphens."""
    return re.sub(r"[\s\-－]+", "", text or "").lower()


_GROUP_NUMBER = re.compile(r"^(?:(\d+)组)?(\d+)?号?$")


def parse_group_number(text: str) -> dict | None:
    """A village address typed as "3组", "3组27号", "3组27" or "27号" names the group and/or door
    number exactly: "3组" must not also find 13组. Returns {"group_name", "number"} (either may be
    None), or None when the text is not of that shape (then search by substring)."""
    match = _GROUP_NUMBER.match(normalise_query(text))
    if not match or not any(match.groups()) or (match.group(1) is None and not text.strip().endswith("号")):
        return None
    return {"group_name": match.group(1), "number": match.group(2)}


# Address identity (duplicate houses) --------------------------------------------------------------

# The suffix each part may be typed with: '3组' and '3' are the same group, '27号' and '27' the same
# door. Longest first, so '3号楼' loses '号楼' and not only '楼'.
IDENTITY_SUFFIXES = {
    "group_name": ("组",),
    "road": (),
    "lane": ("弄",),
    "number": ("号",),
    "building": ("号楼", "栋", "幢", "楼"),
    "room": ("室", "号"),
}
IDENTITY_PARTS = ("group_name", "road", "lane", "number", "building", "room")


def identity_part(value, suffixes=()) -> str:
    """One address part as the identity compares it: NFKC (full-width digits and letters become
    half-width, '２７号' = '27号'), no white space or hyphens, lower case, the part's suffix
    dropped, and leading zeros of a number dropped ('027' = '27')."""
    text = unicodedata.normalize("NFKC", str(value or ""))
    text = re.sub(r"[\s\-]+", "", text).lower()
    for suffix in suffixes:
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    if text.isdigit():
        text = text.lstrip("0") or "0"
    return text


def address_identity(village_id: int, parts: dict) -> str | None:
    """The rule for 'the same house': two houses are one door when they are in the same village and
    their group, road, lane, number, building and room are equal after identity_part. So
    '上新村 1组 1号' and '上新村１组１' are the same house; '1组1号' and '1组1号 201室' are not (a
    room is a door of its own). Returns the text stored in House.address_identity (unique), or
    None when the house has no number (nothing to compare). The phone applies the same rule
    (static/js/dupes.js)."""
    values = [identity_part(parts.get(name), IDENTITY_SUFFIXES[name]) for name in IDENTITY_PARTS]
    if not values[IDENTITY_PARTS.index("number")]:
        return None
    return "|".join([str(village_id), *values])[:255]
