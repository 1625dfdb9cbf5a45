"""Door codes: alphabet, check character, normalisation, tokens."""

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.iso7064 import mod_37_36

from fieldapp.rules.doorcode import (
    ALPHABET,
    CODE_LENGTH,
    MODULUS,
    PAYLOAD_LENGTH,
    check_character,
    format_door_code,
    is_valid_door_code,
    new_door_code,
    new_door_token,
    normalise_door_code,
)

CROCKFORD32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _codes(count, seed):
    rng = random.Random(seed)
    return [new_door_code(rng) for _ in range(count)]


def _single_errors(code):
    """Every single substitution and every adjacent transposition of two
    different characters."""
    for i, original in enumerate(code):
        for ch in ALPHABET:
            if ch != original:
                yield code[:i] + ch + code[i + 1:]
    for i in range(len(code) - 1):
        a, b = code[i], code[i + 1]
        if a != b:
            yield code[:i] + b + a + code[i + 2:]


# --- alphabet ------------------------------------------------------------------

def test_alphabet_is_prime_sized_and_unambiguous():
    assert MODULUS == len(ALPHABET) == len(set(ALPHABET)) == 31
    assert all(ch not in ALPHABET for ch in "ILOUV")
    assert ALPHABET == CROCKFORD32.replace("V", "")


def test_generated_codes_are_well_formed_and_valid():
    for code in _codes(200, seed=1):
        assert len(code) == CODE_LENGTH
        assert set(code) <= set(ALPHABET)
        assert is_valid_door_code(code)
    assert len(set(_codes(2000, seed=2))) == 2000  # random, not sequential
    assert is_valid_door_code(new_door_code())  # default rng: secrets


# --- error detection -----------------------------------------------------------

def test_every_single_error_is_rejected_exhaustively():
    # 2000 codes x (8 x 30 substitutions + up to 7 swaps): about 1.5 s.
    codes = _codes(2000, seed=7)
    checked = 0
    for code in codes:
        for wrong in _single_errors(code):
            assert not is_valid_door_code(wrong), (code, wrong)
            checked += 1
    assert checked > 2000 * 8 * 30


def test_detection_proof_over_all_value_pairs():
    # The weighted sum changes by w_i*(b-a) for a substitution and by
    # (w_i-w_j)*(b-a) for a transposition; neither may vanish mod 31.
    weights = range(CODE_LENGTH, 0, -1)
    diffs = [b - a for a in range(MODULUS) for b in range(MODULUS) if a != b]
    for w in weights:
        assert all(w * d % MODULUS for d in diffs)
    for wi in weights:
        for wj in weights:
            if wi != wj:
                assert all((wi - wj) * d % MODULUS for d in diffs)


def test_non_adjacent_transpositions_are_rejected_too():
    for code in _codes(300, seed=11):
        for i in range(CODE_LENGTH):
            for j in range(i + 2, CODE_LENGTH):
                if code[i] != code[j]:
                    swapped = list(code)
                    swapped[i], swapped[j] = swapped[j], swapped[i]
                    assert not is_valid_door_code("".join(swapped))


def test_iso7064_hybrid_misses_some_adjacent_transpositions():
    # Why the module does not use MOD 33,32 or MOD 37,36: documented examples.
    assert mod_37_36.is_valid("HGFF3BP1", alphabet=CROCKFORD32)
    assert mod_37_36.is_valid("GHFF3BP1", alphabet=CROCKFORD32)
    assert mod_37_36.is_valid("7G92M45R") and mod_37_36.is_valid("7G92M54R")


@pytest.mark.parametrize("m", [32, 36])
def test_iso7064_hybrid_state_space_has_transposition_blind_spots(m):
    def step(state, c):
        return (((state or m) * 2) % (m + 1) + c) % m

    blind = [
        (s, c, d)
        for s in range(m) for c in range(m) for d in range(m)
        if c != d and step(step(s, c), d) == step(step(s, d), c)
    ]
    assert len(blind) == 2 * m


# --- normalisation and formatting ---------------------------------------------------

def test_normalisation_of_confusables_and_separators():
    code = new_door_code(random.Random(3))
    shown = format_door_code(code)
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}", shown)
    assert normalise_door_code(shown) == code
    assert normalise_door_code(" k7m3 - q9px ") == "K7M3Q9PX"
    assert normalise_door_code("o0-Il-lI") == "0011" + "11"
    assert normalise_door_code("ＡＢ１２－３４") == "AB1234"  # full-width input method
    assert normalise_door_code(None) == ""


def test_confusable_input_validates():
    # Find codes containing 0 and 1, type them with O and I/L instead.
    for code in _codes(3000, seed=5):
        if "0" in code and "1" in code:
            typed = code.replace("0", "o").replace("1", "l").lower()
            typed = typed[:4] + " - " + typed[4:]
            assert is_valid_door_code(typed)
            assert format_door_code(typed) == format_door_code(code)
            return
    pytest.fail("no sample code with both 0 and 1")


def test_invalid_inputs():
    code = new_door_code(random.Random(4))
    assert not is_valid_door_code(code[:-1])
    assert not is_valid_door_code(code + "0")
    assert not is_valid_door_code("")
    assert not is_valid_door_code(None)
    assert not is_valid_door_code(code[:3] + "U" + code[4:])
    assert not is_valid_door_code(code[:3] + "V" + code[4:])
    assert not is_valid_door_code(code[:3] + "*" + code[4:])
    with pytest.raises(ValueError):
        format_door_code(code[:-1])
    with pytest.raises(ValueError):
        check_character("ABC")
    with pytest.raises(ValueError):
        check_character("ABCDEFV")


# --- tokens -------------------------------------------------------------------------

def test_tokens_are_unique_long_and_url_safe():
    tokens = [new_door_token() for _ in range(5000)]
    assert len(set(tokens)) == len(tokens)
    for token in tokens[:100]:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
        assert len(token) * 6 >= 128  # base64url: 6 bits per character


# --- properties ---------------------------------------------------------------------

payloads = st.text(alphabet=ALPHABET, min_size=PAYLOAD_LENGTH, max_size=PAYLOAD_LENGTH)


@settings(max_examples=300, deadline=None)
@given(payload=payloads, position=st.integers(0, CODE_LENGTH - 1), replacement=st.sampled_from(ALPHABET))
def test_check_character_property(payload, position, replacement):
    code = payload + check_character(payload)
    assert is_valid_door_code(code)
    assert is_valid_door_code(format_door_code(code).lower())
    changed = code[:position] + replacement + code[position + 1:]
    assert is_valid_door_code(changed) == (changed == code)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=20))
def test_normalise_is_idempotent_and_never_crashes(text):
    once = normalise_door_code(text)
    assert normalise_door_code(once) == once
    is_valid_door_code(text)
