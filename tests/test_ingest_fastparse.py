"""The orjson parse of inbound payloads is taken only when it gives exactly what the checked ``json.loads`` gives."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.ingest import MAX_DEPTH, _loads_checked, _loads_plain, _Reject

WS = st.sampled_from(["", "", "", " ", "\n", "\t ", "\r\n"])
NUMBERS = (
    st.integers(min_value=-(2**70), max_value=2**70).map(str)
    | st.floats(allow_nan=False, allow_infinity=False).map(repr)
    | st.from_regex(r"-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,24})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)
)
STRINGS = st.text(alphabet=st.sampled_from('ab:"\\ \u00e9\U0001f600{[\x01'), max_size=6).map(json.dumps)
STRINGS |= st.sampled_from(
    ['"\\ud800"', '"\\u003a"', '"a\\":"', '": x"', '"\\\\"', '"\x01"']
)
KEYS = st.sampled_from(["a", "b", "c:", "d \\u0022"]).map(lambda k: f'"{k}"')


def _obj(members: list[tuple[str, str, str, str]]) -> str:
    return "{" + ",".join(f"{w1}{k}{w2}:{w3}{v}" for k, w1, w2, (w3, v) in members) + "}"


JSON_TEXT = st.recursive(
    st.sampled_from(["true", "false", "null"]) | NUMBERS | STRINGS,
    lambda inner: st.lists(inner, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]")
    | st.lists(st.tuples(KEYS, WS, WS, st.tuples(WS, inner)), max_size=4).map(_obj),
    max_leaves=25,
)


def _same(a: object, b: object) -> bool:
    """Equal with types kept (1 is not 1.0, -0.0 is not 0.0) and dict key order compared."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)  # type: ignore[index]
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))  # type: ignore[arg-type]
    if isinstance(a, float):
        return repr(a) == repr(b)
    return a == b


def _reference(text: str) -> object:
    try:
        return _loads_checked(text, text.encode("utf-8", "surrogatepass"))
    except _Reject as rej:
        return rej


def _check(text: str) -> None:
    payload = text.encode("utf-8")
    fast = _loads_plain(payload)
    if fast is not None:
        ref = _reference(text)
        assert not isinstance(ref, _Reject), (text, ref.code, ref.detail)
        assert _same(fast, ref), text


@settings(max_examples=1500, deadline=None)
@given(JSON_TEXT, WS, WS)
def test_fast_parse_is_the_checked_parse_or_declines(text: str, before: str, after: str) -> None:
    _check(before + text + after)


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1,"a":2}',
        '{"a" :1,"a":2}',
        '{"a"\t:1,"a"\n:2}',
        '{"a":{"b":1,"b":1}}',
        '[{"a":1},{"a":1,"a":1}]',
        '{"a":"x:y","a":1}',
        '{"seq":12345678901234567890}',
        '{"seq":-9223372036854775809}',
        '{"x":1e400}',
        '{"x":NaN}',
        '{"x":"\\ud800"}',
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        '{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1),
        "\ufeff{}",
    ],
)
def test_what_the_fast_parse_must_leave_to_the_checked_one(text: str) -> None:
    """Duplicates (however spaced), 64-bit overflow, non-finite numbers, lone surrogates, depth."""
    assert _loads_plain(text.encode()) is None


def test_fast_parse_takes_ordinary_messages() -> None:
    text = '{"sensor_id":"d-1","time":"2026-11-25T14:00:00.000Z","detections":[{"lat":49.0,"lon":-122.8,"count":2}]}'
    assert _same(_loads_plain(text.encode()), json.loads(text))
    for deep in ("[" * MAX_DEPTH + "]" * MAX_DEPTH, '{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH):
        assert _loads_plain(deep.encode()) == json.loads(deep)
