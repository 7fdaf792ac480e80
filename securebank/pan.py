"""Detection of raw primary account numbers (PANs) in any written form.

The platform only ever handles tokens; a string that holds a card number is refused before it can
reach storage, logs or an error message. What counts as a card number is what ISO/IEC 7812 and the
card networks make one: 13-19 digits, an issuer prefix (IIN) of a real network with a length that
network issues, and a valid Luhn check digit. Ordinary identifiers (UUIDs, `txn-20260301-000123`,
epoch-millisecond ids) are not card numbers and are not refused.

How digits are read:

* Digit groups are maximal runs of digits (any script: full-width and Arabic-Indic digits count).
* Groups separated by at most three separator characters (whitespace, `-`, `.`, `_`, `:`, `/`,
  `\\`, `,`, `|`, `+` and the Unicode dashes, in any mix) form one written number: `4111 1111 ...`,
  `4111.1111...`, `4111_1111...`, `4111\\t1111...`, `4111 - 1111 ...`.
* A card number is read from whole groups only, never cut out of a longer group: a 24-digit id
  is not searched for a 16-digit window inside it (that refused 95 % of 19-digit account ids and
  most epoch-ms ids). Candidates are (1) any single group of 13-19 digits, wherever it stands
  (`tok_4111111111111111`, `txn-20260301-4111111111111111`); (2) the whole written number when
  it stands on its own, not glued to a word (`41111111 11111111`, `4 1 1 1 ...`); (3) any run of
  groups in a printed card layout, 4-4-4-4, 4-6-5, 4-6-4 or 4-4-4-4-3 (`card-4111-1111-1111-1111`).
  Hyphenated hex ids such as UUIDs hold digit fragments glued to letters, which (2) ignores.

`contains_pan` runs on every string of every transaction: strings under 13 characters return at
once, and everything else is one regular-expression scan plus work only for runs long enough to
hold 13 digits; the work is linear in the text (see benchmarks/pan.py for microseconds per call).
"""

from __future__ import annotations

import re
import unicodedata

#: Characters that may stand between the digit groups of one written number.
_SEPARATOR = r"\s\-_.:/\\,|+\u2010-\u2015\u2212"
#: A written number: digits with runs of up to three separators between them.
_RUN = re.compile(rf"\d++(?:[{_SEPARATOR}]{{1,3}}+\d++)*+")
_GROUP = re.compile(r"\d+")
_JSON_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|[nrtbf/\\\"])")

#: Issuer identification ranges: (lowest prefix, highest prefix, lengths issued, network).
#: From the networks' published IIN ranges (ISO/IEC 7812 registration; major industry identifier
#: is the first digit: 1 airlines, 2 and 5 Mastercard/Mir, 3 travel/entertainment, 4 Visa,
#: 6 banking/merchandising, 8 and 9 national assignments used by card schemes).
_ALL = tuple(range(13, 20))
_16_19 = (16, 17, 18, 19)
ISSUER_RANGES: tuple[tuple[str, str, tuple[int, ...], str], ...] = (
    ("1", "1", (15,), "UATP"),
    ("2200", "2204", _16_19, "Mir"),
    ("2205", "2205", (16,), "BORICA"),
    ("2221", "2720", (16,), "Mastercard"),
    ("300", "305", (14, *_16_19), "Diners Club"),
    ("3095", "3095", (14, *_16_19), "Diners Club"),
    ("34", "34", (15,), "American Express"),
    ("353", "353", (16,), "RuPay"),
    ("356", "356", (16,), "RuPay"),
    ("3528", "3589", _16_19, "JCB"),
    ("357111", "357111", (16,), "LankaPay"),
    ("36", "36", (14, *_16_19), "Diners Club"),
    ("37", "37", (15,), "American Express"),
    ("38", "39", (14, *_16_19), "Diners Club"),
    ("4", "4", (13, 16, 19), "Visa"),
    ("50", "50", _ALL, "Maestro / Verve / GPN"),
    ("51", "55", (16,), "Mastercard"),
    ("56", "58", _ALL, "Maestro / GPN"),
    ("5614", "5614", (16,), "UzCard"),
    ("60", "63", _ALL, "RuPay / Maestro / GPN / UnionPay / Discover"),
    ("6011", "6011", _16_19, "Discover"),
    ("636", "636", _16_19, "InterPayment"),
    ("637", "639", (16,), "InstaPayment"),
    ("644", "649", _16_19, "Discover"),
    ("65", "65", _16_19, "Discover / RuPay / Verve"),
    ("66", "69", _ALL, "Maestro"),
    ("81", "82", _16_19, "UnionPay / RuPay"),
    ("8600", "8600", (16,), "UzCard"),
    ("9792", "9792", (16,), "Troy"),
    ("9860", "9860", (16,), "Humo"),
)
_BY_MII: dict[str, list[tuple[str, str, tuple[int, ...], str]]] = {}
for _entry in ISSUER_RANGES:
    _BY_MII.setdefault(_entry[0][0], []).append(_entry)

_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of ISO/IEC 7812-1 over ASCII digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        total += _DOUBLED[d] if i & 1 else d
    return total % 10 == 0


def issuer_network(digits: str) -> str | None:
    """The network whose IIN range and issued lengths fit these ASCII digits, else None."""
    n = len(digits)
    for low, high, lengths, network in _BY_MII.get(digits[:1], ()):
        if n in lengths and low <= digits[: len(low)] <= high:
            return network
    return None


def is_card_number(digits: str) -> bool:
    """True when `digits` (ASCII, no separators) is a card number: IIN, length and Luhn."""
    return 13 <= len(digits) <= 19 and issuer_network(digits) is not None and luhn_valid(digits)


def _ascii_digits(group: str) -> str:
    return group if group.isascii() else "".join(str(unicodedata.digit(c)) for c in group)


#: How card numbers are printed and written in groups (ISO/IEC 7812 card faces, network
#: conventions): 16 as 4-4-4-4, 15 as 4-6-5 (Amex), 14 as 4-6-4 (Diners), 19 as 4-4-4-4-3.
PRINTED_LAYOUTS = ((4, 4, 4, 4), (4, 6, 5), (4, 6, 4), (4, 4, 4, 4, 3))


def _standalone(text: str, start: int, end: int) -> bool:
    """True when text[start:end] is not glued to a letter or digit on either side: a number of
    its own, not the tail of a word such as a hex id (`...e4850-9731-90246bb...`)."""
    return (start == 0 or not text[start - 1].isalnum()) and (
        end == len(text) or not text[end].isalnum()
    )


def _holds_card_number(groups: list[str], standalone: bool) -> bool:
    # 1. Any single group of 13-19 digits, wherever it stands (`tok_4111111111111111`).
    for group in groups:
        if 13 <= len(group) <= 19 and is_card_number(group):
            return True
    if len(groups) < 2:
        return False
    # 2. The whole written number, when it stands on its own (`4111 1111 1111 1111`,
    #    `41111111-11111111`, `4 1 1 1 ...`).
    if standalone:
        whole = "".join(groups)
        if 13 <= len(whole) <= 19 and is_card_number(whole):
            return True
    # 3. A printed layout anywhere in it (`card-4111-1111-1111-1111`, `12/27 3782 822463 10005`).
    sizes = [len(g) for g in groups]
    for layout in PRINTED_LAYOUTS:
        width = len(layout)
        for i in range(len(groups) - width + 1):
            if tuple(sizes[i : i + width]) == layout:
                candidate = "".join(groups[i : i + width])
                if is_card_number(candidate):
                    return True
    return False


def contains_pan(text: str) -> bool:
    """True when `text` holds a card number in any written form (see the module docstring).

    Raw JSON text is read with its escapes (`\\uXXXX`, `\\t`, `\\n`, ...) decoded too, so a
    record whose digits are escaped is caught before it reaches a dead-letter queue as raw bytes."""
    if len(text) < 13:
        return False
    if "\\" in text and _scan(_JSON_ESCAPE.sub(_unescape, text)):
        return True
    return _scan(text)


def _unescape(match: re.Match[str]) -> str:
    return chr(int(match.group(1), 16)) if match.group(1) else " "


def _scan(text: str) -> bool:
    for match in _RUN.finditer(text):
        start, end = match.span()
        if end - start < 13:
            continue
        groups = _GROUP.findall(match.group())
        if sum(map(len, groups)) < 13:
            continue
        if not match.group().isascii():
            groups = [_ascii_digits(g) for g in groups]
        if _holds_card_number(groups, _standalone(text, start, end)):
            return True
    return False
