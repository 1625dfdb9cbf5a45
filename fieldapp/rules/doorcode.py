"""Door codes: the short code printed on a door plate (门牌二维码 label).

A collector reads the code aloud or types it on a phone, so it is short,
random and self-checking. The QR code itself carries a separate long
unguessable token (:func:`new_door_token`); the short code only identifies
the door, it is not a secret.

Format
------
8 characters: 7 random payload characters + 1 check character, displayed as
two groups of four, e.g. ``K7M3-Q9PX``.

Alphabet (31 characters)
------------------------
``0123456789ABCDEFGHJKMNPQRSTWXYZ``: Crockford's Base32 (which drops I, L, O
and U because they are mistaken for 1, 1, 0 and V) minus **V** as well:

* V is confused with U in handwriting and on worn plates, and Mandarin has
  no V sound (pinyin keyboards even type ü with it), so it is misheard when
  read aloud;
* dropping one symbol makes the alphabet size the prime 31, which the check
  scheme below needs.

Input is normalised like Crockford decoding: NFKC (full-width characters
from Chinese input methods become ASCII), upper-case, spaces and hyphens
removed, O -> 0, I and L -> 1. U and V are simply invalid.

Check character: weighted sum modulo the prime 31
-------------------------------------------------
With values v0..v7 (v7 the check character, each in 0..30) and weights
w_i = 8 - i (8, 7, ..., 1), a code is valid iff

    sum(w_i * v_i) == 0  (mod 31)

and the check value ``-sum(w_i * v_i for i < 7) mod 31`` is always in 0..30,
so it always has a character. Proof that it detects errors (31 is prime, so
a product of two numbers that are non-zero mod 31 is non-zero mod 31):

* a single substitution v -> v' at position i changes the sum by
  w_i * (v' - v); 1 <= w_i <= 8 and 0 < |v' - v| <= 30, both non-zero mod 31;
* swapping positions i != j with v_i != v_j changes it by
  (w_i - w_j) * (v_j - v_i); 0 < |w_i - w_j| <= 7 and 0 < |v_j - v_i| <= 30.

So every single substitution and every transposition of two different
characters (adjacent or not, the check character included) is rejected.

Why not ISO 7064 hybrid MOD (M+1, M) (``stdnum.iso7064.mod_37_36`` with an
``alphabet``)? Each step ``s -> ((s or M) * 2 mod (M+1) + c) mod M`` is a
bijection on states when M+1 is odd, so it does catch all substitutions, but
an exhaustive check of all (state, c, d) triples finds states where
swapping two consecutive values does not change the result: 64 triples for
M = 32 (Crockford, MOD 33,32) and 72 even for M = 36 (MOD 37,36, prime 37).
Examples: ``HGFF3BP1`` and ``GHFF3BP1`` are both valid under MOD 33,32 with
the Crockford alphabet; ``7G92M45R`` and ``7G92M54R`` both under standard
MOD 37,36. About one random code in a few hundred has such a blind spot. A
pure prime-modulus system (MOD 37-2) would be sound but needs a 37th check
symbol. The tests re-run both the proof and the counterexample.

Pure functions: no Flask, no database. Uniqueness of codes among houses
is the caller's job (unique constraint, retry on collision); with 31**7
(about 2.75e10) payloads, the chance that a town of 11,000 doors has a
collision at all is about 0.2%.
"""

from __future__ import annotations

import secrets
import unicodedata

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTWXYZ"
MODULUS = len(ALPHABET)  # 31, prime: the proof above depends on it
PAYLOAD_LENGTH = 7
CODE_LENGTH = PAYLOAD_LENGTH + 1
GROUP_SIZE = 4
DOOR_TOKEN_BYTES = 20  # 160 bits, above the 128-bit minimum

_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# Crockford's decoding aliases (what people type for what they see), and
# separators people type or paste (spaces, every dash-like character), which
# are deleted. One translate table does both.
_ALIASES = {"O": "0", "I": "1", "L": "1"}
_SEPARATORS = " \t\r\n-_\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u00b7"
_CLEAN = str.maketrans({**_ALIASES, **{sep: None for sep in _SEPARATORS}})

# Position weights 8, 7, ..., 1 (the check character has weight 1): distinct
# and non-zero mod 31, which is all the proof needs.
_WEIGHTS = tuple(range(CODE_LENGTH, 0, -1))


def _weighted_sum(values: list[int]) -> int:
    # zip stops at the shorter side: a 7-value payload gets weights 8..2.
    return sum(w * v for w, v in zip(_WEIGHTS, values)) % MODULUS


def check_character(payload: str) -> str:
    """The check character for a normalised 7-character payload."""
    if len(payload) != PAYLOAD_LENGTH or any(ch not in _VALUE for ch in payload):
        raise ValueError(f"payload must be {PAYLOAD_LENGTH} characters from {ALPHABET}")
    values = [_VALUE[ch] for ch in payload]
    # The check character has weight 1, so it must cancel the partial sum.
    return ALPHABET[-_weighted_sum(values) % MODULUS]


def new_door_code(rng=secrets) -> str:
    """A new random door code, normalised (no hyphen), e.g. ``K7M3Q9PX``.

    ``rng`` is anything with a ``choice(sequence)`` method: the ``secrets``
    module by default; tests may pass ``random.Random(seed)``. The code is
    never sequential and never derived from the address or any person.
    """
    payload = "".join(rng.choice(ALPHABET) for _ in range(PAYLOAD_LENGTH))
    return payload + check_character(payload)


def normalise_door_code(text: str | None) -> str:
    """Canonical form of typed input, NOT validated.

    NFKC (full-width to ASCII), upper-case, spaces and hyphens removed,
    O -> 0, I/L -> 1. ``None`` gives ``""``.
    """
    if text is None:
        return ""
    if text.isascii():
        # NFKC is the identity on ASCII: one cheap pass is already stable.
        return _strip_and_alias(text.upper())
    # Upper-casing and dropping separators can create new NFKC compositions
    # (e.g. a letter and a combining mark that were split by a hyphen), so
    # repeat until stable: normalising a normalised code changes nothing.
    # In practice one or two passes; the bound only guards against surprises.
    for _ in range(8):
        step = _normalise_once(text)
        if step == text:
            break
        text = step
    return text


def _normalise_once(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).upper()
    return _strip_and_alias(unicodedata.normalize("NFKC", _strip_and_alias(text)))


def _strip_and_alias(text: str) -> str:
    return text.translate(_CLEAN)


def is_valid_door_code(text: str | None) -> bool:
    """True iff the normalised input has 8 alphabet characters and a
    correct check character."""
    code = normalise_door_code(text)
    if len(code) != CODE_LENGTH:
        return False
    try:
        values = [_VALUE[ch] for ch in code]
    except KeyError:  # a character outside the alphabet, e.g. U or V
        return False
    return _weighted_sum(values) == 0


def format_door_code(code: str) -> str:
    """Display form ``XXXX-XXXX`` of a valid code (any accepted input form).

    Raises ValueError for an invalid code, so a mistyped code is never
    shown as if it were real.
    """
    normal = normalise_door_code(code)
    if not is_valid_door_code(normal):
        raise ValueError(f"not a valid door code: {code!r}")
    return normal[:GROUP_SIZE] + "-" + normal[GROUP_SIZE:]


def new_door_token() -> str:
    """An unguessable URL-safe token for the door's QR link
    (``secrets.token_urlsafe``, 160 bits, 27 characters)."""
    return secrets.token_urlsafe(DOOR_TOKEN_BYTES)
