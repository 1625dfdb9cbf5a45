"""rules.search: how a typed query is classified, and the helpers name search relies on."""
from __future__ import annotations

import pytest

from fieldapp.rules.doorcode import check_character
from fieldapp.rules.identifiers import resident_id_check_digit, uscc_check_char, validate_resident_id
from fieldapp.rules.search import (classify, escape_like, looks_like_name, name_prefixes, prefix_upper_bound,
                                   upgrade_old_resident_id)

RID_BODY = "11010519850312001"
RID = RID_BODY + resident_id_check_digit(RID_BODY)
USCC_BODY = "91310115MA1H7XYK0"
USCC = USCC_BODY + uscc_check_char(USCC_BODY)
DOOR = "K7M3Q9P" + check_character("K7M3Q9P")


@pytest.mark.parametrize("typed", [RID, RID.lower(), f" {RID[:6]} {RID[6:14]} {RID[14:]} ",
                                   RID.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})])
def test_a_resident_id_in_any_typed_form_is_one_exact_number(typed):
    found = classify(typed)
    assert (found.kinds, found.values, found.note) == (("id_number",), {"id_number": (RID,)}, None)


def test_a_resident_id_with_a_wrong_check_digit_is_still_looked_up_and_flagged():
    wrong = RID_BODY + ("0" if RID[-1] != "0" else "1")
    found = classify(wrong)
    assert found.kinds == ("id_number",) and found.values["id_number"] == (wrong,)
    assert found.note == "rid_checksum"


def test_an_old_15_digit_number_is_upgraded_and_both_forms_looked_up():
    old = "110105850312001"
    new = upgrade_old_resident_id(old)
    assert new[:6] + new[8:17] == old and new[6:8] == "19"
    assert validate_resident_id(new) == new  # the check digit is the GB 11643 one
    found = classify(old)
    assert found.kinds == ("id_number",) and found.values["id_number"] == (new, old)
    assert found.note == "old_rid"
    with pytest.raises(ValueError):
        upgrade_old_resident_id("11010585031200")


def test_credit_codes_with_letters_and_all_digit_ones_that_fail_the_id_check():
    assert classify(USCC).values == {"credit_code": (USCC,)} and classify(USCC).note is None
    assert classify(USCC.lower()).kinds == ("credit_code",)
    # An all-digit credit code: fails GB 11643 (or is not a date) but passes GB 32100.
    body = "11100000000000001"
    digits = body + uscc_check_char(body)
    if digits.isdigit():
        assert classify(digits).kinds == ("credit_code",)
    bad = USCC_BODY + ("0" if USCC[-1] != "0" else "1")
    assert classify(bad).kinds == ("credit_code",) and classify(bad).note == "uscc_checksum"


@pytest.mark.parametrize("typed", ["13812345678", "+86 138 1234 5678", "0086-138-1234-5678", "８６13812345678",
                                   "138-1234-5678"])
def test_mobile_numbers_are_normalised_to_eleven_digits(typed):
    found = classify(typed)
    assert found.kinds == ("phone",) and found.values["phone"] == ("13812345678",)


def test_landlines_are_looked_up_with_and_without_the_hyphen():
    assert classify("0571-88881234").values["phone"] == ("057188881234", "0571-88881234")
    assert classify("010 12345678").values["phone"] == ("01012345678", "010-12345678")


def test_door_codes_with_their_check_character_and_as_read_aloud():
    found = classify(DOOR[:4].lower() + "-" + DOOR[4:])
    assert found.kinds[0] == "door_code" and found.values["door_code"] == (DOOR,)
    # Door codes have letters and digits: such a string may be a passport number as well.
    assert found.kinds == ("door_code", "document")


def test_passports_and_permits_are_exact_document_numbers():
    assert classify("e1234567 8").values == {"document": ("E12345678",)}
    assert classify("H1234567890").kinds == ("document",)


@pytest.mark.parametrize("typed", ["张伟", "伟", "阿卜杜·艾力", "John Smith", "3组27号", "玉屏路5号", "1234", "27"])
def test_everything_else_is_text(typed):
    found = classify(typed)
    assert found.kinds == ("text",) and found.text == typed and found.values == {}


def test_text_is_trimmed_folded_and_bounded():
    assert classify("  张　伟  ").text == "张 伟"
    assert len(classify("张" * 200).text) == 64
    assert classify("   ").kinds == ("empty",)
    assert classify(None).kinds == ("empty",)


def test_names_are_ideographs_letters_and_middle_dots_never_addresses():
    assert looks_like_name("张伟") and looks_like_name("阿卜杜·艾力") and looks_like_name("John")
    assert not looks_like_name("3组27号") and not looks_like_name("玉屏路5号") and not looks_like_name("J")
    assert not looks_like_name("")


def test_prefix_upper_bound_brackets_exactly_the_names_with_the_prefix():
    names = ["张", "张伟", "张伟明", "张伟伟", "张佳", "张伟\U0010fffd", "弢", "李伟"]
    bound = prefix_upper_bound("张伟")
    assert sorted(n for n in names if "张伟" <= n < bound) == sorted(n for n in names if n.startswith("张伟"))
    with pytest.raises(ValueError):
        prefix_upper_bound("")


def test_escape_like_escapes_wildcards_and_the_escape_character():
    assert escape_like("50%_\\") == "50\\%\\_\\\\"


def test_latin_names_are_looked_for_as_typed_in_capitals_and_in_title_case():
    assert name_prefixes("张伟") == ("张伟",)
    assert name_prefixes("john sm") == ("john sm", "JOHN SM", "John Sm")
    assert name_prefixes("JOHN") == ("JOHN", "John")
