"""What every template may use: language switch data, permission checks, masking and code names."""
from __future__ import annotations

from babel.lists import format_list
from flask import current_app
from flask_babel import format_date, format_datetime, get_locale
from flask_login import current_user

from .i18n import html_lang, ui_lang
from .rules import codes
from .rules.address import ADDRESS_PARTS, format_address
from .rules.divisions import division_name
from .rules.identifiers import mask_id, mask_phone
from .rules.permissions import can

LANGUAGE_NAMES = {"zh_Hans_CN": "中文", "en": "English"}


def init_app(app):
    @app.context_processor
    def _globals():
        current = str(get_locale())
        other = next(code for code in current_app.config["LANGUAGES"] if not current.startswith(code[:2]))
        return {
            "html_lang": html_lang(current),
            "other_lang": other,
            "other_lang_tag": html_lang(other),
            "other_lang_name": LANGUAGE_NAMES.get(other, other),
            "can": lambda permission: current_user.is_authenticated and can(current_user.role, permission),
            "codes": codes,
        }

    app.jinja_env.filters.update(
        address=lambda house: format_address({n: getattr(house, n) for n in ADDRESS_PARTS}),
        list_of=lambda items: format_list(list(items), locale=get_locale()) if items else "",
        division=lambda code: division_name(code) or "",
        mask_id=lambda v: mask_id(v) if v else "",
        mask_phone=lambda v: mask_phone(v) if v else "",
        code_name=lambda code, table: codes.name(getattr(codes, table), code, ui_lang(), default=code or "—"),
        datetime=lambda v: format_datetime(v, "yyyy-MM-dd HH:mm") if v else "",
        date=lambda v: format_date(v, "yyyy-MM-dd") if v else "",
    )
