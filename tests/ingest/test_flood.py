"""The per-meter flood limit (token bucket)."""

from ingest.flood import FloodLimit


def test_burst_then_rate():
    lim = FloodLimit(burst_msgs=5, rate_per_s=1.0)
    assert [lim.allow("a", 100.0) for _ in range(7)] == [True] * 5 + [False] * 2
    assert lim.allow("b", 100.0)  # other meters are not affected
    assert not lim.allow("a", 100.5)
    assert lim.allow("a", 101.6)  # one token back after 1 s
    assert not lim.allow("a", 101.6)
    assert [lim.allow("a", 1000.0) for _ in range(6)] == [True] * 5 + [False]  # refills only to the burst


def test_defaults_let_a_full_buffer_replay_through():
    lim = FloodLimit(burst_msgs=1000, rate_per_s=1.0)
    assert all(lim.allow("a", 0.0) for _ in range(24))  # 1,440 buffered readings in batches of 60


def test_table_is_bounded():
    lim = FloodLimit(burst_msgs=1, rate_per_s=0.001, max_meters=10)
    for i in range(100):
        lim.allow(f"m{i}", 0.0)
    assert len(lim._buckets) == 10
