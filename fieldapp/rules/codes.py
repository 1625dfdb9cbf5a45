"""National standard code tables as plain data: store the code, show the name.

Exports to the police and statistics platforms carry the codes, so every
table uses the standard's codes where one exists and says where it does not.
Codes are strings ('01', not 1) because leading zeros are significant; the
helpers also accept a non-negative int and zero-pad it to the table's code
width, so ``name(SEX, resident_id_sex(n))`` works.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = [
    "CodeTable", "SEX", "ETHNICITY", "RELATION", "HUKOU_TYPE", "ID_TYPE",
    "TABLES", "name", "choices", "is_valid",
]


class CodeTable:
    """An ordered, immutable code table: (code, Chinese name, English name)
    rows in the standard's order, plus the table's own names and source."""

    def __init__(self, key: str, name_zh: str, name_en: str, source: str,
                 rows: tuple[tuple[str, str, str], ...]):
        self.key = key
        self.name_zh = name_zh
        self.name_en = name_en
        self.source = source
        self.rows = rows
        self._names = {code: (zh, en) for code, zh, en in rows}
        widths = {len(code) for code, _, _ in rows}
        # Duplicates or mixed widths would make int lookups ambiguous.
        if len(self._names) != len(rows) or len(widths) != 1:
            raise ValueError(f"code table {key}: duplicate or uneven codes")
        self.width = widths.pop()

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(code for code, _, _ in self.rows)

    def lookup(self, code) -> tuple[str, str] | None:
        """(zh, en) names for ``code`` (str, or int zero-padded), or None."""
        if isinstance(code, int) and not isinstance(code, bool) and code >= 0:
            code = str(code).zfill(self.width)
        if not isinstance(code, str):
            return None
        return self._names.get(code)

    def __iter__(self) -> Iterator[tuple[str, str, str]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __contains__(self, code) -> bool:
        return self.lookup(code) is not None

    def __repr__(self) -> str:
        return f"<CodeTable {self.key}: {len(self)} codes>"


def _lang_index(lang: str) -> int:
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    return 0 if lang == "zh" else 1


def name(table: CodeTable, code, lang: str = "zh", default=None):
    """Return the display name of ``code`` in ``table`` ('zh' or 'en'), or
    ``default`` (None) when the code is not in the table."""
    index = _lang_index(lang)
    names = table.lookup(code)
    return default if names is None else names[index]


def choices(table: CodeTable, lang: str = "zh") -> list[tuple[str, str]]:
    """Return [(code, name), ...] in the standard's order, for form selects."""
    index = 1 + _lang_index(lang)
    return [(row[0], row[index]) for row in table.rows]


def is_valid(table: CodeTable, code) -> bool:
    """True when ``code`` is a code of ``table``."""
    return code in table


# GB/T 2261.1-2003 人的性别代码. The standard names codes 1/2 男性/女性; forms
# show the short 男/女. 5 and 6 are in the standard (sex changed after
# registration) and are kept so imported records validate.
SEX = CodeTable("sex", "性别", "Sex", "GB/T 2261.1-2003", (
    ("0", "未知的性别", "Not known"),
    ("1", "男", "Male"),
    ("2", "女", "Female"),
    ("5", "女性改（变）为男性", "Female changed to male"),
    ("6", "男性改（变）为女性", "Male changed to female"),
    ("9", "未说明的性别", "Not stated"),
))

# GB/T 3304-1991 中国各民族名称的罗马字母拼写法和代码: 56 codes in the
# standard's order with its romanised names, plus 97 and 98 as commonly
# carried with the standard (e.g. in student and ID-card reader systems).
ETHNICITY = CodeTable("ethnicity", "民族", "Ethnic group", "GB/T 3304-1991", (
    ("01", "汉族", "Han"), ("02", "蒙古族", "Mongol"), ("03", "回族", "Hui"),
    ("04", "藏族", "Zang"), ("05", "维吾尔族", "Uygur"), ("06", "苗族", "Miao"),
    ("07", "彝族", "Yi"), ("08", "壮族", "Zhuang"), ("09", "布依族", "Buyei"),
    ("10", "朝鲜族", "Chosen"), ("11", "满族", "Man"), ("12", "侗族", "Dong"),
    ("13", "瑶族", "Yao"), ("14", "白族", "Bai"), ("15", "土家族", "Tujia"),
    ("16", "哈尼族", "Hani"), ("17", "哈萨克族", "Kazak"), ("18", "傣族", "Dai"),
    ("19", "黎族", "Li"), ("20", "傈僳族", "Lisu"), ("21", "佤族", "Va"),
    ("22", "畲族", "She"), ("23", "高山族", "Gaoshan"), ("24", "拉祜族", "Lahu"),
    ("25", "水族", "Sui"), ("26", "东乡族", "Dongxiang"), ("27", "纳西族", "Naxi"),
    ("28", "景颇族", "Jingpo"), ("29", "柯尔克孜族", "Kirgiz"), ("30", "土族", "Tu"),
    ("31", "达斡尔族", "Daur"), ("32", "仫佬族", "Mulao"), ("33", "羌族", "Qiang"),
    ("34", "布朗族", "Blang"), ("35", "撒拉族", "Salar"), ("36", "毛南族", "Maonan"),
    ("37", "仡佬族", "Gelao"), ("38", "锡伯族", "Xibe"), ("39", "阿昌族", "Achang"),
    ("40", "普米族", "Pumi"), ("41", "塔吉克族", "Tajik"), ("42", "怒族", "Nu"),
    ("43", "乌孜别克族", "Uzbek"), ("44", "俄罗斯族", "Russ"),
    ("45", "鄂温克族", "Ewenki"), ("46", "德昂族", "Deang"), ("47", "保安族", "Bonan"),
    ("48", "裕固族", "Yugur"), ("49", "京族", "Gin"), ("50", "塔塔尔族", "Tatar"),
    ("51", "独龙族", "Derung"), ("52", "鄂伦春族", "Oroqen"), ("53", "赫哲族", "Hezhen"),
    ("54", "门巴族", "Monba"), ("55", "珞巴族", "Lhoba"), ("56", "基诺族", "Jino"),
    ("97", "其他", "Other"),
    ("98", "外国血统中国籍人士", "Chinese citizen of foreign origin"),
))

# GB/T 4761-2008 家庭关系代码, full two-digit list. Tens digit = group
# (0 self/householder, 1 spouse, 2 son, 3 daughter, 4 grandchild, 5 parent,
# 6 grandparent, 7 sibling, 8-9 other); x0 is the group's general code.
# For relation to the householder, the householder is 02 户主.
RELATION = CodeTable("relation", "与户主关系", "Relation to householder",
                     "GB/T 4761-2008", (
    ("01", "本人", "Self"),
    ("02", "户主", "Householder"),
    ("10", "配偶", "Spouse"),
    ("11", "夫", "Husband"),
    ("12", "妻", "Wife"),
    ("20", "子", "Son"),
    ("21", "独生子", "Only son"),
    ("22", "长子", "Eldest son"),
    ("23", "次子", "Second son"),
    ("24", "三子", "Third son"),
    ("25", "四子", "Fourth son"),
    ("26", "五子", "Fifth son"),
    ("27", "养子或继子", "Adopted son or stepson"),
    ("28", "女婿", "Son-in-law"),
    ("29", "其他儿子", "Other son"),
    ("30", "女", "Daughter"),
    ("31", "独生女", "Only daughter"),
    ("32", "长女", "Eldest daughter"),
    ("33", "次女", "Second daughter"),
    ("34", "三女", "Third daughter"),
    ("35", "四女", "Fourth daughter"),
    ("36", "五女", "Fifth daughter"),
    ("37", "养女或继女", "Adopted daughter or stepdaughter"),
    ("38", "儿媳", "Daughter-in-law"),
    ("39", "其他女儿", "Other daughter"),
    ("40", "孙子、孙女或外孙子、外孙女", "Grandchild"),
    ("41", "孙子", "Grandson (son's son)"),
    ("42", "孙女", "Granddaughter (son's daughter)"),
    ("43", "外孙子", "Grandson (daughter's son)"),
    ("44", "外孙女", "Granddaughter (daughter's daughter)"),
    ("45", "孙媳妇或外孙媳妇", "Grandson's wife"),
    ("46", "孙女婿或外孙女婿", "Granddaughter's husband"),
    ("47", "曾孙子或外曾孙子", "Great-grandson"),
    ("48", "曾孙女或外曾孙女", "Great-granddaughter"),
    ("49", "其他孙子、孙女或外孙子、外孙女", "Other grandchild"),
    ("50", "父母", "Parent"),
    ("51", "父亲", "Father"),
    ("52", "母亲", "Mother"),
    ("53", "公公", "Husband's father"),
    ("54", "婆婆", "Husband's mother"),
    ("55", "岳父", "Wife's father"),
    ("56", "岳母", "Wife's mother"),
    ("57", "继父或养父", "Stepfather or adoptive father"),
    ("58", "继母或养母", "Stepmother or adoptive mother"),
    ("59", "其他父母关系", "Other parent relation"),
    ("60", "祖父母或外祖父母", "Grandparent"),
    ("61", "祖父", "Paternal grandfather"),
    ("62", "祖母", "Paternal grandmother"),
    ("63", "外祖父", "Maternal grandfather"),
    ("64", "外祖母", "Maternal grandmother"),
    ("65", "配偶的祖父母或外祖父母", "Spouse's grandparent"),
    ("66", "曾祖父", "Great-grandfather"),
    ("67", "曾祖母", "Great-grandmother"),
    ("68", "配偶的曾祖父母或外曾祖父母", "Spouse's great-grandparent"),
    ("69", "其他祖父母或外祖父母关系", "Other grandparent relation"),
    ("70", "兄弟姐妹", "Sibling"),
    ("71", "兄", "Elder brother"),
    ("72", "嫂", "Elder brother's wife"),
    ("73", "弟", "Younger brother"),
    ("74", "弟媳", "Younger brother's wife"),
    ("75", "姐姐", "Elder sister"),
    ("76", "姐夫", "Elder sister's husband"),
    ("77", "妹妹", "Younger sister"),
    ("78", "妹夫", "Younger sister's husband"),
    ("79", "其他兄弟姐妹", "Other sibling"),
    ("80", "其他", "Other"),
    ("81", "伯父", "Father's elder brother"),
    ("82", "伯母", "Wife of father's elder brother"),
    ("83", "叔父", "Father's younger brother"),
    ("84", "婶母", "Wife of father's younger brother"),
    ("85", "舅父", "Mother's brother"),
    ("86", "舅母", "Wife of mother's brother"),
    ("87", "姨父", "Husband of mother's sister"),
    ("88", "姨母", "Mother's sister"),
    ("89", "姑父", "Husband of father's sister"),
    ("90", "姑母", "Father's sister"),
    ("91", "堂兄弟、堂姐妹", "Paternal cousin (father's brother's child)"),
    ("92", "表兄弟、表姐妹", "Other cousin"),
    ("93", "侄子", "Brother's son"),
    ("94", "侄女", "Brother's daughter"),
    ("95", "外甥", "Sister's son"),
    ("96", "外甥女", "Sister's daughter"),
    ("97", "其他亲属", "Other relative"),
    ("99", "非亲属", "Not related"),
))

# Household registration type. No national standard code list: this is a
# local table. Older registrations are agricultural / non-agricultural;
# since the 2014 household registration reform
# (国发〔2014〕25号) provinces register everyone as 居民户口, hence code 3.
HUKOU_TYPE = CodeTable("hukou_type", "户口性质", "Household registration type",
                       "local (no national standard)", (
    ("1", "非农业户口", "Non-agricultural"),
    ("2", "农业户口", "Agricultural"),
    ("3", "居民户口", "Unified resident"),
    ("9", "其他", "Other"),
))

# Document types, GA/T 517-2004 常用证件代码 (public-security codes), limited
# to the documents met at the door. Names are today's: 516 is 港澳同胞回乡证
# in the standard (renamed 港澳居民来往内地通行证), 553 外国人永久居留证
# (since 2017 外国人永久居留身份证). Hong Kong/Macau/Taiwan residence permits
# (2018) have no GA/T 517-2004 code; their 18-digit numbers pass
# identifiers.validate_resident_id (prefixes 81/82/83).
ID_TYPE = CodeTable("id_type", "证件类型", "Document type", "GA/T 517-2004", (
    ("111", "居民身份证", "Resident identity card"),
    ("112", "临时居民身份证", "Temporary resident identity card"),
    ("113", "户口簿", "Household register booklet"),
    ("414", "普通护照", "Ordinary passport"),
    ("511", "台湾居民来往大陆通行证", "Mainland travel permit for Taiwan residents"),
    ("516", "港澳居民来往内地通行证",
     "Mainland travel permit for Hong Kong and Macau residents"),
    ("553", "外国人永久居留身份证", "Foreign permanent resident ID card"),
    ("554", "外国人居留证", "Foreigner's residence permit"),
    ("990", "其他", "Other"),
))

TABLES: dict[str, CodeTable] = {
    t.key: t for t in (SEX, ETHNICITY, RELATION, HUKOU_TYPE, ID_TYPE)
}
