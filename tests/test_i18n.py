"""The UI catalog: Chinese first, English switchable.

Source strings (msgids) are English; the Simplified Chinese catalog is
fieldapp/translations/zh_Hans_CN/LC_MESSAGES/messages.po, compiled to messages.mo next to it (the
.mo is committed: the app reads it at runtime). English needs no catalog: it shows the msgids.

After adding or changing a string wrapped in _() / _l() / gettext / {{ _("...") }}, run from the
repository root:

    .venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 -k lazy_pgettext:1c,2 --sort-output -o /tmp/fieldapp-messages.pot .
    .venv/bin/pybabel update -i /tmp/fieldapp-messages.pot -d fieldapp/translations --ignore-obsolete
    # translate every empty msgstr and review (then delete the "#, fuzzy" line of) every fuzzy entry in
    # fieldapp/translations/zh_Hans_CN/LC_MESSAGES/messages.po; keep each %(name)s and %% as in the msgid
    .venv/bin/pybabel compile -d fieldapp/translations --statistics

The keywords are not a babel.cfg setting, so they are on the command line (and in KEYWORD_SPECS
below, which the tests use to extract the same messages in-process). The .pot is a temporary file:
do not commit it.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from .builders import make_account, make_house, make_person, make_town

ROOT = Path(__file__).resolve().parents[1]
BABEL_CFG = ROOT / "babel.cfg"
LOCALE = "zh_Hans_CN"
CATALOG_DIR = ROOT / "fieldapp" / "translations" / LOCALE / "LC_MESSAGES"
PO_PATH = CATALOG_DIR / "messages.po"
MO_PATH = CATALOG_DIR / "messages.mo"
KEYWORD_SPECS = ["_l", "lazy_gettext", "lazy_ngettext:1,2", "lazy_pgettext:1c,2"]

UPDATE_COMMANDS = (
    "Update the catalog from the repository root:\n"
    "  .venv/bin/pybabel extract -F babel.cfg " + " ".join(f"-k {k}" for k in KEYWORD_SPECS)
    + " --sort-output -o /tmp/fieldapp-messages.pot .\n"
    "  .venv/bin/pybabel update -i /tmp/fieldapp-messages.pot -d fieldapp/translations --ignore-obsolete\n"
    f"  then translate the entries named above in {PO_PATH.relative_to(ROOT)} (no fuzzy flags, keep %(name)s and %%)\n"
    "  .venv/bin/pybabel compile -d fieldapp/translations --statistics\n"
    "(see the docstring of tests/test_i18n.py)"
)

# A printf-style conversion as Python's % operator reads it, %% included.
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")


def _key(message_id, context=None):
    """Catalog key: the singular msgid (plurals are tuples), with its context when there is one."""
    singular = message_id[0] if isinstance(message_id, (tuple, list)) else message_id
    return (context, singular)


def _strings(value) -> list[str]:
    if isinstance(value, (tuple, list)):
        return [s or "" for s in value]
    return [value or ""]


@pytest.fixture(scope="module")
def extracted() -> dict:
    """{(context, msgid): (msgid or plural tuple, 'file:line')} from the source, as pybabel extract sees it."""
    with open(BABEL_CFG, encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, str(BABEL_CFG))
    keywords = {**DEFAULT_KEYWORDS, **parse_keywords(KEYWORD_SPECS)}
    found = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
            ROOT, method_map, options_map, keywords=keywords):
        found.setdefault(_key(message, context), (message, f"{filename}:{lineno}"))
    return found


@pytest.fixture(scope="module")
def po():
    with open(PO_PATH, "rb") as f:
        return read_po(f, locale=LOCALE)


@pytest.fixture(scope="module")
def mo():
    with open(MO_PATH, "rb") as f:
        return read_mo(f)


def _messages(catalog):
    return [m for m in catalog if m.id]


# --- (a) every source string is translated, and the catalog holds nothing else ---------------------

def test_extraction_finds_the_ui_strings(extracted):
    """Guards the extraction itself: Python (_, _l) and Jinja ({{ _() }}) strings are all seen."""
    ids = {key[1] for key in extracted}
    assert {"Sign in", "Collection ID", "PIN", "Houses", "Village group (组)", "Mark as moved out",
            "%(n)s houses.", "Not found"} <= ids
    assert len(extracted) > 200
    places = {where.split(":")[0] for _msg, where in extracted.values()}
    assert "fieldapp/errors.py" in places and "fieldapp/templates/base.html" in places


def test_every_source_string_has_a_chinese_translation(extracted, po):
    assert not po.fuzzy, "The catalog header is marked fuzzy; pybabel compile would skip the whole file.\n" \
        + UPDATE_COMMANDS
    problems = []
    for key, (message, where) in sorted(extracted.items(), key=lambda item: item[1][1]):
        entry = po.get(key[1], context=key[0])
        if entry is None:
            problems.append(f"missing      {where}  {message!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy        {where}  {message!r}")
        elif not all(s.strip() for s in _strings(entry.string)):
            problems.append(f"untranslated {where}  {message!r}")
    assert not problems, (f"{len(problems)} UI string(s) lack a Chinese translation in "
                          f"{PO_PATH.relative_to(ROOT)}:\n  " + "\n  ".join(problems) + "\n" + UPDATE_COMMANDS)


def test_catalog_has_no_obsolete_or_unused_entries(extracted, po):
    obsolete = [m.id for m in po.obsolete.values()]
    unused = [m.id for m in _messages(po) if _key(m.id, m.context) not in extracted]
    assert not obsolete, f"Obsolete (#~) entries in the catalog: {obsolete}\n" + UPDATE_COMMANDS
    assert not unused, f"Catalog entries no longer in the source: {unused}\n" + UPDATE_COMMANDS


def test_no_translation_is_still_english(po):
    """Every msgstr contains Chinese, except strings that are only codes/placeholders."""
    han = re.compile(r"[\u4e00-\u9fff]")
    english = [m.id for m in _messages(po) if not all(han.search(s) for s in _strings(m.string))]
    assert not english, f"These msgstrs have no Chinese in them: {english}\n" + UPDATE_COMMANDS


# --- (b) the committed .mo matches the .po ---------------------------------------------------------

def _tuple(value):
    # Plural entries: the .po reader gives tuples, the .mo reader lists (unhashable, and never equal).
    return tuple(value) if isinstance(value, list) else value


def test_compiled_catalog_matches_the_po(po, mo):
    expected = {(m.context, _tuple(m.id)): _tuple(m.string) for m in _messages(po) if not m.fuzzy}
    compiled = {(m.context, _tuple(m.id)): _tuple(m.string) for m in _messages(mo)}
    missing = sorted(str(k[1]) for k in expected.keys() - compiled.keys())
    extra = sorted(str(k[1]) for k in compiled.keys() - expected.keys())
    differ = sorted(str(k[1]) for k in expected.keys() & compiled.keys() if expected[k] != compiled[k])
    assert not (missing or extra or differ), (
        f"{MO_PATH.relative_to(ROOT)} is out of date with the .po: missing {missing}, extra {extra}, "
        f"different {differ}.\nRun: .venv/bin/pybabel compile -d fieldapp/translations --statistics\n"
        + UPDATE_COMMANDS)
    assert len(compiled) == len(_messages(po))


def test_compiled_catalog_declares_its_language(mo):
    assert str(mo.locale) == LOCALE
    assert mo.plural_forms.startswith("nplurals=1;")


# --- (c) placeholders survive translation ----------------------------------------------------------

def test_placeholders_match(po):
    problems = []
    for m in _messages(po):
        wanted = sorted(PLACEHOLDER.findall(_strings(m.id)[0]))
        for translated in _strings(m.string):
            got = sorted(PLACEHOLDER.findall(translated))
            stray = "%" in PLACEHOLDER.sub("", translated)
            if got != wanted or stray:
                problems.append(f"{m.id!r}: wants {wanted}, msgstr {translated!r} has {got}"
                                + (" and a lone %" if stray else ""))
    assert not problems, "Placeholders differ between msgid and msgstr (a lone % must be %%):\n  " \
        + "\n  ".join(problems)


def test_translations_format_like_their_msgids(po):
    """Jinja's gettext always applies %, and so does auth.account_message: every msgstr must format."""
    for m in _messages(po):
        names = re.findall(r"%\((\w+)\)", _strings(m.id)[0])
        values = {name: "X" for name in names}
        for source, translated in zip(_strings(m.id), _strings(m.string)):
            formatted = translated % values  # raises on a broken placeholder
            assert ("%" in formatted) == ("%" in source % values), (m.id, translated)


# --- (d) the app loads the catalog: Chinese by default, English on request -------------------------

def _visible(page: str) -> str:
    """The page's text as a person reads it: tags dropped, entities decoded, blanks collapsed."""
    page = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _untranslated(text: str, po) -> list[str]:
    """Catalog msgids (those without placeholders) that appear verbatim in the text, as whole words."""
    found = []
    for m in _messages(po):
        msgid = _strings(m.id)[0]
        if "%" in msgid:
            continue
        if re.search(r"(?<![A-Za-z])" + re.escape(msgid) + r"(?![A-Za-z])", text):
            found.append(msgid)
    return found


def test_flask_babel_finds_the_catalog_for_the_default_locale(app):
    from flask_babel import get_locale, gettext, lazy_gettext
    with app.test_request_context("/"):
        assert str(get_locale()) == LOCALE
        assert gettext("Sign in") == "登录"
        assert str(lazy_gettext("Collection ID")) == "采集证号"
        assert gettext("%(n)s houses.", n=3) == "共 3 户房屋。"


def test_login_page_is_chinese_by_default_and_english_after_switching(client, po):
    page = client.get("/login")
    assert page.status_code == 200
    assert '<html lang="zh-Hans-CN"' in page.text
    assert "<h1>登录</h1>" in page.text
    assert "<title>登录 · 三实信息采集</title>" in page.text
    assert '<label for="collection_id">采集证号</label>' in page.text
    assert '<label for="pin">密码</label>' in page.text
    assert _untranslated(_visible(page.text), po) == []
    # The switch offers English, labelled in English.
    assert 'action="/language/en"' in page.text and 'lang="en">English</button>' in page.text

    switched = client.post("/language/en", data={"next": "/login"})
    assert switched.status_code == 303 and switched.headers["Location"].endswith("/login")

    page = client.get("/login")
    assert '<html lang="en"' in page.text
    assert "<h1>Sign in</h1>" in page.text
    assert '<label for="collection_id">Collection ID</label>' in page.text
    for chinese in ("登录", "采集证号", "密码", "三实"):
        assert chinese not in page.text
    assert 'action="/language/zh_Hans_CN"' in page.text and 'lang="zh-Hans-CN">中文</button>' in page.text

    client.post("/language/zh_Hans_CN", data={"next": "/login"})
    assert "<h1>登录</h1>" in client.get("/login").text


def test_unsupported_language_keeps_chinese(client):
    client.post("/language/fr", data={"next": "/login"})
    page = client.get("/login").text
    assert '<html lang="zh-Hans-CN"' in page and "<h1>登录</h1>" in page


def test_lazy_messages_are_translated_per_request(client):
    """Messages built at import time (_l) are translated when shown, in the request's language."""
    page = client.get("/villages", follow_redirects=True)
    assert "请先用采集证号登录。" in page.text  # login_manager.login_message
    wrong = client.post("/login", data={"collection_id": "NOBODY-1", "pin": "whatever-1"})
    assert wrong.status_code == 401
    assert "采集证号或密码错误，请核对后重试。" in wrong.text  # auth.ACCOUNT_MESSAGES
    client.post("/language/en", data={"next": "/login"})
    wrong = client.post("/login", data={"collection_id": "NOBODY-1", "pin": "whatever-1"})
    assert "Collection ID or PIN is wrong. Check both and try again." in wrong.text


# --- (e) a signed-in collector works in Chinese -----------------------------------------------------

def test_collectors_house_list_is_chinese(ctx, login, po):
    town, (village, _other) = make_town()
    visited = make_house(village, number="1", collected=True)
    make_house(village, number="2")
    make_person(visited)
    collector = make_account(town, "collector", [village])
    village_id, house_id = village.id, visited.id
    client = login(collector)
    page = client.get(f"/villages/{village_id}/houses")
    assert page.status_code == 200
    text = _visible(page.text)
    assert '<html lang="zh-Hans-CN"' in page.text
    assert "<h1>东村</h1>" in page.text
    assert "共 2 户房屋。" in text
    assert "已登记 · 居住 1 人" in text  # the visited house
    assert "尚未上门" in text  # the other one
    for chinese in ("退出登录", "房屋", "地址或门牌码", "查找", "新增列表中没有的房屋"):
        assert chinese in text
    assert _untranslated(text, po) == [], "English left on the collector's house list"

    house = client.get(f"/houses/{house_id}")
    text = _visible(house.text)
    assert house.status_code == 200
    for chinese in ("门牌码", "房屋用途", "居住人员", "户籍人口", "新增人员", "本地址的单位"):
        assert chinese in text
    assert _untranslated(text, po) == [], "English left on the house page"
