"""rules/export_columns.py: the layouts as data and the cell formatting, without Flask or a database."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from fieldapp.rules import codes
from fieldapp.rules import export_columns as ec
from fieldapp.rules.identifiers import mask_id, mask_phone


def test_every_layout_has_unique_headers_known_formats_and_tables():
    for (dataset, preset), lay in ec.LAYOUTS.items():
        assert dataset in ec.DATASETS and preset in ec.PRESETS and lay.dataset == dataset and lay.key == preset
        assert len(lay.headers) == len(set(lay.headers)), f"{dataset}/{preset}: duplicate header"
        for column in lay.columns:
            assert column.fmt in ec.FORMATTERS or column.fmt == "address", column
            if column.fmt == "name":
                assert column.table in codes.TABLES
            if column.fmt in ("lcode", "lname"):
                assert column.table in ec.LOCAL_TABLES


def test_every_national_code_column_is_followed_by_its_name():
    for lay in ec.LAYOUTS.values():
        for i, column in enumerate(lay.columns):
            if column.fmt in ("lcode",) or (column.fmt == "code" and column.table):
                name = lay.columns[i + 1]
                assert name.source == column.source and name.fmt in ("name", "lname"), (lay.key, column.header)
            if column.source == "hukou_division" and column.fmt == "code":
                assert lay.columns[i + 1].fmt == "division"


def test_changes_have_only_the_standard_layout_and_the_police_preset_covers_the_three_actuals():
    assert ec.layout("changes", "standard").title == "变动"
    with pytest.raises(KeyError):
        ec.layout("changes", "police")
    assert {ec.layout(d, "police").title for d in ("people", "houses", "organisations")} == {"实有人口", "实有房屋", "实有单位"}


def test_yyyymmdd_dates_and_moments_in_the_towns_day():
    assert ec.yyyymmdd(date(2016, 5, 1)) == "20160501"
    assert ec.yyyymmdd(None) == ""
    assert ec.yyyymmdd(datetime(2016, 4, 30, 16, 30)) == "20160501"  # 00:30 in Beijing
    assert ec.yyyymmdd(datetime(2016, 4, 30, 15, 59)) == "20160430"
    assert ec.yyyymmdd(date(9, 1, 2)) == "00090102"


def row_for(lay, **values):
    fields = sorted(ec.sources(lay))
    return fields, tuple(values.get(f) for f in fields)


def test_compiled_people_row_codes_names_masking_and_address():
    lay = ec.layout("people", "police")
    fields, row = row_for(lay, id_number="11010519850312001X", id_type="111", name="张三", sex="2", ethnicity="03",
                          birth_date=date(1985, 3, 12), hukou_division="431226", category="separated",
                          village_name="东村", group_name="3", number="27", living_room="B", phone="13812345678",
                          move_in_reason="family", status="living", relation="02", hukou_type=None)
    masked = dict(zip(lay.headers, ec.compile_layout(lay, fields, masked=True)(row)))
    assert masked["公民身份号码（证件号码）"] == mask_id("11010519850312001X") == "110105********001X"
    assert (masked["证件种类代码"], masked["证件种类"]) == ("111", "居民身份证")
    assert (masked["性别代码"], masked["性别"]) == ("2", "女")
    assert (masked["民族代码"], masked["民族"]) == ("03", "回族")
    assert masked["出生日期"] == "19850312"
    assert masked["户籍地行政区划"] == "湖南省麻阳苗族自治县"
    assert (masked["人员类别代码"], masked["人员类别"]) == ("3", "人户分离人员")
    assert (masked["来本地事由代码"], masked["来本地事由"]) == ("3", "投亲靠友")
    assert (masked["与户主关系代码"], masked["与户主关系"]) == ("02", "户主")
    assert masked["现住地详址"] == "东村3组27号B室" and masked["室（房间）"] == "B"
    assert masked["联系电话"] == mask_phone("13812345678") == "138****5678"
    assert masked["户口性质代码"] == "" and masked["户口性质"] == ""  # missing: empty, never "None"
    full = dict(zip(lay.headers, ec.compile_layout(lay, fields, masked=False)(row)))
    assert full["公民身份号码（证件号码）"] == "11010519850312001X" and full["联系电话"] == "13812345678"


def test_unknown_codes_keep_the_code_and_leave_the_name_empty():
    assert ec.national_name("ethnicity", "77") == ""
    assert ec.local_code("category", "someday") == "someday" and ec.local_name("category", "someday") == ""
    assert ec.text(None) == "" and ec.text(True) == "是" and ec.text(False) == "否" and ec.text(12) == "12"
    assert ec.text(30.1234500) == "30.12345"


def test_a_source_the_row_lacks_fails_when_the_export_is_set_up():
    with pytest.raises(KeyError):
        ec.compile_layout(ec.layout("houses", "standard"), ("uid",))


def test_change_content_masks_identifiers_and_phones_in_old_and_new():
    fields = {"name": [None, "张三"], "id_number": ["11010519850312001X", "110105198503120029"],
              "phone": ["13812345678", None], "use": ["owner", "rented"]}
    assert ec.change_content({"sex": ["1", "2"], "ethnicity": [None, "99"]}, True) == "性别: 男 → 女; 民族: — → 99"
    masked = ec.change_content(fields, masked=True)
    assert masked == ("名称（姓名）: — → 张三; 证件号码: 110105********001X → 110105********0029; "
                      "联系电话: 138****5678 → —; 房屋用途: 自住 → 出租")
    assert "11010519850312001X" in ec.change_content(fields, masked=False)
    assert ec.change_content({}, True) == "" and ec.change_content(None, True) == ""


@pytest.mark.parametrize("value, safe", [("=1+1", "'=1+1"), ("+86", "'+86"), ("-3", "'-3"), ("@x", "'@x"),
                                         ("\tx", "'\tx"), ("张三", "张三"), ("3组", "3组"), ("", "")])
def test_spreadsheet_safe(value, safe):
    assert ec.spreadsheet_safe(value) == safe


@pytest.mark.parametrize("value", ["11010519850312001X", "110105198503120", "E12345678", "AB12", "1234", "A", "",
                                   " 1101 0519 8503 12001X", "１１０１０５１９８５０３１２００１Ｘ", "G1234567-8"])
def test_the_fast_masks_give_the_rules_results(value):
    assert ec.masked_id(value) == mask_id(value)


@pytest.mark.parametrize("value", ["13812345678", "19912345678", "12812345678", "+8613812345678", "138 1234 5678",
                                   "021-12345678", "1381234567", "", "23812345678"])
def test_the_fast_phone_mask_gives_the_rules_result(value):
    assert ec.masked_phone(value) == mask_phone(value)
