"""Recordings: every received payload comes back byte for byte (or as its canonical JSON)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.recording import RecordedMessage, canonical_json, decode_line, encode_line

T = 1_795_615_200.25


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_round_trip(payload: bytes) -> None:
    back = decode_line(encode_line(RecordedMessage(T, "bw/v1/x", payload)))
    if back.payload != payload:  # only a JSON object may be re-encoded, and then canonically
        assert back.payload == canonical_json(__import__("json").loads(payload))
    assert back.recv_time == T and back.topic == "bw/v1/x"


def test_objects_are_stored_as_payload_and_the_rest_as_text_or_base64() -> None:
    cases = {
        b'{"a": 1}': "payload",
        b"[1]": "payload_text",
        b'{"a":1e400}': "payload_text",  # overflows to inf: no JSON form, keep the text
        b'{"a":NaN}': "payload_text",
        b'{"a":1,"a":2}': "payload_text",
        b"\xff\xfe": "payload_b64",
    }
    for payload, key in cases.items():
        line = encode_line(RecordedMessage(T, "t", payload))
        assert f'"{key}"' in line, (payload, line)
        back = decode_line(line).payload
        assert back == (b'{"a":1}' if key == "payload" else payload)
