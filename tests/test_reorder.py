"""Reorder buffer: nothing lost, released in observation order, late items flagged."""

from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.reorder import ReorderBuffer


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 100), st.floats(0, 5)), min_size=1, max_size=60),
    st.floats(0, 3),
    st.integers(1, 20),
)
def test_every_item_leaves_once_and_in_order_unless_late(items, latency, cap):
    buf: ReorderBuffer[int] = ReorderBuffer(latency, max_items=cap)
    released: list[tuple[int, bool]] = []
    now = 0.0
    for i, (obs, delay) in enumerate(sorted(items, key=lambda x: x[0] + x[1])):
        now = max(now, obs + delay)  # receipt clock never runs backwards
        due, late = buf.push(obs, i, now)
        released += [(x, late and k == 0) for k, x in enumerate(due)]
    released += [(x, False) for x in buf.drain()]
    ids = [x for x, _ in released]
    assert sorted(ids) == list(range(len(items)))  # nothing lost, nothing twice
    obs_of = {i: obs for i, (obs, _) in enumerate(sorted(items, key=lambda x: x[0] + x[1]))}
    in_order = [obs_of[x] for x, late in released if not late]
    # Items that were not late leave in observation order, except those forced out by the cap.
    if buf.forced_early == 0:
        assert in_order == sorted(in_order)


def test_item_waits_for_latency_then_leaves():
    buf: ReorderBuffer[str] = ReorderBuffer(0.5)
    assert buf.push(10.0, "a", now=10.1) == ([], False)
    assert buf.next_due() == 10.5
    assert buf.release(10.49) == []
    assert buf.push(9.9, "b", now=10.2) == ([], False)  # earlier observation overtakes
    assert buf.release(10.5) == ["b", "a"]


def test_late_item_is_returned_at_once_and_flagged():
    buf: ReorderBuffer[str] = ReorderBuffer(0.2)
    buf.push(10.0, "a", now=10.0)
    assert buf.release(10.2) == ["a"]
    due, late = buf.push(9.0, "old", now=10.3)
    assert late and due == ["old"]


def test_full_buffer_releases_oldest_early_and_counts_it():
    buf: ReorderBuffer[int] = ReorderBuffer(100.0, max_items=3)
    out = []
    for i in range(5):
        out += buf.push(float(i), i, now=float(i))[0]
    assert out == [0, 1] and buf.forced_early == 2 and len(buf) == 3


def test_not_before_holds_an_item_and_those_behind_it() -> None:
    buf: ReorderBuffer[str] = ReorderBuffer(latency_s=0.1)
    assert buf.push(10.0, "a", now=20.0, not_before=20.5) == ([], False)  # due long ago, held to 20.5
    assert buf.push(10.5, "b", now=20.0) == ([], False)  # behind "a" in order: waits with it
    assert buf.next_due() == 20.5
    assert buf.release(20.4) == []
    assert buf.release(20.5) == ["a", "b"]


def test_a_bound_lets_an_item_leave_before_its_not_before_time() -> None:
    """The pipeline steps a scan that arrived already due at once (bound: the next housekeeping's
    horizon) while its publication still waits for ``not_before``."""
    buf: ReorderBuffer[str] = ReorderBuffer(latency_s=0.1)
    assert buf.push(10.0, "a", now=20.0, not_before=20.5) == ([], False)
    assert buf.release(20.1, bound=20.4) == []  # the bound does not reach it
    assert buf.release(20.1, bound=21.0) == ["a"]
    assert buf.push(20.2, "b", now=20.25, bound=21.0) == ([], False)  # its wait is not over
    assert buf.push(9.0, "c", now=20.25, bound=21.0) == (["c"], True)  # observed before "a" left: late, back at once
