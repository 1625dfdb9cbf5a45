"""What a collection ID's PIN/password must be.

Rule: 6 to 64 characters. An all-digit PIN must not be one repeated digit (000000), a straight
run up or down (123456, 987654) or a well-known weak number (from leaked-password top lists and
birthday-shaped patterns like 19900101 would be too many to list; those are allowed). Phones are
shared in the field and PINs are typed in stairwells, so the bar is "not trivially guessed", with
sign-in throttling (accounts.py) doing the rest.
"""
from __future__ import annotations

MIN_LENGTH = 6
MAX_LENGTH = 64
COMMON = frozenset({"123123", "112233", "121212", "123321", "520520", "521521", "666666", "888888",
                    "147258", "147258369", "159357", "123654", "password", "qwerty", "abc123", "a123456"})


def pin_problem(pin: str) -> str | None:
    """None if `pin` is acceptable, else a reason code: 'short', 'long', 'repeated', 'sequence', 'common'."""
    if len(pin) < MIN_LENGTH:
        return "short"
    if len(pin) > MAX_LENGTH:
        return "long"
    if pin.lower() in COMMON:
        return "common"
    if pin.isdigit():
        if len(set(pin)) == 1:
            return "repeated"
        steps = {(int(b) - int(a)) % 10 for a, b in zip(pin, pin[1:])}
        if steps in ({1}, {9}):
            return "sequence"
    return None
