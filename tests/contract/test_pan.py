import pytest

from securebank.pan import contains_pan, luhn_valid


@pytest.mark.parametrize(
    "digits", ["4111111111111111", "5500005555555559", "378282246310005", "6011000990139424"]
)
def test_known_test_card_numbers_pass_luhn(digits):
    assert luhn_valid(digits)


@pytest.mark.parametrize("digits", ["4111111111111112", "1234567812345678", "4111111111111113"])
def test_wrong_check_digit_fails_luhn(digits):
    assert not luhn_valid(digits)


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "card 4111111111111111 used",
        "tok_4111111111111111",
        "99994111111111111111",  # a PAN inside a longer run of digits
    ],
)
def test_pan_is_found_wherever_it_hides(text):
    assert contains_pan(text)


@pytest.mark.parametrize(
    "text",
    [
        "tok_0001234",
        "tx7x000000123",
        "4111111111111113",  # fails Luhn, and so does every 13-19 digit part of it
        "411111111111",  # 12 digits: too short for a PAN
        "2026-03-02T12:00:00Z",
        "",
    ],
)
def test_tokens_and_short_or_invalid_numbers_are_not_pans(text):
    assert not contains_pan(text)
