"""Reading existing people and organisation registers (CSV or Excel), cell by cell: pure rules, no
Flask, no database. The file itself is read as a house register is (rules.register_import: encodings,
.xlsx, header aliases, address columns); this module adds the columns of a person and of an
organisation and the way a clerk writes their values.

Columns
-------
A people register has one person per row: the house's address (village by name or code, group,
road, lane, door number, building, room: the same columns as the house register), then the person
(``PEOPLE_ALIASES``). Required: village, door number, name, document number and category. The
document type may be left out: it is then a resident identity card (居民身份证), which almost every
row of a town's register is. An organisation register has one organisation per row: the address,
then name, kind, unified social credit code, legal representative, phone and employee count
(``ORG_ALIASES``); required: village, door number, name and kind.

Both have an optional "create the house" column (新建房屋, yes/no). What an office clerk expects:
the register they hold names addresses, and most of them are already in the house register
(imported from the door-label register or collected); a row whose address is not registered yet is
far more often a typing error ("3组27号" vs "3组72号") than a new house, so by default it is
rejected with "no house at this address", and the clerk says "是" in that column for the houses
that really are new. Rows of one new address create one house between them.

Coded values
------------
National code lists (sex GB/T 2261.1, ethnicity GB/T 3304, relation GB/T 4761, document type
GA/T 517, household registration type) are written as the code ("1", "01"), the Chinese name
("男", "汉族"), the English name, or both ("01 汉族", "汉族(01)"), as a dropdown of the template
or another system's export gives them. The app's own lists (category, reason for living here, time
away, kind of organisation) are written as their Chinese name (``CATEGORY_NAMES`` and so on), the
synonyms registers use for them, or their key. Anything else is refused, never guessed.

Dates are ``YYYYMMDD`` (how the police platform and the exports write them), ``YYYY-MM-DD``,
``YYYY/M/D``, ``YYYY.M.D``, ``YYYY年M月D日`` or an Excel date cell.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from .codes import ETHNICITY, HUKOU_TYPE, ID_TYPE, RELATION, SEX, CodeTable
from .register_import import ADDRESS_COLUMNS, HEADER_ALIASES, alias_index, cell_text

_ADDRESS_ALIASES = {c: HEADER_ALIASES[c] for c in ("village", *ADDRESS_COLUMNS)}

PEOPLE_ALIASES: dict[str, tuple[str, ...]] = {
    **_ADDRESS_ALIASES,
    "name": ("name", "姓名", "名字"),
    "id_type": ("idtype", "documenttype", "证件类型", "证件种类"),
    "id_number": ("idnumber", "documentnumber", "证件号码", "证件号", "身份证号", "身份证号码", "公民身份号码"),
    "sex": ("sex", "gender", "性别"),
    "birth_date": ("birthdate", "dateofbirth", "出生日期", "出生年月日", "生日"),
    "ethnicity": ("ethnicity", "ethnicgroup", "民族"),
    "nationality": ("nationality", "国籍", "国籍代码"),
    "phone": ("phone", "mobile", "联系电话", "手机", "手机号", "手机号码", "电话"),
    "category": ("category", "人员类别", "人口类别", "人员类型", "类别"),
    "hukou_division": ("hukoudivision", "户籍地代码", "户籍地区划代码", "户籍地行政区划代码"),
    "hukou_address": ("hukouaddress", "户籍地址", "户籍地详址", "户籍地"),
    "hukou_type": ("hukoutype", "户口性质", "户口类型"),
    "relation": ("relation", "与户主关系"),
    "residence_room": ("residenceroom", "居住房间", "居住房间号"),
    "move_in_date": ("moveindate", "迁入日期", "入住日期", "来本地日期", "居住起始日期"),
    "move_in_reason": ("moveinreason", "reason", "居住事由", "来本地事由", "暂住事由"),
    "away_duration": ("awayduration", "离开户籍地时间", "离开户籍地时长"),
    "employer_uscc": ("employeruscc", "employer", "工作单位统一社会信用代码", "工作单位信用代码", "服务处所信用代码"),
    "create_house": ("createhouse", "新建房屋", "房屋不存在时新建"),
}
PEOPLE_REQUIRED = ("village", "number", "name", "id_number", "category")

ORG_ALIASES: dict[str, tuple[str, ...]] = {
    **_ADDRESS_ALIASES,
    "name": ("name", "organisationname", "organizationname", "单位名称", "名称", "单位"),
    "kind": ("kind", "type", "单位类别", "单位类型", "类别"),
    "uscc": ("uscc", "creditcode", "统一社会信用代码", "信用代码", "社会信用代码"),
    "legal_rep": ("legalrep", "legalrepresentative", "法定代表人", "法人代表", "法人", "负责人"),
    "phone": ("phone", "联系电话", "电话"),
    "employee_count": ("employees", "employeecount", "从业人员数", "从业人数", "员工人数", "职工人数"),
    "create_house": PEOPLE_ALIASES["create_house"],
}
ORG_REQUIRED = ("village", "number", "name", "kind")

PEOPLE_INDEX = alias_index(PEOPLE_ALIASES)
ORG_INDEX = alias_index(ORG_ALIASES)

# The headers the templates use, in their order (every one of them is an alias above).
PEOPLE_TEMPLATE = (
    ("village", "村/社区"), ("group_name", "组"), ("road", "路"), ("lane", "弄"), ("number", "门牌号"),
    ("building", "栋"), ("room", "室"), ("create_house", "新建房屋"), ("name", "姓名"), ("id_type", "证件类型"),
    ("id_number", "证件号码"), ("sex", "性别"), ("birth_date", "出生日期"), ("ethnicity", "民族"),
    ("nationality", "国籍"), ("phone", "联系电话"), ("category", "人员类别"), ("hukou_division", "户籍地代码"),
    ("hukou_address", "户籍地址"), ("hukou_type", "户口性质"), ("relation", "与户主关系"),
    ("residence_room", "居住房间"), ("move_in_date", "迁入日期"), ("move_in_reason", "居住事由"),
    ("away_duration", "离开户籍地时间"), ("employer_uscc", "工作单位统一社会信用代码"),
)
ORG_TEMPLATE = (
    ("village", "村/社区"), ("group_name", "组"), ("road", "路"), ("lane", "弄"), ("number", "门牌号"),
    ("building", "栋"), ("room", "室"), ("create_house", "新建房屋"), ("name", "单位名称"), ("kind", "单位类别"),
    ("uscc", "统一社会信用代码"), ("legal_rep", "法定代表人"), ("phone", "联系电话"), ("employee_count", "从业人员数"),
)

# The app's own lists: key -> (Chinese name as the UI shows it, synonyms registers use).
CATEGORY_NAMES = {"local": ("户籍人口", ("户籍", "本地户籍", "常住户籍")),
                  "migrant": ("外来人口", ("外来", "流动人口", "来沪人员", "外来人员", "暂住人口")),
                  "separated": ("人户分离", ("人户分离人员",)),
                  "abroad": ("境外人员", ("境外", "外籍人员", "境外人口"))}
REASON_NAMES = {"work": ("务工", ("工作", "打工", "务工经商")), "study": ("学习培训", ("学习", "就学", "上学")),
                "family": ("投亲靠友", ("家属随迁", "探亲", "家庭")), "business": ("经商", ("经营",)),
                "other": ("其他", ())}
AWAY_NAMES = {"lt6m": ("半年以下", ("不满半年", "6个月以下")), "6m_1y": ("半年至一年", ()),
              "1y_2y": ("一年至两年", ("一至二年", "1-2年")), "2y_5y": ("两年至五年", ("二至五年", "2-5年")),
              "gt5y": ("五年以上", ("5年以上",))}
ORG_KIND_NAMES = {"community_unit": ("社区单位", ()), "shop": ("沿街商铺", ("商铺", "门店", "个体工商户")),
                  "factory": ("工厂", ("厂", "企业工厂")), "company": ("公司企业", ("公司", "企业")),
                  "school": ("学校", ()), "other": ("其他", ())}
YES = ("是", "y", "yes", "1", "true", "新建", "√")
NO = ("否", "n", "no", "0", "false", "")

_SEPARATORS = re.compile(r"[\s\-_/|:：、,，()（）\[\]【】]+")


def _key(text: str) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).lower()


def _code_index(table: CodeTable) -> dict[str, str]:
    index: dict[str, str] = {}
    for code, zh, en in table.rows:
        for text in (code, zh, en, code + zh, zh + code):
            index[_key(text)] = code
    return index


def _name_index(names: dict[str, tuple[str, tuple[str, ...]]]) -> dict[str, str]:
    return {_key(text): key for key, (zh, synonyms) in names.items() for text in (key, zh, *synonyms)}


CODE_TABLES = {"id_type": ID_TYPE, "sex": SEX, "ethnicity": ETHNICITY, "hukou_type": HUKOU_TYPE,
               "relation": RELATION}
NAME_LISTS = {"category": CATEGORY_NAMES, "move_in_reason": REASON_NAMES, "away_duration": AWAY_NAMES,
              "kind": ORG_KIND_NAMES}
_INDEXES = {**{c: _code_index(t) for c, t in CODE_TABLES.items()}, **{c: _name_index(n) for c, n in NAME_LISTS.items()}}


def template_choices(column: str) -> list[str]:
    """The values a template's dropdown offers for a coded column: the Chinese names, in order."""
    if column in CODE_TABLES:
        return [zh for _code, zh, _en in CODE_TABLES[column].rows]
    if column in NAME_LISTS:
        return [zh for zh, _synonyms in NAME_LISTS[column].values()]
    if column == "create_house":
        return ["是", "否"]
    raise KeyError(column)


def coded(column: str, text: str) -> str | None:
    """The code (or key) a cell of a coded column means, '' for an empty cell, None when it means
    nothing in the list. A bare number is zero-padded to the table's width ("1" -> "01" for ethnicity)."""
    if not text:
        return ""
    table = CODE_TABLES.get(column)
    if table is not None and text.isdigit() and len(text) < table.width:
        text = text.zfill(table.width)
    return _INDEXES[column].get(_key(text))


_DATE_PATTERNS = (re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
                  re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$"))


def parse_date(value) -> date | None | str:
    """A date cell as a date, '' when empty, None when it is not a date (see the module docstring).
    A time of day in the cell (Excel date-times) is dropped."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value)
    if not text:
        return ""
    text = text.split(" ")[0] if re.match(r"^\d{4}-\d{2}-\d{2} \d", text) else text
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            try:
                return date(*(int(part) for part in match.groups()))
            except ValueError:
                return None
    return None


def parse_yes_no(text: str) -> bool | None:
    """The create-house column: True, False (empty is no) or None for anything else."""
    key = _key(text)
    if key in YES:
        return True
    if key in NO:
        return False
    return None


def parse_count(text: str) -> int | None | str:
    """A whole number of employees: '' when empty, None when not a whole number (commas allowed)."""
    if not text:
        return ""
    text = text.replace(",", "")
    return int(text) if text.isdigit() else None
