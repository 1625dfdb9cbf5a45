"""House addresses: how parts are shown and how search text is matched."""
from __future__ import annotations

import re

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
