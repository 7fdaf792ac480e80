import json
import math

import pytest

from securebank.inference.payload import MAX_PAYLOAD_BYTES, PayloadError, parse_payload

NAMES = ["a", "b", "c"]


def test_csv_rows_in_manifest_order_with_empty_as_missing():
    x = parse_payload(b"1,2,3\n4,,6\n", "text/csv; charset=utf-8", NAMES)
    assert x.shape == (2, 3) and x[0].tolist() == [1, 2, 3]
    assert math.isnan(x[1, 1])


def test_json_records_by_feature_name():
    body = json.dumps({"instances": [{"a": 1, "c": 3}, {"b": None}]}).encode()
    x = parse_payload(body, "application/json", NAMES)
    assert x[0, 0] == 1 and math.isnan(x[0, 1]) and x[0, 2] == 3
    assert all(math.isnan(v) for v in x[1])


@pytest.mark.parametrize(
    ("body", "kind", "status", "message"),
    [
        (b"1,2\n", "text/csv", 400, "row 1 has 2 values, the model takes 3"),
        (b"1,x,3\n", "text/csv", 400, "row 1: a value is not a number"),
        (b"", "text/csv", 400, "empty payload"),
        (b"{", "application/json", 400, "malformed JSON"),
        (b'{"instances": [{"d": 1}]}', "application/json", 400, "unknown feature 'd'"),
        (b'[{"a": "1"}]', "application/json", 400, "a must be a number"),
        (b"1,2,3", "text/plain", 415, "unsupported content type 'text/plain'"),
        (b"1,2,3", None, 415, "unsupported content type '(none)'"),
    ],
)
def test_bad_payloads_get_a_status_and_a_reason(body, kind, status, message):
    with pytest.raises(
        PayloadError, match=message.replace("(", r"\(").replace(")", r"\)")
    ) as error:
        parse_payload(body, kind, NAMES)
    assert error.value.status == status


def test_payload_size_limit():
    with pytest.raises(PayloadError) as error:
        parse_payload(b"1" * (MAX_PAYLOAD_BYTES + 1), "text/csv", NAMES)
    assert error.value.status == 413
