"""Search: what a typed query is (a document number, a phone, a door code, a credit code, or text)
and how names are matched. Pure functions: no Flask, no database.

One search box serves the clerk's usual questions, so the query is classified, not chosen from a
menu. Rules, in this order (the first that fits wins; see classify()):

1. Full-width characters are folded to ASCII (Chinese input methods type them), spaces and hyphens
   between digits are dropped, a trailing x is upper-cased.
2. 18 characters, 17 digits and a digit or X: a resident ID number (居民身份证). If it fails the
   GB 11643 check but passes the GB 32100 one, it is a credit code instead (an all-digit credit code
   is possible). A resident ID with a wrong check digit is still looked up (it may have been
   registered before validation existed) and the answer says the check digit is wrong.
3. 15 digits starting with a province code: a first-generation resident ID (15位旧号码, born 19xx;
   0086 and a mobile number is 15 digits too, but starts 00). Household register booklets
   still carry them; it is converted to the 18-character number (region + 19 + YYMMDD + serial +
   check digit, the GB 11643 upgrade rule) and both forms are looked up.
4. 18 characters of the credit-code alphabet with a letter: a unified social credit code.
5. A mainland mobile number (11 digits, 1[3-9], optional +86/0086/86) or a landline written
   0xx(x)-xxxxxxx(x): a phone number, matched exactly.
6. 8 characters that pass the door-code check (rules.doorcode): a door code. Such a string may also
   be a passport number, so a document number is looked up too.
7. 5 to 20 letters and digits with at least one of each (passports, permits: E12345678,
   H1234567890): a document number, matched exactly.
8. Anything else is text: people's names, organisations' names and house addresses.

Document numbers match only in full. Searching by the last few digits is refused on purpose: a
clerk holding the card or the 户口簿 has the whole number, a tail of 4-6 digits names dozens of
people in a town (a way to browse the registry by guessing), and results show the masked number
(first 6, last 4) so a clerk can tell the right person from a list found by name.

Names match from their first character (张伟 finds 张伟 and 张伟明): that is how a clerk reads a
name off a form, and it can use an index at a million people. When nothing starts with the text and
it has at least two characters, names containing it are tried (伟明 finds 张伟明), which scans the
people in scope; the answer says so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .doorcode import is_valid_door_code, normalise_door_code
from .identifiers import (PROVINCE_CODES, USCC_ALPHABET, IdentifierError, resident_id_check_digit, validate_mobile,
                          validate_resident_id, validate_uscc)

__all__ = ["Classified", "MAX_QUERY_LENGTH", "classify", "upgrade_old_resident_id", "prefix_upper_bound",
           "escape_like", "looks_like_name", "name_prefixes"]

MAX_QUERY_LENGTH = 64

# What a classified query is searched as. "text" is searched as names and addresses.
KINDS = ("empty", "id_number", "credit_code", "phone", "door_code", "document", "text")

_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20
_RID = re.compile(r"[0-9]{17}[0-9X]")
_OLD_RID = re.compile(r"[0-9]{15}")
_USCC = re.compile(f"[{USCC_ALPHABET}]{{18}}")
_DOCUMENT = re.compile(r"(?=.*[A-Z])(?=.*[0-9])[A-Z0-9]{5,20}")
_LANDLINE = re.compile(r"0[1-9][0-9]{1,2}-?[0-9]{7,8}")
_PHONE_CHARS = re.compile(r"[+0-9][0-9 \-()]*")
# Characters a name may hold: CJK ideographs, the middle dot of transcribed names (阿卜杜·艾力),
# Latin letters and spaces (foreign names).
_NAME = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff·•.A-Za-z ]+")


@dataclass(frozen=True)
class Classified:
    """A classified query. `kinds` are what to search, in order (a door code may also be a passport
    number); `values[kind]` the exact values to look up for an exact kind, and `text` the
    normalised text for "text". `note` is a machine code for what the answer should say beyond the
    results (e.g. 'rid_checksum': the check digit is wrong; 'old_rid': a 15-digit number was
    converted)."""
    kinds: tuple[str, ...]
    text: str
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    note: str | None = None

    @property
    def kind(self) -> str:
        """The main kind (what the page says it searched as)."""
        return self.kinds[0]


def _fold(text: str) -> str:
    return (text or "").translate(_FULLWIDTH).strip()


def upgrade_old_resident_id(number: str) -> str:
    """The 18-character resident ID for a 15-digit first-generation number.

    Rule (GB 11643-1999 and the Ministry of Public Security's upgrade of 1999): the 6-digit region
    code is kept, the 2-digit birth year YY becomes 19YY (15-digit numbers were issued only to
    people born in the 1900s), the birth month and day and the 3-digit serial are kept, and the
    ISO 7064 MOD 11-2 check character is appended. Raises ValueError unless given 15 digits."""
    if not _OLD_RID.fullmatch(number or ""):
        raise ValueError("a first-generation resident ID has 15 digits")
    body = number[:6] + "19" + number[6:]
    return body + resident_id_check_digit(body)


def _compact(text: str) -> str:
    """The query without spaces and hyphens, upper-cased: how identifiers are compared."""
    return re.sub(r"[\s\-]+", "", text).upper()


def _identifier(compact: str, text: str) -> Classified | None:
    if len(compact) == 18 and _RID.fullmatch(compact):
        try:
            validate_resident_id(compact)
        except IdentifierError as error:
            try:
                code = validate_uscc(compact)
            except IdentifierError:
                return Classified(("id_number",), text, {"id_number": (compact,)}, note=f"rid_{error.code}")
            return Classified(("credit_code",), text, {"credit_code": (code,)})
        return Classified(("id_number",), text, {"id_number": (compact,)})
    if _OLD_RID.fullmatch(compact) and compact[:2] in PROVINCE_CODES:
        return Classified(("id_number",), text, {"id_number": (upgrade_old_resident_id(compact), compact)},
                          note="old_rid")
    if len(compact) == 18 and _USCC.fullmatch(compact):
        try:
            validate_uscc(compact)
        except IdentifierError as error:
            return Classified(("credit_code",), text, {"credit_code": (compact,)}, note=f"uscc_{error.code}")
        return Classified(("credit_code",), text, {"credit_code": (compact,)})
    return None


def _phone(text: str) -> Classified | None:
    if not _PHONE_CHARS.fullmatch(text):
        return None
    plain = re.sub(r"[\s()]+", "", text)
    try:
        return Classified(("phone",), text, {"phone": (validate_mobile(plain),)})
    except IdentifierError:
        pass
    if _LANDLINE.fullmatch(plain):
        digits = plain.replace("-", "")
        # Landlines are stored as typed (forms.phone): with or without the hyphen after the area code.
        area = 3 if digits[1] in "12" else 4
        return Classified(("phone",), text, {"phone": (digits, f"{digits[:area]}-{digits[area:]}")})
    return None


def classify(query: str) -> Classified:
    """Classify a typed query (see the module docstring for the rules, in order)."""
    text = re.sub(r"\s+", " ", _fold(query))[:MAX_QUERY_LENGTH]
    if not text:
        return Classified(("empty",), "")
    compact = _compact(text)
    found = _identifier(compact, text) or _phone(text)
    if found is not None:
        return found
    code = normalise_door_code(text)
    if len(code) == 8 and is_valid_door_code(code):
        kinds = ("door_code", "document") if _DOCUMENT.fullmatch(compact) else ("door_code",)
        return Classified(kinds, text, {"door_code": (code,), "document": (compact,)})
    if compact.isascii() and _DOCUMENT.fullmatch(compact):
        return Classified(("document",), text, {"document": (compact,)})
    return Classified(("text",), text)


def looks_like_name(text: str) -> bool:
    """Whether text can be (the start of) a person's name: ideographs, a middle dot, Latin letters
    and spaces only. "3组27号" or "玉屏路5号" are addresses, never names. A single Latin letter is
    not searched as a name (it would list every foreign name in scope)."""
    if not text or not _NAME.fullmatch(text):
        return False
    return not (text.isascii() and len(text.strip()) < 2)


def name_prefixes(text: str) -> tuple[str, ...]:
    """The prefixes a name search looks for. Chinese names have no case: the text itself. A Latin
    name (foreign residents' names are registered as written in the passport) is also looked for
    in capitals and in title case, so "john" finds JOHN SMITH and John Smith; each is an indexed
    prefix, where a case-insensitive comparison would read every name."""
    if not text.isascii():
        return (text,)
    return tuple(dict.fromkeys((text, text.upper(), text.title())))


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix`, in code-point order:
    the prefix with its last character incremented. `name >= prefix AND name < bound` is then the
    same as "name starts with prefix" and can use an ordinary (binary-ordered) index."""
    if not prefix:
        raise ValueError("an empty prefix has no upper bound")
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        raise ValueError("the prefix ends with the last code point")
    return prefix[:-1] + chr(last + 1)


def escape_like(text: str, escape: str = "\\") -> str:
    """Text for a LIKE pattern, with the wildcards % and _ (and the escape character) escaped."""
    return (text.replace(escape, escape * 2).replace("%", escape + "%").replace("_", escape + "_"))
