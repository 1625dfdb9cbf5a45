"""Where a page may send the browser next (`?next=` after sign-in, the language switch's `next`).

Rule: only a same-site path. The target must start with a single "/" and, after percent-decoding
(repeatedly, as a chain of servers and browsers might) and Unicode compatibility folding (a
full-width "／" becomes "/"), still:
- start with "/" but not "//" (a scheme-relative URL names another host) nor "/\\";
- contain no backslash (browsers read "\\" as "/"), no whitespace and no control or invisible
  format character (tabs and newlines are dropped by browsers, "/\\t/evil" becomes "//evil", and a
  newline in a Location header is an error);
- have no scheme and no host.
Anything else is refused (None), and the caller falls back to its own page. Pure: no Flask here.
"""
from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

MAX_LENGTH = 2048
_DECODE_ROUNDS = 4  # more layers of encoding than this is not a real link


def _forbidden_character(text: str) -> bool:
    # Cc control, Cf format (zero-width space, bidi marks), Z* separators (any space), and "\".
    return any(ch == "\\" or ch.isspace() or unicodedata.category(ch)[0] in "CZ" for ch in text)


def _is_same_site_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith(("//", "/\\")) or _forbidden_character(text):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None) -> str | None:
    """`target` if it is a same-site path by the rule above, else None."""
    if not target or len(target) > MAX_LENGTH:
        return None
    form = target
    for _ in range(_DECODE_ROUNDS):
        if not (_is_same_site_path(form) and _is_same_site_path(unicodedata.normalize("NFKC", form))):
            return None
        decoded = unquote(form)
        if decoded == form:
            return target
        form = decoded
    return None
