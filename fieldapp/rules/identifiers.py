"""Identifier rules: resident ID numbers, unified social credit codes, mobile
numbers, passport-like document numbers, and masking for display.

Pure functions: no Flask, no database. Every validator returns the normalised
value or raises :class:`IdentifierError`, whose ``code`` is for programs and
whose ``message_zh`` / ``message_en`` tell the person at the door what to do.

Why this module does not simply call the libraries in the virtualenv
(findings from python-stdnum 2.2 and phonenumbers 9.0.43, checked by hand):

stdnum.cn.ric (resident ID) -- replaced, not wrapped:
  * Correct: ISO 7064 MOD 11-2 check digit, lower-case x is upper-cased,
    impossible dates such as 19000229 are rejected, 15-digit numbers fail on
    length.
  * Accepts birth dates in the future (2100-01-01) and before 1900 (1899-12-31).
  * Rejects genuine numbers through its county table, which it checks against
    the *birth year*: the address code is the county of the household
    registration when the number was assigned, not of birth. A Pudong
    (310115, created 1992) resident born in 1980 is therefore "invalid" --
    fatal for a Shanghai deployment. Numbers beginning 810000/820000/830000
    (Hong Kong/Macau/Taiwan residence permits) are rejected too.
  * A county code missing from its table (e.g. 110199) raises a bare
    KeyError, so even ``is_valid`` crashes instead of answering.
  So we keep the arithmetic (re-implemented here; the tests cross-check it
  against stdnum) and check only the province-level code.

stdnum.cn.uscc (unified social credit code) -- replaced, not wrapped:
  * Correct: 31-character alphabet and GB 32100 weights / MOD 31 check.
  * Requires characters 1-8 to be digits, so every code issued by the
    agriculture authority (N1/N2/N3/N9: rural collective economic
    organisations -- the village collectives we register), by the Central
    Military Commission office (A1/A9) and by "other" authorities (Y1) is
    rejected as a format error.
  * Does not check the authority/category pair at all ("00..." passes).

phonenumbers (mainland mobiles) -- not used:
  * Accepts the segments we tried from 13x to 19x, including 166, 170, 145,
    192, but rejects 11-digit numbers in blocks it has no metadata for, among
    them 149 (a data-SIM segment in use). Its metadata lags MIIT allocations
    and only moves with library upgrades, and a rejected real number at the
    door is worse than an accepted mistyped one (the collector can ring it).
    We therefore use the plain, documented rule ``1[3-9]`` + 9 digits.
"""

from __future__ import annotations

import datetime as _dt
import re

__all__ = [
    "IdentifierError",
    "PROVINCE_CODES",
    "EARLIEST_BIRTH_DATE",
    "USCC_ALPHABET",
    "USCC_CATEGORIES",
    "validate_resident_id",
    "resident_id_birth_date",
    "resident_id_sex",
    "resident_id_check_digit",
    "validate_uscc",
    "uscc_check_char",
    "validate_mobile",
    "validate_passport",
    "mask_id",
    "mask_phone",
]


class IdentifierError(ValueError):
    """An identifier failed validation.

    ``code`` is a stable machine code (e.g. 'length', 'checksum'),
    ``message_zh`` / ``message_en`` are user-facing and say what to do next.
    ``str(error)`` is the English message, for logs.
    """

    def __init__(self, code: str, message_zh: str, message_en: str):
        super().__init__(message_en)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en

    def message(self, lang: str = "zh") -> str:
        """Return the user-facing message in ``lang`` ('zh' or 'en')."""
        return self.message_en if lang == "en" else self.message_zh

    def __repr__(self) -> str:
        return f"IdentifierError({self.code!r}, {self.message_en!r})"


# --- shared normalisation -------------------------------------------------

# Chinese input methods in full-width mode type U+FF01..U+FF5E and the
# ideographic space; map them to ASCII so "１３８ｘ" is read as "138x".
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20


def _text(value) -> str:
    """Coerce user input to str: None -> '', int -> digits (spreadsheet
    imports), str -> full-width characters folded to ASCII."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise TypeError(f"identifier must be str, not {type(value).__name__}")
    return value.translate(_FULLWIDTH)


def _remove(text: str, chars: str) -> str:
    """Drop whitespace and any of ``chars`` (the separators people type)."""
    return "".join(c for c in text if not c.isspace() and c not in chars)


# --- resident ID number (GB 11643-1999) -------------------------------------

# Province-level codes (GB/T 2260) that occur as the first two digits of
# 18-digit numbers. 81/82/83 are the address codes 810000/820000/830000 of
# the Hong Kong / Macau / Taiwan residents' residence permits (港澳台居民居住证,
# issued since 2018-09), which share the format and check digit and are
# collected in the same field. 71 (Taiwan Province) is a GB/T 2260 code but
# no number is issued with it -- Taiwan residents get 83 -- so it is rejected.
# No province code has been retired since 18-digit numbers began (1999);
# Chongqing 50 (1997) and Hainan 46 (1988) are newer, and numbers issued
# before under 51/44 stay valid because 51/44 still exist.
PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 81 82 83".split()
)

# The oldest living people were born after this date; earlier is a typo.
EARLIEST_BIRTH_DATE = _dt.date(1900, 1, 1)

_RID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7,9,10,5,8,4,...
_RID_CHECK = "10X98765432"  # index = weighted sum mod 11
_RID_FORMAT = re.compile(r"[0-9]{17}[0-9X]")


def resident_id_check_digit(body: str) -> str:
    """Return the check character for the first 17 digits of a resident ID.

    Rule (GB 11643-1999, ISO 7064 MOD 11-2): weight digit i (0-based) by
    2**(17-i) mod 11, sum, take the sum mod 11 and map 0..10 to
    '1','0','X','9','8','7','6','5','4','3','2'.
    """
    total = sum(int(d) * w for d, w in zip(body[:17], _RID_WEIGHTS))
    return _RID_CHECK[total % 11]


def _rid_length_error(number: str) -> IdentifierError:
    if len(number) == 15 and number.isascii() and number.isdigit():
        # First-generation cards stopped being valid on 2013-01-01.
        return IdentifierError(
            "length",
            "这是15位旧身份证号码，已停止使用，请输入现行的18位身份证号码",
            "This is an old 15-digit ID number, no longer valid; "
            "enter the current 18-character number.",
        )
    return IdentifierError(
        "length",
        f"身份证号码应为18位，您输入了{len(number)}位，请核对后重新输入",
        f"A resident ID number has 18 characters; you entered {len(number)}. "
        "Check it and enter it again.",
    )


def _rid_birth_date(number: str) -> _dt.date:
    """Parse characters 7-14 (YYYYMMDD) or raise 'birth_date_invalid'."""
    try:
        return _dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdentifierError(
            "birth_date_invalid",
            "身份证号码第7至14位的出生日期不是有效日期，请核对后重新输入",
            "Characters 7-14 of the ID number are not a real date of birth. "
            "Check them and enter the number again.",
        ) from None


def _check_birth_range(born: _dt.date, today: _dt.date) -> None:
    if born < EARLIEST_BIRTH_DATE:
        raise IdentifierError(
            "birth_date_too_old",
            "身份证号码中的出生日期早于1900年1月1日，请核对第7至14位后重新输入",
            "The date of birth in the ID number is before 1900-01-01. "
            "Check characters 7-14 and enter the number again.",
        )
    if born > today:
        raise IdentifierError(
            "birth_date_future",
            "身份证号码中的出生日期晚于今天，请核对第7至14位后重新输入",
            "The date of birth in the ID number is after today. "
            "Check characters 7-14 and enter the number again.",
        )


def _as_date(today) -> _dt.date:
    if today is None:
        return _dt.date.today()
    if isinstance(today, _dt.datetime):  # datetime < date comparisons fail
        return today.date()
    return today


def validate_resident_id(value, today: _dt.date | None = None) -> str:
    """Validate a resident ID number (居民身份证号码) and return it normalised.

    Normalising removes whitespace, folds full-width characters to ASCII and
    upper-cases a trailing x. The number is valid when, in this order:

    1. it has exactly 18 characters ('length'; a 15-digit old number gets
       its own message);
    2. the first 17 are digits and the last is a digit or X ('format');
    3. the first two digits are a province-level code in ``PROVINCE_CODES``
       ('region'). The six-digit county code is NOT looked up: counties are
       renamed and merged but numbers are never reissued;
    4. characters 7-14 are a real calendar date ('birth_date_invalid'),
       on or after 1900-01-01 ('birth_date_too_old') and not after
       ``today`` ('birth_date_future'; ``today`` defaults to the local date);
    5. the check character matches ISO 7064 MOD 11-2 ('checksum').
    """
    number = _remove(_text(value), "").upper()
    if not number:
        raise IdentifierError("empty", "请输入身份证号码", "Enter the resident ID number.")
    if len(number) != 18:
        raise _rid_length_error(number)
    if not _RID_FORMAT.fullmatch(number):
        raise IdentifierError(
            "format",
            "身份证号码前17位应为数字，最后一位为数字或X，请核对后重新输入",
            "The first 17 characters must be digits and the last a digit or X. "
            "Check the number and enter it again.",
        )
    if number[:2] not in PROVINCE_CODES:
        raise IdentifierError(
            "region",
            "身份证号码前两位（省级地区代码）不正确，请核对后重新输入",
            "The first two digits (province code) of the ID number are wrong. "
            "Check them and enter the number again.",
        )
    _check_birth_range(_rid_birth_date(number), _as_date(today))
    if number[17] != resident_id_check_digit(number):
        raise IdentifierError(
            "checksum",
            "身份证号码校验位不正确，请逐位核对后重新输入",
            "The check digit does not match. Compare the number with the card "
            "digit by digit and enter it again.",
        )
    return number


def resident_id_birth_date(number) -> _dt.date:
    """Return the date of birth encoded in characters 7-14 of a resident ID.

    The number is validated first (see :func:`validate_resident_id`), so an
    invalid number raises :class:`IdentifierError` rather than returning a
    date that means nothing.
    """
    return _rid_birth_date(validate_resident_id(number))


def resident_id_sex(number) -> int:
    """Return the GB/T 2261.1 sex code encoded in a resident ID.

    Rule (GB 11643-1999): the 17th character, the last of the sequence code,
    is odd for men (code 1) and even for women (code 2). The number is
    validated first.
    """
    return 1 if int(validate_resident_id(number)[16]) % 2 else 2


# --- unified social credit code (GB 32100-2015) -----------------------------

# Registration authority (character 1) -> (authority, {category (character 2):
# category name}). Source: GB 32100-2015 table as extended by the national
# standardisation committee's later allocations (2 外交 ... 8 工会, A, N).
# 5-2 民办非企业单位 has been called 社会服务机构 since the 2016 Charity Law.
USCC_CATEGORIES: dict[str, tuple[str, dict[str, str]]] = {
    "1": ("机构编制", {"1": "机关", "2": "事业单位",
                       "3": "中央编办直接管理机构编制的群众团体", "9": "其他"}),
    "2": ("外交", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": ("司法行政", {"1": "律师执业机构", "2": "公证处", "3": "基层法律服务所",
                       "4": "司法鉴定机构", "5": "仲裁委员会", "9": "其他"}),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": ("旅游", {"1": "外国旅游部门常驻代表机构",
                   "2": "港澳台地区旅游部门常驻内地（大陆）代表机构", "9": "其他"}),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": ("农业", {"1": "组级集体经济组织", "2": "村级集体经济组织",
                   "3": "乡镇级集体经济组织", "9": "其他"}),
    "Y": ("其他", {"1": "不再具体划分机构类别"}),
}

# GB 32100 code alphabet: digits and capitals without I, O, Z, S, V (they
# are confused with 1, 0, 2, 5, U); a character's value is its index.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1,3,9,27,19,26,...


def uscc_check_char(body: str) -> str:
    """Return the check character for the first 17 characters of a USCC.

    Rule (GB 32100-2015, after GB/T 17710 / ISO 7064 MOD 31): weight
    character i (0-based) by 3**i mod 31, sum the value*weight, and the check
    value is (31 - sum mod 31) mod 31, written in ``USCC_ALPHABET``.
    """
    total = sum(_USCC_VALUES[c] * w for c, w in zip(body[:17], _USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def _check_uscc_prefix(code: str) -> None:
    """Characters 1-2 must be a known authority/category pair."""
    entry = USCC_CATEGORIES.get(code[0])
    if entry is None:
        raise IdentifierError(
            "authority",
            "统一社会信用代码第1位（登记管理部门代码）不正确，请对照证照核对后重新输入",
            "Character 1 (registration authority) of the credit code is not a "
            "valid authority. Compare it with the licence and enter it again.",
        )
    if code[1] not in entry[1]:
        raise IdentifierError(
            "category",
            "统一社会信用代码第2位（机构类别代码）与第1位不匹配，请对照证照核对后重新输入",
            "Character 2 (organisation category) does not belong to the "
            "authority in character 1. Compare with the licence and enter it again.",
        )


def validate_uscc(value) -> str:
    """Validate a unified social credit code (统一社会信用代码) and return it
    normalised (whitespace and hyphens removed, full-width folded, upper-case).

    Valid when, in this order (GB 32100-2015):

    1. 18 characters ('length');
    2. every character is in ``USCC_ALPHABET`` -- digits and A-Z except
       I, O, Z, S, V ('format');
    3. character 1 is a registration authority and character 2 one of its
       organisation categories, per ``USCC_CATEGORIES`` ('authority',
       'category');
    4. characters 3-8, the registering authority's GB/T 2260 division code,
       are digits ('division'). They are not looked up: central registrations
       use 100000 and divisions change;
    5. character 18 equals :func:`uscc_check_char` ('checksum').

    Characters 9-17 (the GB 11714 organisation code) are not checked against
    GB 11714's own check digit: the final check character already catches any
    single wrong character, and a rule we cannot verify for every authority's
    numbering must not turn away a real organisation.
    """
    code = _remove(_text(value), "-").upper()
    if not code:
        raise IdentifierError("empty", "请输入统一社会信用代码",
                              "Enter the unified social credit code.")
    if len(code) != 18:
        raise IdentifierError(
            "length",
            f"统一社会信用代码应为18位，您输入了{len(code)}位，请对照营业执照或登记证书核对后重新输入",
            f"A unified social credit code has 18 characters; you entered "
            f"{len(code)}. Compare it with the licence and enter it again.",
        )
    if any(c not in _USCC_VALUES for c in code):
        raise IdentifierError(
            "format",
            "统一社会信用代码只能包含数字和大写字母（不含I、O、Z、S、V），请对照证照核对后重新输入",
            "The code may contain only digits and capital letters other than "
            "I, O, Z, S, V. Compare it with the licence and enter it again.",
        )
    _check_uscc_prefix(code)
    if not code[2:8].isdigit():
        raise IdentifierError(
            "division",
            "统一社会信用代码第3至8位（行政区划码）应为数字，请对照证照核对后重新输入",
            "Characters 3-8 (division code) must be digits. "
            "Compare them with the licence and enter the code again.",
        )
    if code[17] != uscc_check_char(code):
        raise IdentifierError(
            "checksum",
            "统一社会信用代码校验位不正确，请对照证照逐位核对后重新输入",
            "The check character does not match. Compare the code with the "
            "licence character by character and enter it again.",
        )
    return code


# --- mainland mobile numbers -----------------------------------------------

_MOBILE = re.compile(r"1[3-9][0-9]{9}")


def _strip_country_code(number: str) -> str:
    """Remove a leading +86 / 0086, or 86 when 13 digits are typed."""
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            return number[len(prefix):]
    if len(number) == 13 and number.startswith("86"):
        return number[2:]
    return number


def validate_mobile(value) -> str:
    """Validate a mainland China mobile number and return its 11 digits.

    Accepted input: optional country code +86, 0086 or 86, with spaces and
    hyphens anywhere (full-width characters are folded to ASCII).
    Rule: 11 digits matching ``1[3-9]`` followed by 9 digits, i.e. the
    segments 13x-19x, including 14x data, 16x, 17x and 19x segments.
    Errors: 'empty', 'format' (other characters), 'length', 'segment'
    (does not start with 13-19, e.g. 12x or a landline).
    """
    number = _strip_country_code(_remove(_text(value), "-"))
    if not number:
        raise IdentifierError("empty", "请输入手机号码", "Enter the mobile number.")
    if not (number.isascii() and number.isdigit()):
        raise IdentifierError(
            "format",
            "手机号码只能包含数字（可带+86前缀、空格或连字符），请核对后重新输入",
            "A mobile number may contain only digits, optionally with +86, "
            "spaces or hyphens. Check it and enter it again.",
        )
    if len(number) != 11:
        raise IdentifierError(
            "length",
            f"手机号码应为11位数字，您输入了{len(number)}位，请核对后重新输入",
            f"A mobile number has 11 digits; you entered {len(number)}. "
            "Check it and enter it again.",
        )
    if not _MOBILE.fullmatch(number):
        raise IdentifierError(
            "segment",
            "手机号码应以13至19开头，请核对是否输错或误填了固定电话号码",
            "A mobile number starts with 13 to 19. Check for a typo or a "
            "landline number entered by mistake.",
        )
    return number


# --- passport and other document numbers -----------------------------------

_DOCUMENT = re.compile(r"[A-Z0-9]+")


def validate_passport(value) -> str:
    """Check that a passport or other document number is plausible and return
    it normalised (whitespace and hyphens removed, full-width folded,
    upper-case).

    Plausibility only -- documents from other countries follow no common
    rule, so no check digit is verified. Rule: 5-20 characters, each A-Z or
    0-9. Errors: 'empty', 'format', 'length'.
    """
    number = _remove(_text(value), "-").upper()
    if not number:
        raise IdentifierError("empty", "请输入证件号码", "Enter the document number.")
    if not (number.isascii() and _DOCUMENT.fullmatch(number)):
        raise IdentifierError(
            "format",
            "证件号码只能包含英文字母和数字，请对照证件核对后重新输入",
            "A document number may contain only letters and digits. "
            "Compare it with the document and enter it again.",
        )
    if not 5 <= len(number) <= 20:
        raise IdentifierError(
            "length",
            f"证件号码应为5至20位，您输入了{len(number)}位，请对照证件核对后重新输入",
            f"A document number has 5 to 20 characters; you entered "
            f"{len(number)}. Compare it with the document and enter it again.",
        )
    return number


# --- masking for display ---------------------------------------------------

def _mask_middle(text: str, keep_head: int, keep_tail: int) -> str:
    hidden = len(text) - keep_head - keep_tail
    return text[:keep_head] + "*" * hidden + text[len(text) - keep_tail:]


def mask_id(number) -> str:
    """Mask an identity/document number for display (the data is confidential).

    Rule: numbers of 15 or more characters (resident IDs, credit codes) keep
    the first 6 (the region) and the last 4, e.g. 110105********002X;
    5-14 characters keep the first 2 and last 2; 4 or fewer are fully
    masked, since keeping 2+2 would show everything. Whitespace is removed;
    the masked string has one '*' per hidden character. None gives ''.
    """
    text = _remove(_text(number), "")
    if len(text) >= 15:
        return _mask_middle(text, 6, 4)
    if len(text) >= 5:
        return _mask_middle(text, 2, 2)
    return "*" * len(text)


def mask_phone(number) -> str:
    """Mask a phone number for display.

    Rule: a valid mainland mobile (any accepted input form) is shown as its
    11 digits with the middle four hidden, e.g. 138****5678. Anything else is
    masked like a short document number by :func:`mask_id`, so a mistyped
    number is never shown in full. None gives ''.
    """
    try:
        return _mask_middle(validate_mobile(number), 3, 4)
    except IdentifierError:
        return mask_id(number)
