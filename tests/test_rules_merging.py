from fieldapp.rules.address import address_identity, identity_part
from fieldapp.rules.merging import chosen_values, default_choice, differing_fields, merged_living


def test_same_village_house_written_differently_is_one_identity():
    a = address_identity(7, {"group_name": "1组", "number": "1号"})
    assert a == address_identity(7, {"group_name": "１", "number": " 01 "})
    assert a == address_identity(7, {"group_name": "1 组", "number": "1"})
    assert a != address_identity(8, {"group_name": "1组", "number": "1号"})  # another village


def test_town_address_with_building_and_room():
    a = address_identity(3, {"road": "人民路", "lane": "12弄", "number": "3号", "building": "2栋", "room": "201室"})
    assert a == address_identity(3, {"road": "人民路 ", "lane": "１２", "number": "3", "building": "2幢", "room": "201"})
    assert a != address_identity(3, {"road": "人民路", "lane": "12弄", "number": "3号", "building": "2栋", "room": "202室"})
    assert a != address_identity(3, {"road": "人民路", "lane": "12弄", "number": "3号", "building": "2栋"})


def test_case_and_letters():
    assert address_identity(1, {"number": "12A"}) == address_identity(1, {"number": "１２ａ号"})
    assert identity_part("B-3", ()) == "b3"


def test_no_number_no_identity():
    assert address_identity(1, {"group_name": "3组", "number": ""}) is None


def test_merge_choices():
    keep = {"name": "张三", "phone": None, "id_number": "1", "sex": "1"}
    other = {"name": "张叁", "phone": "13800000000", "id_number": "2", "sex": "1"}
    names = ("name", "phone", "id_number", "sex")
    assert differing_fields(keep, other, names) == ["name", "phone"]
    assert default_choice(None, "x") == "other" and default_choice("a", "b") == "keep"
    assert chosen_values(keep, other, names, {}) == {"phone": "13800000000"}
    assert chosen_values(keep, other, names, {"name": "other", "phone": "keep"}) == {"name": "张叁"}
    assert merged_living("left", "living") and not merged_living("left", "left")
