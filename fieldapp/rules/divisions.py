"""Administrative division names (GB/T 2260) for six-digit codes, e.g. a household registration
place or the first six digits of a resident ID.

The table is python-stdnum's `cn/loc` (GB/T 2260 with each county's years of use). A code names
the place it named last: '[-1991]东郊区,[1992-]东丽区' reads 东丽区. Codes the table lacks (new
counties, typing errors) have no name; they are still stored, since old ID numbers stay valid.
"""
from __future__ import annotations

import functools
import re

from stdnum import numdb

_YEARS = re.compile(r"^\[[^\]]*\]")


def _latest(names: str) -> str:
    return _YEARS.sub("", names.split(",")[-1]).strip()


@functools.lru_cache(maxsize=4096)
def division_name(code: str | None) -> str | None:
    """'431226' -> '湖南省麻阳苗族自治县'; None for an unknown or malformed code."""
    if not code or not re.fullmatch(r"\d{6}", code):
        return None
    parts = dict(numdb.get("cn/loc").info(code))
    province = parts.get(code[:2], {}).get("province")
    county = parts.get(code[2:], {}).get("county")
    if not province or not county:
        return None
    county = _latest(county)
    return province if county in (province, "市辖区", "县") else province + county
