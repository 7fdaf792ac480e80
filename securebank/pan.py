"""Detection of raw primary account numbers (PANs).

A PAN is 13-19 digits passing the Luhn check, possibly grouped with spaces or dashes. The platform
only ever handles tokens; anything that looks like a PAN is rejected before it can reach storage or
logs.
"""

from __future__ import annotations

import re

_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d)*")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def contains_pan(text: str) -> bool:
    """True when `text` holds a 13-19 digit run (optionally grouped) that passes Luhn.

    Every window of 13-19 consecutive digits inside a run is checked, so a PAN embedded in a
    longer number or identifier is caught too. Some long numbers that are not PANs are refused as
    well: identifiers must be tokens, and refusing is the safe side.
    """
    if len(text) < 13:
        return False
    for match in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        n = len(digits)
        if n < 13:
            continue
        for size in range(13, min(n, 19) + 1):
            for start in range(0, n - size + 1):
                if luhn_valid(digits[start : start + size]):
                    return True
    return False
