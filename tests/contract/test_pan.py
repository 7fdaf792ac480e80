"""Card-number detection: every written form of a PAN refused, ordinary ids accepted."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from securebank.contract import PAN_IN_FIELD_NAME, Rejection, parse_label, parse_transaction
from securebank.pan import (
    ISSUER_RANGES,
    contains_pan,
    is_card_number,
    issuer_network,
    luhn_valid,
)
from tests.builders import T0, txn

#: Published test card numbers of the networks (they pass IIN, length and Luhn).
TEST_CARDS = {
    "Visa 16": "4111111111111111",
    "Visa 13": "4222222222222",
    "Visa 19": "4000000000000000006",
    "Mastercard 5-series": "5500005555555559",
    "Mastercard 2-series": "2223000048400011",
    "American Express": "378282246310005",
    "Discover": "6011000990139424",
    "Diners Club 14": "36227206271667",
    "JCB": "3530111333300000",
    "UnionPay": "6212345678901265",
    "Maestro": "6759649826438453",
    "Mir": "2200000000000004",
}


def written_forms(pan: str) -> dict[str, str]:
    """The ways people and systems write a card number (24 forms, after the tester's 22)."""
    fours = [pan[i : i + 4] for i in range(0, len(pan), 4)]

    def joined(sep: str) -> str:
        return sep.join(fours)

    fullwidth = "".join(chr(0xFF10 + int(d)) for d in pan)
    arabic_indic = "".join(chr(0x0660 + int(d)) for d in pan)
    half = len(pan) // 2
    return {
        "plain": pan,
        "spaces": joined(" "),
        "dashes": joined("-"),
        "dots": joined("."),
        "underscores": joined("_"),
        "colons": joined(":"),
        "slashes": joined("/"),
        "backslashes": joined("\\"),
        "tabs": joined("\t"),
        "newlines": joined("\n"),
        "no-break spaces": joined("\u00a0"),
        "en dashes": joined("\u2013"),
        "spaced dashes": joined(" - "),
        "mixed": "".join(g + " -._:/"[i % 6] for i, g in enumerate(fours))[:-1],
        "two halves": f"{pan[:half]} {pan[half:]}",
        "one digit per group": " ".join(pan),
        "full-width digits": fullwidth,
        "Arabic-Indic digits": arabic_indic,
        "token prefix": f"tok_{pan}",
        "in an id": f"txn-20260301-{pan}",
        "in a sentence": f"card {joined(' ')} exp 12/27",
        "glued to letters": f"PAN{pan}X",
        "in a URL path": f"/cards/{pan}/charge",
        "grouped with a prefix word": f"card-{joined('-')}",
    }


@pytest.mark.parametrize("digits", list(TEST_CARDS.values()))
def test_published_test_cards_are_card_numbers(digits):
    assert luhn_valid(digits) and issuer_network(digits) and is_card_number(digits)


def test_issuer_ranges_hold_only_lengths_13_to_19():
    for low, high, lengths, _ in ISSUER_RANGES:
        assert low <= high and len(low) == len(high) and set(lengths) <= set(range(13, 20))


@pytest.mark.parametrize(
    "digits",
    [
        "4111111111111112",  # Luhn fails
        "1234567812345678",  # no network issues prefix 12
        "411111111111111",  # Visa issues 13, 16, 19 digits, not 15
        "3411111111111111",  # Amex is 15 digits
        "7000000000000000",  # MII 7 (petroleum) is not a card scheme here
        "41111111111111111111",  # 20 digits
    ],
)
def test_numbers_without_a_network_length_or_check_digit_are_not_card_numbers(digits):
    assert not is_card_number(digits)


@pytest.mark.parametrize("name", list(TEST_CARDS))
def test_every_written_form_of_a_pan_is_refused(name):
    forms = written_forms(TEST_CARDS[name])
    assert len(forms) >= 22
    missed = [form for form, text in forms.items() if not contains_pan(text)]
    assert missed == []


def test_printed_layouts_of_other_lengths_are_refused():
    assert contains_pan("card 3782 822463 10005")  # Amex 4-6-5
    assert contains_pan("ref:3622 720627 1667")  # Diners 4-6-4
    assert contains_pan("pan-4000-0000-0000-0000-006")  # Visa 19 as 4-4-4-4-3


@pytest.mark.parametrize(
    "text",
    [
        "tok_0001234",
        "4111111111111113",  # fails Luhn
        "411111111111",  # 12 digits: too short
        "2026-03-02T12:00:00Z",
        "2026-03-02T12:00:00.123456+00:00",
        "550e8400-e29b-41d4-a716-446655440000",
        "txn-20260301-000123",
        "1764115200123-042",
        "99994111111111111111",  # one 20-digit group: not cut into windows
        "acct 123456789012345678901234",
        "",
    ],
)
def test_ordinary_ids_and_numbers_are_not_pans(text):
    assert not contains_pan(text)


def _valid_record(**fields):
    record = txn("t1", T0, **fields)
    record["event_time"] = T0.isoformat()
    return record


@pytest.mark.parametrize("form", list(written_forms(TEST_CARDS["Visa 16"]).items()))
@pytest.mark.parametrize("field", ["transaction_id", "card_id", "merchant_id", "device_id"])
def test_the_contract_refuses_every_form_in_every_field_and_never_echoes_it(form, field):
    name, text = form
    result = parse_transaction(_valid_record(**{field: text}))
    assert isinstance(result, Rejection), name
    assert result.as_dict()[field].startswith("looks like a raw card number")
    _assert_not_echoed(result, text)


@pytest.mark.parametrize("form", list(written_forms(TEST_CARDS["Visa 16"]).values()))
def test_a_pan_used_as_a_json_key_is_refused_and_not_echoed(form):
    result = parse_transaction({**_valid_record(), form: "x"})
    assert isinstance(result, Rejection)
    assert PAN_IN_FIELD_NAME in result.as_dict()
    _assert_not_echoed(result, form)
    nested = parse_transaction(_valid_record(device_id={form: 1}))
    assert isinstance(nested, Rejection) and "device_id" in nested.as_dict()
    _assert_not_echoed(nested, form)


def test_a_pan_as_a_json_number_or_in_several_fields_is_refused_field_by_field():
    record = _valid_record(card_id=4111111111111111, transaction_id="4111-1111-1111-1111")
    result = parse_transaction(json.loads(json.dumps(record)))
    assert isinstance(result, Rejection)
    assert {"card_id", "transaction_id"} <= set(result.as_dict())
    _assert_not_echoed(result, "4111111111111111")
    label = parse_label(
        {
            "transaction_id": "4111 1111 1111 1111",
            "is_fraud": True,
            "reported_at": "2026-01-01T00:00:00Z",
        }
    )
    assert isinstance(label, Rejection) and "transaction_id" in label.as_dict()


def test_an_oversized_value_is_refused_without_being_scanned_or_echoed():
    result = parse_transaction(_valid_record(merchant_id="7" * 4_900_000))
    assert isinstance(result, Rejection)
    assert result.as_dict() == {"merchant_id": "longer than 1024 characters"}


def _assert_not_echoed(rejection: Rejection, text: str) -> None:
    rendered = json.dumps(rejection.as_dict(), ensure_ascii=False) + str(rejection)
    assert text not in rendered and not contains_pan(rendered)


# Property tests: any card number of any network, written with any separators, is found; ids of
# the common formats are not refused.

separators = st.text(alphabet=" \t-_.:/\\,|+\u00a0\u2013", min_size=1, max_size=3)


@st.composite
def card_numbers(draw):
    low, high, lengths, _ = draw(st.sampled_from(ISSUER_RANGES))
    prefix = str(draw(st.integers(int(low), int(high)))).zfill(len(low))
    length = draw(st.sampled_from(lengths))
    body = prefix + "".join(
        draw(st.sampled_from("0123456789")) for _ in range(length - len(prefix) - 1)
    )
    check = next(d for d in "0123456789" if luhn_valid(body + d))
    return body + check


@st.composite
def written(draw):
    pan = draw(card_numbers())
    cuts = sorted(draw(st.sets(st.integers(1, len(pan) - 1), max_size=len(pan) - 1)))
    parts = [pan[a:b] for a, b in zip([0, *cuts], [*cuts, len(pan)], strict=True)]
    text = parts[0]
    for part in parts[1:]:
        text += draw(separators) + part
    before = draw(st.sampled_from(["", " ", "pan=", '"', "(", "card: ", "\n"]))
    after = draw(st.sampled_from(["", " ", '"', ")", ";", " exp", "\n"]))
    return pan, before + text + after


@settings(deadline=None)  # timing is not what these test
@given(written())
def test_property_any_card_number_written_with_any_separators_is_found(case):
    pan, text = case
    assert is_card_number(pan)
    assert contains_pan(text), repr(text)


@settings(deadline=None)  # timing is not what these test
@given(card_numbers(), st.sampled_from(["tok_", "txn-20260301-", "id:", "card"]))
def test_property_an_unbroken_card_number_is_found_inside_any_id(pan, prefix):
    assert contains_pan(f"{prefix}{pan}") and contains_pan(f"{prefix}{pan}z")


@settings(deadline=None)  # timing is not what these test
@given(card_numbers())
def test_property_a_wrong_check_digit_is_never_a_card_number(pan):
    wrong = pan[:-1] + str((int(pan[-1]) + 1) % 10)
    assert not is_card_number(wrong) and not contains_pan(wrong)


@settings(deadline=None)  # timing is not what these test
@given(
    st.dates(min_value=T0.date().replace(year=1990), max_value=T0.date().replace(year=2099)),
    st.integers(0, 999_999),
)
def test_property_prefix_date_sequence_ids_are_never_refused(day, seq):
    assert not contains_pan(f"txn-{day:%Y%m%d}-{seq:06d}")
    assert not contains_pan(f"{day:%Y%m%d}-{seq:06d}")


# 2001-09-09 to 2039-09-18: from 2 221 000 000 000 ms (May 2040) on, `<epoch ms>-NNN` has the
# Mastercard 2-series prefix and 16 digits, and one in ten would be a valid card number.
@settings(deadline=None)  # timing is not what these test
@given(st.integers(10**12, 2_200_000_000_000), st.integers(0, 999))
def test_property_epoch_millisecond_ids_are_never_refused(epoch_ms, seq):
    assert not contains_pan(f"{epoch_ms}-{seq:03d}") and not contains_pan(str(epoch_ms))


@settings(deadline=None)  # timing is not what these test
@given(st.integers(10**19, 10**40))
def test_property_digit_runs_longer_than_19_are_never_searched_for_windows(number):
    assert not contains_pan(str(number)) and not contains_pan(f"acct-{number}")


@settings(deadline=None)  # timing is not what these test
@given(st.integers(10**18, 10**19 - 1))
def test_property_a_19_digit_id_is_refused_exactly_when_it_is_a_card_number(number):
    assert contains_pan(str(number)) == is_card_number(str(number))


@pytest.mark.parametrize("form", list(written_forms(TEST_CARDS["Visa 16"]).values()))
def test_raw_json_text_with_escaped_digits_is_caught(form):
    # What a dead-letter queue would hold as raw bytes: json.dumps escapes non-ASCII digits.
    raw = json.dumps({"card_id": form})
    assert contains_pan(raw)
    escaped = "".join(
        f"\\u{ord(c):04x}" if c.isdigit() else c for c in json.dumps(form, ensure_ascii=False)[1:-1]
    )
    assert contains_pan('{"card_id": "' + escaped + '"}')
