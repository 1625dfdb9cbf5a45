"""Unit tests for the small pure rules: field-level merge, permissions, addresses."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fieldapp.rules.address import address_key, format_address, normalise_query, parse_group_number
from fieldapp.rules.merge import base_values, merge
from fieldapp.rules.permissions import PERMISSIONS, ROLES, can, is_town_wide, may_see_category


def test_merge_applies_untouched_fields_and_keeps_newer_values_the_editor_left_alone():
    current = {"use": "rented", "owner_name": "李四", "room": "101"}
    since = [{"use": ["owner", "rented"]}]  # someone changed use after the editor's base
    result = merge(current, {"use": "owner", "owner_name": "王五", "room": "101"}, since)
    assert result.apply == {"owner_name": "王五"}  # 'use' was left at its base value: newer wins
    assert result.conflicts == {}


def test_merge_flags_the_same_field_changed_to_different_values():
    current = {"use": "rented"}
    result = merge(current, {"use": "vacant"}, [{"use": ["owner", "rented"]}])
    assert result.apply == {}
    assert result.conflicts == {"use": {"base": "owner", "current": "rented", "submitted": "vacant"}}


def test_merge_same_value_both_sides_is_not_a_conflict():
    assert merge({"use": "rented"}, {"use": "rented"}, [{"use": ["owner", "rented"]}]).conflicts == {}


def test_base_values_take_the_first_old_value_after_the_base():
    since = [{"a": [1, 2]}, {"a": [2, 3], "b": ["x", "y"]}]
    assert base_values({"a": 3, "b": "y", "c": 0}, since) == {"a": 1, "b": "x", "c": 0}


@given(st.dictionaries(st.sampled_from("abcde"), st.integers(0, 3)),
       st.dictionaries(st.sampled_from("abcde"), st.integers(0, 3)))
def test_merge_without_concurrent_changes_applies_exactly_the_differences(current, submitted):
    current = {k: current.get(k, 0) for k in "abcde"}
    result = merge(current, submitted, [])
    assert result.conflicts == {}
    assert result.apply == {k: v for k, v in submitted.items() if current[k] != v}


def test_permission_matrix_shape():
    every_role = {role for holders in PERMISSIONS.values() for role in holders}
    assert every_role <= set(ROLES)
    assert not can("informant", "registry.read")
    assert not can("admin", "registry.read")  # least privilege: managing IDs needs no records
    assert can("police", "registry.police_only") and not can("supervisor", "registry.police_only")
    assert not can("collector", "no.such.permission")
    assert is_town_wide("supervisor") and not is_town_wide("village_head")


def test_people_from_abroad_are_police_only():
    assert may_see_category("police", "abroad")
    for role in set(ROLES) - {"police"}:
        assert not may_see_category(role, "abroad")
        assert may_see_category(role, "migrant")


def test_address_format_and_search_key():
    parts = {"group_name": "3", "number": "27", "room": "201"}
    assert format_address(parts, "余坪村") == "余坪村3组27号201室"
    assert format_address({"road": "金杨路", "lane": "18弄", "number": "5号"}) == "金杨路18弄5号"
    assert address_key(parts, "余坪村") == "余坪村3组27号201室"
    assert normalise_query(" 3组 - 27 ") == "3组27"
    assert normalise_query("Jinyang Rd") == "jinyangrd"


def test_group_and_number_queries_are_exact():
    assert parse_group_number("3组") == {"group_name": "3", "number": None}
    assert parse_group_number(" 3组 27号") == {"group_name": "3", "number": "27"}
    assert parse_group_number("3组27") == {"group_name": "3", "number": "27"}
    assert parse_group_number("27号") == {"group_name": None, "number": "27"}
    assert parse_group_number("27") is None  # a bare number may be part of a door code or a road
    assert parse_group_number("金杨路") is None and parse_group_number("") is None


def test_division_names_use_the_latest_name_and_tolerate_unknown_codes():
    from fieldapp.rules.divisions import division_name
    assert division_name("431226") == "湖南省麻阳苗族自治县"
    assert division_name("310115") == "上海市浦东新区"
    assert division_name("120110") == "天津市东丽区"  # formerly 东郊区
    assert division_name("110000") == "北京市"
    assert division_name("110199") is None and division_name("12") is None and division_name(None) is None
