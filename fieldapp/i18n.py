"""Language choice: Chinese first; English when the user switched (kept in the session)."""
from __future__ import annotations

from flask import current_app, session
from flask_babel import get_locale

SESSION_KEY = "lang"


def select_locale() -> str:
    """The user's explicit choice wins; nothing else (not the browser's Accept-Language), because
    shared phones and English-configured handsets must still open in Chinese by default."""
    choice = session.get(SESSION_KEY)
    if choice in current_app.config["LANGUAGES"]:
        return choice
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def html_lang(locale: str) -> str:
    """BCP 47 tag for <html lang>: zh_Hans_CN -> zh-Hans-CN."""
    return locale.replace("_", "-")


def ui_lang() -> str:
    """'zh' or 'en': the language code tables and the rules' bilingual messages are shown in."""
    return "en" if str(get_locale()).startswith("en") else "zh"
