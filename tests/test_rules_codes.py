"""National standard code tables and their helpers."""

import pytest

from fieldapp.rules.codes import (
    ETHNICITY,
    HUKOU_TYPE,
    ID_TYPE,
    RELATION,
    SEX,
    TABLES,
    CodeTable,
    choices,
    is_valid,
    name,
)
from fieldapp.rules.identifiers import resident_id_sex

ALL_TABLES = [SEX, ETHNICITY, RELATION, HUKOU_TYPE, ID_TYPE]

# GB/T 3304-1991 romanisation, in code order 01..56 (typed out independently).
ETHNIC_EN = (
    "Han Mongol Hui Zang Uygur Miao Yi Zhuang Buyei Chosen Man Dong Yao Bai Tujia "
    "Hani Kazak Dai Li Lisu Va She Gaoshan Lahu Sui Dongxiang Naxi Jingpo Kirgiz Tu "
    "Daur Mulao Qiang Blang Salar Maonan Gelao Xibe Achang Pumi Tajik Nu Uzbek Russ "
    "Ewenki Deang Bonan Yugur Gin Tatar Derung Oroqen Hezhen Monba Lhoba Jino"
).split()


# --- every table -----------------------------------------------------------

@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.key)
def test_table_has_names_and_source(table):
    assert table.name_zh and table.name_en and table.source
    assert TABLES[table.key] is table


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.key)
def test_codes_unique_and_uniform(table):
    codes = table.codes
    assert len(codes) == len(set(codes)) == len(table)
    assert all(code.isascii() and code.isdigit() for code in codes)
    assert len({len(code) for code in codes}) == 1


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.key)
def test_no_empty_names(table):
    for code, zh, en in table:
        assert zh and zh == zh.strip(), code
        assert en and en == en.strip() and en.isascii(), code


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.key)
def test_codes_are_in_standard_order(table):
    assert list(table.codes) == sorted(table.codes)


def test_table_rejects_duplicates_and_uneven_codes():
    with pytest.raises(ValueError):
        CodeTable("x", "x", "x", "x", (("1", "a", "a"), ("1", "b", "b")))
    with pytest.raises(ValueError):
        CodeTable("x", "x", "x", "x", (("1", "a", "a"), ("02", "b", "b")))


# --- sex ---------------------------------------------------------------------

def test_sex():
    assert {"0", "1", "2", "9"} <= set(SEX.codes)
    assert name(SEX, "1") == "男" and name(SEX, "2") == "女"
    assert name(SEX, "0") == "未知的性别" and name(SEX, "9") == "未说明的性别"
    assert name(SEX, "1", "en") == "Male" and name(SEX, "2", "en") == "Female"


def test_sex_from_resident_id():
    assert name(SEX, resident_id_sex("11010519491231002X")) == "女"
    assert name(SEX, resident_id_sex("360426199101010071"), "en") == "Male"


# --- ethnicity ---------------------------------------------------------------

def test_56_ethnic_groups_in_standard_order():
    groups = [row for row in ETHNICITY if int(row[0]) <= 56]
    assert [code for code, _, _ in groups] == [f"{i:02d}" for i in range(1, 57)]
    assert [en for _, _, en in groups] == ETHNIC_EN
    assert all(zh.endswith("族") for _, zh, _ in groups)
    assert len({zh for _, zh, _ in groups}) == 56


@pytest.mark.parametrize("code,zh", [
    ("01", "汉族"), ("02", "蒙古族"), ("04", "藏族"), ("05", "维吾尔族"),
    ("10", "朝鲜族"), ("11", "满族"), ("36", "毛南族"), ("46", "德昂族"),
    ("56", "基诺族"), ("97", "其他"), ("98", "外国血统中国籍人士"),
])
def test_ethnicity_names(code, zh):
    assert name(ETHNICITY, code) == zh


def test_ethnicity_extra_codes():
    assert set(ETHNICITY.codes) - {f"{i:02d}" for i in range(1, 57)} == {"97", "98"}


# --- relation to the householder -------------------------------------------

@pytest.mark.parametrize("code,zh", [
    ("01", "本人"), ("02", "户主"), ("10", "配偶"), ("11", "夫"), ("12", "妻"),
    ("20", "子"), ("30", "女"), ("40", "孙子、孙女或外孙子、外孙女"), ("50", "父母"),
    ("51", "父亲"), ("52", "母亲"), ("60", "祖父母或外祖父母"), ("70", "兄弟姐妹"),
    ("80", "其他"), ("97", "其他亲属"), ("99", "非亲属"),
])
def test_relation_main_codes(code, zh):
    assert name(RELATION, code) == zh


def test_relation_groups_are_complete():
    # Groups 2-7 use all ten codes x0..x9; 1 has 10-12; 8-9 run 80..97 plus 99.
    codes = set(RELATION.codes)
    for tens in range(2, 8):
        assert {f"{tens}{u}" for u in range(10)} <= codes
    assert {"10", "11", "12"} <= codes
    assert {str(n) for n in range(80, 98)} | {"99"} <= codes
    assert "98" not in codes and "13" not in codes
    assert len(RELATION) == 2 + 3 + 60 + 18 + 1


# --- household registration type and document type --------------------------

def test_hukou_type():
    assert choices(HUKOU_TYPE) == [("1", "非农业户口"), ("2", "农业户口"),
                                   ("3", "居民户口"), ("9", "其他")]
    assert name(HUKOU_TYPE, "2", "en") == "Agricultural"


def test_id_type():
    assert {"111", "414", "511", "516", "990"} <= set(ID_TYPE.codes)
    assert name(ID_TYPE, "111") == "居民身份证"
    assert name(ID_TYPE, "414") == "普通护照"
    assert name(ID_TYPE, "516") == "港澳居民来往内地通行证"
    assert name(ID_TYPE, "511") == "台湾居民来往大陆通行证"
    assert name(ID_TYPE, "990") == "其他"


# --- helpers -----------------------------------------------------------------

def test_name_unknown_code():
    assert name(ETHNICITY, "57") is None
    assert name(ETHNICITY, "57", default="?") == "?"
    assert name(ETHNICITY, None) is None


def test_name_rejects_unknown_language():
    with pytest.raises(ValueError):
        name(SEX, "1", "fr")
    with pytest.raises(ValueError):
        choices(SEX, "fr")


def test_int_codes_are_zero_padded():
    assert name(ETHNICITY, 1) == "汉族"
    assert is_valid(ETHNICITY, 1) and is_valid(ID_TYPE, 111)
    assert is_valid(SEX, 2)


@pytest.mark.parametrize("table,code", [
    (ETHNICITY, "1"), (ETHNICITY, "001"), (ETHNICITY, " 01"), (ETHNICITY, 57),
    (SEX, "3"), (SEX, True), (SEX, -1), (SEX, None), (SEX, 1.0), (RELATION, "98"),
    (ID_TYPE, "11"), (HUKOU_TYPE, "0"),
])
def test_is_valid_rejects(table, code):
    assert not is_valid(table, code)


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.key)
def test_choices_follow_the_table(table):
    zh = choices(table)
    en = choices(table, "en")
    assert [c for c, _ in zh] == [c for c, _ in en] == list(table.codes)
    assert all(is_valid(table, c) and name(table, c) == n for c, n in zh)
    assert all(name(table, c, "en") == n for c, n in en)
