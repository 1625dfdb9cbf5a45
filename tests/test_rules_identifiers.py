"""Identifier rules: resident ID, unified social credit code, mobile,
passport, masking. Check characters are recomputed here by independent,
deliberately plain implementations (literal weight tables)."""

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc

from fieldapp.rules.identifiers import (
    PROVINCE_CODES,
    USCC_ALPHABET,
    USCC_CATEGORIES,
    IdentifierError,
    mask_id,
    mask_phone,
    resident_id_birth_date,
    resident_id_check_digit,
    resident_id_sex,
    uscc_check_char,
    validate_mobile,
    validate_passport,
    validate_resident_id,
    validate_uscc,
)

TODAY = date(2016, 5, 1)  # fixed: results must not depend on the test date
NO_DB = settings(database=None)  # hypothesis must not write .hypothesis/


# --- independent reference implementations --------------------------------

RID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
RID_CHECK = ["1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2"]


def rid(body: str) -> str:
    """17-digit body + MOD 11-2 check character."""
    assert len(body) == 17
    total = 0
    for digit, weight in zip(body, RID_WEIGHTS):
        total += int(digit) * weight
    return body + RID_CHECK[total % 11]


USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def uscc(body: str) -> str:
    """17-character body + GB 32100 check character."""
    assert len(body) == 17
    total = 0
    for char, weight in zip(body, USCC_WEIGHTS):
        total += USCC_CHARS.index(char) * weight
    return body + USCC_CHARS[(31 - total % 31) % 31]


def error_code(func, *args, **kwargs) -> str:
    with pytest.raises(IdentifierError) as info:
        func(*args, **kwargs)
    return info.value.code


# --- resident ID: valid numbers ------------------------------------------

# Published samples: GB 11643-1999's own example, and python-stdnum's.
PUBLISHED_IDS = ["11010519491231002X", "360426199101010071"]


@pytest.mark.parametrize("number", PUBLISHED_IDS)
def test_published_resident_ids_are_valid(number):
    assert validate_resident_id(number, today=TODAY) == number


def test_reference_implementation_agrees_with_published_samples():
    for number in PUBLISHED_IDS:
        assert rid(number[:17]) == number


@pytest.mark.parametrize("body", [
    "31011519800101001",  # Pudong, created 1992, resident born 1980
    "11010319900101001",  # Chongwen district, merged into Dongcheng 2010
    "31023020150601002",  # Chongming county, became a district 2016
    "11019919800101001",  # county code absent from any table
    "81000019900101001",  # Hong Kong residence permit
    "82000019900101001",  # Macau residence permit
    "83000019900101001",  # Taiwan residence permit
    "46000019880101001",  # Hainan
    "50010219970701001",  # Chongqing
])
def test_county_codes_are_not_looked_up(body):
    number = rid(body)
    assert validate_resident_id(number, today=TODAY) == number


def test_lower_case_x_is_normalised():
    assert validate_resident_id("11010519491231002x", today=TODAY) == "11010519491231002X"


def test_whitespace_and_full_width_are_normalised():
    assert validate_resident_id(" 110105 19491231 002X\t", today=TODAY) == "11010519491231002X"
    assert validate_resident_id("１１０１０５１９４９１２３１００２ｘ", today=TODAY) == "11010519491231002X"


def test_leap_day_2000_is_valid():
    number = rid("11010520000229003")
    assert validate_resident_id(number, today=TODAY) == number
    assert resident_id_birth_date(number) == date(2000, 2, 29)


def test_earliest_birth_date_is_accepted():
    number = rid("11010519000101001")
    assert validate_resident_id(number, today=TODAY) == number


def test_born_today_is_accepted():
    number = rid("310115" + TODAY.strftime("%Y%m%d") + "001")
    assert validate_resident_id(number, today=TODAY) == number


def test_today_may_be_a_datetime():
    number = rid("310115" + TODAY.strftime("%Y%m%d") + "001")
    assert validate_resident_id(number, today=datetime(2016, 5, 1, 23, 59)) == number


def test_today_defaults_to_the_current_date():
    assert validate_resident_id("11010519491231002X") == "11010519491231002X"
    tomorrow = date.today() + timedelta(days=1)
    assert error_code(validate_resident_id, rid("310115" + tomorrow.strftime("%Y%m%d") + "001")) \
        == "birth_date_future"


def test_int_input_is_accepted():
    assert validate_resident_id(360426199101010071, today=TODAY) == "360426199101010071"


# --- resident ID: each failure code ----------------------------------------

@pytest.mark.parametrize("value", [None, "", "   "])
def test_empty(value):
    assert error_code(validate_resident_id, value, today=TODAY) == "empty"


@pytest.mark.parametrize("value", ["11010519491231002", "11010519491231002X1", "1"])
def test_length(value):
    assert error_code(validate_resident_id, value, today=TODAY) == "length"


def test_old_15_digit_number_gets_its_own_message():
    with pytest.raises(IdentifierError) as info:
        validate_resident_id("110105491231002", today=TODAY)
    assert info.value.code == "length"
    assert "15位" in info.value.message_zh and "18位" in info.value.message_zh


@pytest.mark.parametrize("value", [
    "1101051949123100XX",  # X before the last position
    "11010519491231A02X",  # letter in the body
    "11010519491231002Y",  # last character neither digit nor X
    "11010519491231002-",
])
def test_format(value):
    assert error_code(validate_resident_id, value, today=TODAY) == "format"


def test_non_ascii_digits_are_a_format_error():
    # str.isdigit() is true for Arabic-Indic digits; they are still not digits here.
    assert error_code(validate_resident_id, "١" * 18, today=TODAY) == "format"


@pytest.mark.parametrize("province", ["00", "10", "16", "20", "24", "30", "38", "40",
                                      "47", "55", "60", "66", "71", "80", "84", "91", "99"])
def test_region(province):
    number = rid(province + "010519800101001")
    assert error_code(validate_resident_id, number, today=TODAY) == "region"


@pytest.mark.parametrize("birth", ["19000229", "20230230", "19801301", "19800100",
                                   "19800132", "00000000", "19810229"])
def test_birth_date_invalid(birth):
    number = rid("110105" + birth + "001")
    assert error_code(validate_resident_id, number, today=TODAY) == "birth_date_invalid"


@pytest.mark.parametrize("birth", ["18991231", "18800101", "10000101"])
def test_birth_date_too_old(birth):
    number = rid("110105" + birth + "001")
    assert error_code(validate_resident_id, number, today=TODAY) == "birth_date_too_old"


def test_gb11643_sample_born_1880_is_too_old():
    # GB 11643's second example has a correct check digit but an 1880 birth.
    assert rid("44052418800101001") == "440524188001010014"
    assert error_code(validate_resident_id, "440524188001010014", today=TODAY) \
        == "birth_date_too_old"


@pytest.mark.parametrize("birth", ["20160502", "20170101", "21000101"])
def test_birth_date_future(birth):
    number = rid("110105" + birth + "001")
    assert error_code(validate_resident_id, number, today=TODAY) == "birth_date_future"


def test_future_is_relative_to_today_argument():
    number = rid("11010520160502001")
    assert error_code(validate_resident_id, number, today=TODAY) == "birth_date_future"
    assert validate_resident_id(number, today=date(2016, 5, 2)) == number


def test_checksum():
    assert error_code(validate_resident_id, "110105194912310021", today=TODAY) == "checksum"
    assert error_code(validate_resident_id, "11010519491231002X".replace("X", "0"),
                      today=TODAY) == "checksum"


def test_non_string_input_is_a_type_error():
    with pytest.raises(TypeError):
        validate_resident_id(3.5, today=TODAY)


# --- resident ID: derived fields -----------------------------------------

def test_birth_date_and_sex():
    assert resident_id_birth_date("11010519491231002X") == date(1949, 12, 31)
    assert resident_id_sex("11010519491231002X") == 2  # 17th digit 2: female
    assert resident_id_sex("360426199101010071") == 1  # 17th digit 7: male


def test_derived_fields_validate_first():
    with pytest.raises(IdentifierError):
        resident_id_birth_date("110105194912310021")
    with pytest.raises(IdentifierError):
        resident_id_sex("110105194912310021")


@pytest.mark.parametrize("digit,sex", [(str(d), 1 if d % 2 else 2) for d in range(10)])
def test_sex_follows_parity_of_17th_digit(digit, sex):
    assert resident_id_sex(rid("3101151980010100" + digit)) == sex


# --- resident ID: properties ---------------------------------------------

@st.composite
def id_bodies(draw):
    province = draw(st.sampled_from(sorted(PROVINCE_CODES)))
    county = draw(st.text("0123456789", min_size=4, max_size=4))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    sequence = draw(st.text("0123456789", min_size=3, max_size=3))
    return province + county + born.strftime("%Y%m%d") + sequence


@NO_DB
@given(id_bodies())
def test_any_valid_body_with_its_check_digit_validates(body):
    number = rid(body)
    assert validate_resident_id(number, today=TODAY) == number
    assert validate_resident_id(number.lower(), today=TODAY) == number
    assert resident_id_check_digit(body) == number[-1]
    assert stdnum_ric.calc_check_digit(number) == number[-1]  # cross-check


@NO_DB
@given(id_bodies(), st.integers(0, 17), st.sampled_from("0123456789X"))
def test_changing_any_one_character_is_detected(body, position, replacement):
    number = rid(body)
    if replacement == number[position]:
        replacement = "0" if number[position] != "0" else "1"
    changed = number[:position] + replacement + number[position + 1:]
    with pytest.raises(IdentifierError):
        validate_resident_id(changed, today=TODAY)


@NO_DB
@given(id_bodies(), st.integers(0, 15))
def test_swapping_adjacent_different_digits_is_detected(body, position):
    number = rid(body)
    a, b = number[position], number[position + 1]
    if a == b:
        return
    swapped = number[:position] + b + a + number[position + 2:]
    with pytest.raises(IdentifierError):
        validate_resident_id(swapped, today=TODAY)


# --- unified social credit code --------------------------------------------

# Codes as printed on licences (check characters verified below).
PUBLISHED_USCC = [
    "91110000600037341L",
    "9144030071526726XG",
    "914403001922038216",
    "91330100799655058B",
]


@pytest.mark.parametrize("code", PUBLISHED_USCC)
def test_published_uscc_are_valid(code):
    assert uscc(code[:17]) == code
    assert validate_uscc(code) == code
    assert stdnum_uscc.is_valid(code)


def test_uscc_normalisation():
    assert validate_uscc(" 9144-0300-7152-6726xg ") == "9144030071526726XG"
    assert validate_uscc("９１１１００００６０００３７３４１ｌ") == "91110000600037341L"


# Every authority/category pair of GB 32100 (with later allocations), as
# listed independently here so a change to the module's table is noticed.
EXPECTED_PREFIXES = {
    "11", "12", "13", "19",
    "21", "29",
    "31", "32", "33", "34", "35", "39",
    "41", "49",
    "51", "52", "53", "59",
    "61", "62", "69",
    "71", "72", "79",
    "81", "89",
    "91", "92", "93",
    "A1", "A9",
    "N1", "N2", "N3", "N9",
    "Y1",
}


def test_prefix_table_is_the_standard_one():
    table = {a + c for a, (_, cats) in USCC_CATEGORIES.items() for c in cats}
    assert table == EXPECTED_PREFIXES
    for name_zh, categories in USCC_CATEGORIES.values():
        assert name_zh and all(categories.values())
    assert USCC_CATEGORIES["N"][1]["2"] == "村级集体经济组织"


def make_uscc(prefix: str, division: str = "310115", org: str = "MA1K4B2D1") -> str:
    return uscc(prefix + division + org)


@pytest.mark.parametrize("prefix", sorted(EXPECTED_PREFIXES))
def test_every_prefix_is_accepted(prefix):
    code = make_uscc(prefix)
    assert validate_uscc(code) == code
    assert uscc_check_char(code) == code[-1]


@pytest.mark.parametrize("code", [
    make_uscc("N1", "440305", "597731586"),
    make_uscc("N2", "310115", "MA1K0000X"),
    make_uscc("N3", "330110", "07312345B"),
    make_uscc("N9", "510107", "MA6C12340"),
])
def test_rural_collective_codes_are_accepted(code):
    assert validate_uscc(code) == code
    # stdnum computes the same check character but rejects the N prefix.
    assert stdnum_uscc.calc_check_digit(code) == code[-1]


@pytest.mark.parametrize("prefix", ["11", "52", "92", "93"])
def test_digit_prefixed_examples_agree_with_stdnum(prefix):
    code = make_uscc(prefix, "110108", "551385082")
    assert validate_uscc(code) == code
    assert stdnum_uscc.validate(code) == code


@pytest.mark.parametrize("prefix", ["01", "B1", "C1", "G1", "H1", "M1", "P1", "X1"])
def test_unknown_authority(prefix):
    assert error_code(validate_uscc, make_uscc(prefix)) == "authority"


@pytest.mark.parametrize("prefix", ["10", "14", "22", "36", "42", "54", "63", "73",
                                    "82", "94", "99", "A2", "N4", "N0", "Y2", "Y9"])
def test_category_not_of_authority(prefix):
    assert error_code(validate_uscc, make_uscc(prefix)) == "category"


@pytest.mark.parametrize("division", ["31011A", "A10000", "3101K5"])
def test_division_must_be_digits(division):
    assert error_code(validate_uscc, make_uscc("91", division)) == "division"


@pytest.mark.parametrize("bad", ["I", "O", "Z", "S", "V", "*", "中"])
def test_excluded_characters_are_a_format_error(bad):
    code = "9144030071526726XG"
    assert error_code(validate_uscc, code[:10] + bad + code[11:]) == "format"


@pytest.mark.parametrize("value", ["9144030071526726X", "9144030071526726XGG", "91"])
def test_uscc_length(value):
    assert error_code(validate_uscc, value) == "length"


@pytest.mark.parametrize("value", [None, "", " - "])
def test_uscc_empty(value):
    assert error_code(validate_uscc, value) == "empty"


def test_bad_check_character():
    assert error_code(validate_uscc, "9144030071526726XH") == "checksum"
    assert error_code(validate_uscc, "914403001922038217") == "checksum"


@pytest.mark.parametrize("code", PUBLISHED_USCC + [make_uscc("N2"), make_uscc("Y1")])
def test_every_single_character_substitution_is_detected(code):
    for position in range(18):
        for char in USCC_ALPHABET + "IOZSV":
            if char == code[position]:
                continue
            changed = code[:position] + char + code[position + 1:]
            with pytest.raises(IdentifierError):
                validate_uscc(changed)


@NO_DB
@given(st.text(USCC_ALPHABET, min_size=17, max_size=17))
def test_check_char_agrees_with_reference_and_stdnum(body):
    assert uscc_check_char(body) == uscc(body)[-1]
    assert stdnum_uscc.calc_check_digit(body) == uscc(body)[-1]


# --- mobile numbers ----------------------------------------------------------

@pytest.mark.parametrize("segment", [f"1{a}{b}" for a in range(3, 10) for b in range(10)])
def test_every_segment_13_to_19_is_accepted(segment):
    number = segment + "12345678"
    assert validate_mobile(number) == number


@pytest.mark.parametrize("number", ["19912345678", "16612345678", "17012345678",
                                    "14512345678", "19212345678", "14912345678"])
def test_newer_segments(number):
    assert validate_mobile(number) == number


@pytest.mark.parametrize("number", ["12012345678", "12912345678", "10012345678",
                                    "11012345678", "02112345678", "20012345678"])
def test_segments_outside_13_to_19_are_rejected(number):
    assert error_code(validate_mobile, number) == "segment"


@pytest.mark.parametrize("value", [
    "+8613812345678", "+86 138 1234 5678", "+86-138-1234-5678", "0086 13812345678",
    "008613812345678", "8613812345678", "86 138 1234 5678", "138-1234-5678",
    " 138 1234 5678 ", "＋８６　１３８１２３４５６７８", 13812345678,
])
def test_prefixes_and_separators_are_stripped(value):
    assert validate_mobile(value) == "13812345678"


@pytest.mark.parametrize("value", ["1381234567", "138123456789", "+86138123456", "86138123456"])
def test_mobile_length(value):
    code = error_code(validate_mobile, value)
    # 86138123456 is 11 digits without a recognised prefix: wrong segment.
    assert code == ("segment" if value == "86138123456" else "length")


@pytest.mark.parametrize("value", ["138l2345678", "+1 415 555 0100", "(138)12345678",
                                   "138.1234.5678", "+86+13812345678"])
def test_mobile_format(value):
    assert error_code(validate_mobile, value) == "format"


@pytest.mark.parametrize("value", [None, "", " - ", "+86"])
def test_mobile_empty(value):
    assert error_code(validate_mobile, value) == "empty"


# --- passports and other document numbers ------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("E12345678", "E12345678"),
    ("e1234 5678", "E12345678"),
    ("C-1234-5678", "C12345678"),
    ("AB123", "AB123"),
    ("A" * 20, "A" * 20),
    ("ｐ１２３４５６７", "P1234567"),
])
def test_passport_valid(value, expected):
    assert validate_passport(value) == expected


@pytest.mark.parametrize("value,code", [
    (None, "empty"), ("", "empty"), ("  ", "empty"),
    ("AB12", "length"), ("A" * 21, "length"),
    ("E1234567#", "format"), ("护照12345", "format"), ("E1234.5678", "format"),
])
def test_passport_invalid(value, code):
    assert error_code(validate_passport, value) == code


# --- masking -----------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("11010519491231002X", "110105********002X"),
    ("110105 19491231 002X", "110105********002X"),
    ("110105491231002", "110105*****1002"),
    ("9144030071526726XG", "914403********26XG"),
    ("E12345678", "E1*****78"),
    ("AB123", "AB*23"),
    ("1234", "****"),
    ("", ""),
    (None, ""),
])
def test_mask_id(value, expected):
    assert mask_id(value) == expected


def test_mask_id_preserves_length_and_hides_the_middle():
    masked = mask_id("11010519491231002X")
    assert len(masked) == 18 and "19491231" not in masked


@pytest.mark.parametrize("value,expected", [
    ("13812345678", "138****5678"),
    ("+86 138-1234-5678", "138****5678"),
    ("8613812345678", "138****5678"),
    ("021-12345678", "02********78"),
    ("12345", "12*45"),
    (None, ""),
])
def test_mask_phone(value, expected):
    assert mask_phone(value) == expected


# --- the error type ------------------------------------------------------------

FAILING_CALLS = [
    (validate_resident_id, ""), (validate_resident_id, "123"),
    (validate_resident_id, "1101051949123100XX"), (validate_resident_id, rid("99010519800101001")),
    (validate_resident_id, rid("11010519000229001")), (validate_resident_id, rid("11010518991231001")),
    (validate_resident_id, rid("11010521000101001")), (validate_resident_id, "110105194912310021"),
    (validate_uscc, ""), (validate_uscc, "91"), (validate_uscc, "9144030071526726XO"),
    (validate_uscc, make_uscc("B1")), (validate_uscc, make_uscc("94")),
    (validate_uscc, make_uscc("91", "A10000")), (validate_uscc, "9144030071526726XH"),
    (validate_mobile, ""), (validate_mobile, "abc"), (validate_mobile, "138"),
    (validate_mobile, "12012345678"),
    (validate_passport, ""), (validate_passport, "#####"), (validate_passport, "AB1"),
]


@pytest.mark.parametrize("func,value", FAILING_CALLS)
def test_errors_carry_code_and_actionable_messages(func, value):
    with pytest.raises(IdentifierError) as info:
        func(value)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.code and error.code.isascii()
    assert "请" in error.message_zh  # every message says what to do
    assert error.message_en and str(error) == error.message_en
    assert error.message("zh") == error.message_zh
    assert error.message("en") == error.message_en


def test_every_resident_id_failure_code_is_reachable():
    codes = {error_code(validate_resident_id, value, today=TODAY)
             for func, value in FAILING_CALLS if func is validate_resident_id}
    assert codes == {"empty", "length", "format", "region", "birth_date_invalid",
                     "birth_date_too_old", "birth_date_future", "checksum"}


def test_checksum_message_tells_the_user_to_compare_digit_by_digit():
    with pytest.raises(IdentifierError) as info:
        validate_resident_id("110105194912310021", today=TODAY)
    assert info.value.message_zh == "身份证号码校验位不正确，请逐位核对后重新输入"
